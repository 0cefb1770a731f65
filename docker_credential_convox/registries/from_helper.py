"""`registries import --from-helper NAME`: copy every entry of docker-credential-NAME into ours.

The other helper is asked as Docker asks it (`list`, then `get` of each server), every answer is
read before anything is stored, and a failure of any of them is one line with nothing changed.
Then each entry is stored through our helper, Docker's config.json routes those registries to
us (replacing `credHelpers` entries that named NAME), and podman, skopeo and buildah are wired as
`registries add` wires them. The old helper's entries are left where they are: erasing them is
the user's call, once every machine reads the registries through ours.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping

from docker_credential_convox.errors import HelperError
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.registries import containers, docker_config
from docker_credential_convox.registries.context import Context, config_path, is_ecr, url_to_store
from docker_credential_convox.registries.errors import UsageError
from docker_credential_convox.server_keys import Server, parse_server

HELPER_TIMEOUT = 60.0  # seconds for one call; pass may wait on gpg
MAX_REASON = 200
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _reason(result: subprocess.CompletedProcess[bytes]) -> str:
    """The first line a failed call printed (the Go helpers print errors on stdout), or its code.

    Only from a call that failed: a successful `get`'s output is the secret, never shown."""
    for stream in (result.stderr, result.stdout):
        for line in stream.decode("utf-8", "replace").splitlines():
            if line.strip():
                return line.strip()[:MAX_REASON]
    return f"exit status {result.returncode}"


class OtherHelper:
    """docker-credential-NAME on PATH, run the way Docker runs a helper."""

    def __init__(self, name: str, environ: Mapping[str, str]) -> None:
        self.program = f"docker-credential-{name}"
        found = shutil.which(self.program, path=environ.get("PATH") or os.defpath)
        if found is None:
            raise HelperError(
                f"{self.program} is not on PATH; install it, or give the NAME of a helper "
                "that is (the part after docker-credential-)"
            )
        self.path = found
        self.environ = dict(environ)

    def _call(self, action: str, stdin: str, what: str) -> bytes:
        try:
            result = subprocess.run(
                [self.path, action],
                input=stdin.encode("utf-8"),
                capture_output=True,
                env=self.environ,
                timeout=HELPER_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise HelperError(
                f"{self.program} {what} gave no answer in {HELPER_TIMEOUT:.0f}s; nothing was "
                "imported"
            ) from None
        except OSError as exc:
            raise HelperError(
                f"cannot run {self.path}: {exc.strerror}; nothing was imported"
            ) from None
        if result.returncode != 0:
            raise HelperError(
                f"{self.program} {what} failed: {_reason(result)}; nothing was imported"
            )
        return result.stdout

    def list(self) -> dict[str, str]:
        """Server URL -> username, from `list`."""
        output = self._call("list", "", "list")
        try:
            listing = json.loads(output)
        except ValueError:
            listing = None
        if not isinstance(listing, dict) or not all(isinstance(k, str) for k in listing):
            raise HelperError(
                f"{self.program} list did not answer a JSON object; nothing was imported"
            )
        return {key: str(value) for key, value in listing.items()}

    def get(self, server_url: str) -> tuple[str, str]:
        """(username, secret) of one entry, from `get`."""
        output = self._call("get", server_url, f"get {server_url}")
        try:
            reply = json.loads(output)
            username, secret = reply["Username"], reply["Secret"]
        except (ValueError, KeyError, TypeError):
            raise HelperError(
                f"{self.program} get {server_url} did not answer Username and Secret; nothing "
                "was imported"
            ) from None
        if not isinstance(username, str) or not isinstance(secret, str) or not secret:
            raise HelperError(
                f"{self.program} get {server_url} answered no secret; nothing was imported"
            )
        return username, secret


def _servers(ctx: Context, listing: Mapping[str, str]) -> list[tuple[str, Server]]:
    """The listed servers to copy, one per registry; a note for each one left out."""
    chosen: list[tuple[str, Server]] = []
    for server_url in sorted(listing):
        try:
            server = parse_server(server_url).registry_server()
        except HelperError:
            ctx.note(f"Skipped {server_url}: not a registry name the helper understands.")
            continue
        if is_ecr(server):
            ctx.note(
                f"Skipped {server_url}: ECR credentials are 12-hour tokens; run "
                f"`docker-credential-convox registries add {server.key}` instead."
            )
        elif any(server.key == other.key for _, other in chosen):
            ctx.note(f"Skipped {server_url}: another entry for {server.key} was copied.")
        else:
            chosen.append((server_url, server))
    return chosen


def run(ctx: Context, name: str) -> int:
    """Copy every entry of docker-credential-NAME into ours and route its registries to us."""
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise UsageError("--from-helper takes a helper's NAME, the part after docker-credential-")
    if name == docker_config.HELPER_NAME:
        raise UsageError(f"--from-helper {name} names this helper itself; name another one")
    other = OtherHelper(name, ctx.settings.environ)
    servers = _servers(ctx, other.list())
    docker_config.DockerConfig.load(ctx.docker_config_dir)  # refuse a broken config up front
    copies = [(url, server, *other.get(url)) for url, server in servers]
    if not copies:
        ctx.out.write(f"Nothing to import: {other.program} holds no registry to copy.\n")
        return 0

    stored = 0
    try:
        for url, server, username, secret in copies:
            ctx.helper.store(Credentials(url_to_store(url, server), username, secret))
            stored += 1
    except HelperError as exc:
        raise HelperError(
            f"{exc.message} (stored {stored} of {len(copies)}; Docker's config is unchanged: "
            "run the import again once this is fixed)",
            exc.hint,
        ) from None

    def route(config: docker_config.DockerConfig) -> None:
        for url, server, _, _ in copies:
            config.route(docker_config.config_keys_for(url))
            config.strip_secrets(server.key)

    docker_config.update(ctx.docker_config_dir, route)
    notes: list[str] = []
    for _, server, _, _ in copies:
        notes += containers.wire_registry(ctx.settings.environ, config_path(ctx), server.key)
    for line in dict.fromkeys(notes):
        ctx.note(line)
    for url, _, username, _ in copies:
        shown = (
            "an identity token" if username == docker_config.IDENTITY_TOKEN_USERNAME else username
        )
        ctx.out.write(f"Copied {url} ({shown}) from {other.program} into the OS keyring.\n")
    ctx.out.write(
        f"{other.program} still holds these entries: nothing was erased there "
        f"(`{other.program} erase`, with the server on stdin, removes one once you no longer "
        "need it).\n"
    )
    ctx.done()
    return 0
