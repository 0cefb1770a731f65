"""`registries import`: move plaintext logins out of Docker's config.json into the keyring."""

from __future__ import annotations

import argparse
from typing import Optional, Union

from docker_credential_convox.errors import HelperError
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.registries import containers, docker_config
from docker_credential_convox.registries.context import Context, is_ecr, url_to_store
from docker_credential_convox.registries.parser import PROG
from docker_credential_convox.server_keys import Server, parse_server

STALE = "stale"  # a plaintext copy of credentials the helper already holds
Login = Union[docker_config.PlaintextLogin, docker_config.UnreadableLogin]


def _in(path: Optional[str]) -> str:
    return f" in {path}" if path else ""


def _plaintext_logins(
    ctx: Context, config: docker_config.DockerConfig
) -> list[tuple[Optional[str], Login]]:
    """Docker's plaintext logins (path None), then those of podman, skopeo and buildah's auth
    files (issue 18: their `login` writes base64 user:password there)."""
    found: list[tuple[Optional[str], Login]] = [
        (None, login) for login in config.plaintext_logins()
    ]
    for path in containers.auth_files(ctx.settings.environ, config.path):
        found.extend((path, login) for login in containers.load(path).plaintext_logins())
    return found


def _triage(
    ctx: Context, config: docker_config.DockerConfig, config_key: str
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
    others = sorted({h for h in helpers.values() if h != docker_config.HELPER_NAME})
    if others:
        return server, f"Docker reads it from docker-credential-{others[0]} (credHelpers)"
    if helpers and server.key in ctx.helper.entries():
        return server, STALE  # Docker already asks the helper, which holds newer credentials
    return server, None


Moved = list[tuple[str, Server, docker_config.PlaintextLogin]]


def _classify(
    ctx: Context, config: docker_config.DockerConfig
) -> tuple[Moved, list[tuple[str, Server]], dict[str, str]]:
    """The logins to move, the stale copies to drop, and the containers auth file each moved
    server's login came from (none for Docker's); a note for each login skipped."""
    moved: Moved = []
    stale: list[tuple[str, Server]] = []
    origins: dict[str, str] = {}
    for path, login in _plaintext_logins(ctx, config):
        if isinstance(login, docker_config.UnreadableLogin):
            ctx.note(f"Skipped {login.config_key}{_in(path)}: {login.reason}.")
            continue
        server, reason = _triage(ctx, config, login.config_key)
        if server is not None and any(server.key == done.key for _, done, _ in moved):
            reason = STALE  # the same registry in two files: the first login read wins
        if server is None or reason not in (None, STALE):
            ctx.note(f"Skipped {login.config_key}{_in(path)}: {reason}.")
        elif reason == STALE:
            stale.append((login.config_key, server))
        else:
            moved.append((login.config_key, server, login))
            if path is not None:
                origins[server.key] = path
    return moved, stale, origins


def run(ctx: Context, args: argparse.Namespace) -> int:
    """Move plaintext logins from config.json and the containers tools' auth files into the
    keyring; store first, rewrite after. With --from-helper, another helper's entries instead."""
    if args.from_helper is not None:
        from docker_credential_convox.registries import from_helper

        return from_helper.run(ctx, args.from_helper)
    config = docker_config.DockerConfig.load(ctx.docker_config_dir)
    moved, stale, origins = _classify(ctx, config)
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

    def rewrite(config: docker_config.DockerConfig) -> None:
        for config_key, server, _ in moved:
            config.route(docker_config.config_keys_for(config_key))
            config.strip_secrets(server.key)
        for _, server in stale:
            config.strip_secrets(server.key)

    docker_config.update(ctx.docker_config_dir, rewrite)
    # podman, skopeo and buildah: drop their copies, ask the helper first (issue 18).
    auth_files = containers.auth_files(ctx.settings.environ, config.path)
    for server in [server for _, server, _ in moved] + [server for _, server in stale]:
        containers.strip_secrets(auth_files, server.key)
    for line in containers.wire(ctx.settings.environ):
        ctx.note(line)
    for config_key, server, login in moved:
        shown = "an identity token" if login.username == "<token>" else login.username
        origin = origins.get(server.key)
        source = f" from {origin}" if origin else ""
        ctx.out.write(f"Moved {config_key} ({shown}){source} into the OS keyring.\n")
    for config_key, _ in stale:
        ctx.out.write(
            f"Removed the plaintext password for {config_key}: the helper already holds its "
            "credentials.\n"
        )
    ctx.done()
    return 0
