"""What every `registries` command works with, and the server names they share."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Optional, TextIO

from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.registries import docker_config
from docker_credential_convox.registries.errors import UsageError
from docker_credential_convox.registries.parser import PROG
from docker_credential_convox.registries.terminal import Terminal
from docker_credential_convox.server_keys import (
    DOCKER_HUB_KEY,
    ECR,
    ECR_PUBLIC,
    Server,
    parse_server,
)
from docker_credential_convox.settings import Settings

if TYPE_CHECKING:
    from docker_credential_convox.helper import Helper

DONE = "Done."


class Context:
    """What every command works with: streams, settings and the helper (built on first use)."""

    def __init__(self, out: TextIO, err: TextIO, stdin: TextIO, environ: Mapping[str, str]):
        self.out = out
        self.err = err
        self.terminal = Terminal(stdin, err)
        self.settings = Settings(environ)
        self.diagnostics = Diagnostics(err, self.settings.debug)
        self._helper: Optional[Helper] = None

    @property
    def helper(self) -> Helper:
        if self._helper is None:
            from docker_credential_convox.helper import Helper

            self._helper = Helper(self.settings, self.diagnostics)
        return self._helper

    @property
    def docker_config_dir(self) -> str:
        return self.settings.docker_config_dir

    def note(self, message: str) -> None:
        """A line for the person at the terminal (stderr: stdout stays for results)."""
        self.err.write(message + "\n")
        self.err.flush()

    def done(self) -> None:
        self.out.write(DONE + "\n")
        self.out.flush()


def server_from(text: str, command: str) -> tuple[str, Server]:
    """The server as typed (trimmed) and parsed; a one-line UsageError when none was typed."""
    typed = text.strip()
    if not typed:
        raise UsageError(f"no server given: `{PROG} {command} SERVER`, e.g. registry.example.com")
    return typed, parse_server(typed)


def url_to_store(typed: str, server: Server) -> str:
    """The ServerURL to store: how docker names the registry (Docker Hub: its index URL)."""
    if server.key == DOCKER_HUB_KEY:
        return docker_config.DOCKER_HUB_SERVER_URL
    return docker_config.config_keys_for(typed)[0]


def is_ecr(server: Server) -> bool:
    """Whether the helper mints tokens for `server` (private ECR or ECR Public)."""
    return server.kind in (ECR, ECR_PUBLIC)


def config_path(ctx: Context) -> str:
    """Docker's config.json, as the notes name it."""
    return os.path.join(ctx.docker_config_dir, docker_config.CONFIG_FILE)
