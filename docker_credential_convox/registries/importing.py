"""`registries import`: move plaintext logins out of Docker's config.json into the keyring."""

from __future__ import annotations

import argparse
from typing import Optional

from docker_credential_convox import dockerconfig
from docker_credential_convox.errors import HelperError
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.registries.context import Context, is_ecr, url_to_store
from docker_credential_convox.registries.parser import PROG
from docker_credential_convox.servers import Server, parse_server

STALE = "stale"  # a plaintext copy of credentials the helper already holds


def _triage(
    ctx: Context, config: dockerconfig.DockerConfig, config_key: str
) -> tuple[Optional[Server], Optional[str]]:
    """The registry of an `auths` entry, and why it is not imported (None: import it)."""
    try:
        # Docker reads an `auths` entry for its host, whatever path its key has.
        server = parse_server(config_key).registry_server()
    except HelperError:
        return None, "not a registry name the helper understands"
    if is_ecr(server):
        return server, (
            f"ECR logins are 12-hour tokens; run `{PROG} add {server.key}` to give the helper "
            "AWS credentials instead"
        )
    helpers = config.helpers_for(server.key)
    others = sorted({h for h in helpers.values() if h != dockerconfig.HELPER_NAME})
    if others:
        return server, f"Docker reads it from docker-credential-{others[0]} (credHelpers)"
    if helpers and ctx.helper.lookup(server) is not None:
        return server, STALE  # Docker already asks the helper, which holds newer credentials
    return server, None


def run(ctx: Context, args: argparse.Namespace) -> int:
    """Move plaintext logins from config.json into the keyring; store first, rewrite after."""
    config = dockerconfig.DockerConfig.load(ctx.docker_config_dir)
    moved: list[tuple[str, Server, dockerconfig.PlaintextLogin]] = []
    stale: list[tuple[str, Server]] = []
    for login in config.plaintext_logins():
        if isinstance(login, dockerconfig.UnreadableLogin):
            ctx.note(f"Skipped {login.config_key}: {login.reason}.")
            continue
        server, reason = _triage(ctx, config, login.config_key)
        if server is not None and reason is None:
            moved.append((login.config_key, server, login))
        elif server is not None and reason == STALE:
            stale.append((login.config_key, server))
        else:
            ctx.note(f"Skipped {login.config_key}: {reason}.")
    if not moved and not stale:
        ctx.out.write(f"Nothing to import: no plaintext passwords in {config.path}.\n")
        return 0

    stored = 0
    try:
        for config_key, server, login in moved:
            ctx.helper.store(
                Credentials(url_to_store(config_key, server), login.username, login.secret)
            )
            stored += 1
    except HelperError as exc:
        raise HelperError(
            f"{exc.message} (stored {stored} of {len(moved)}; {config.path} is unchanged: "
            "run the import again once this is fixed)",
            exc.hint,
        ) from None

    def rewrite(config: dockerconfig.DockerConfig) -> None:
        for config_key, server, _ in moved:
            config.route(dockerconfig.config_keys_for(config_key))
            config.strip_secrets(server.key)
        for _, server in stale:
            config.strip_secrets(server.key)

    dockerconfig.update(ctx.docker_config_dir, rewrite)
    for config_key, _, login in moved:
        shown = "an identity token" if login.username == "<token>" else login.username
        ctx.out.write(f"Moved {config_key} ({shown}) into the OS keyring.\n")
    for config_key, _ in stale:
        ctx.out.write(
            f"Removed the plaintext password for {config_key}: the helper already holds its "
            "credentials.\n"
        )
    ctx.done()
    return 0
