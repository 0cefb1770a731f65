"""Looking at a `pass` store and running the tools around it (fixtures_pass makes the store)."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from docker_credential_convox.server_keys import parse_server

PASS_FOLDER = "docker-credential-helpers"  # docker-credential-pass's subfolder of the store
SECRET_STORE = "DOCKER_CREDENTIAL_CONVOX_SECRET_STORE"
GO_PASS_HELPER = "docker-credential-pass"


def run_tool(
    env: Mapping[str, str], *argv: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """A command (gpg, pass, docker-credential-pass) in `env`, bounded, output captured."""
    return subprocess.run(
        list(argv),
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=60,
        check=False,
    )


def kill_agent(gnupg_home: Path) -> None:
    """Stop the gpg-agent of `gnupg_home` (gpg started it on first use)."""
    subprocess.run(
        ["gpgconf", "--kill", "gpg-agent"],
        env={**os.environ, "GNUPGHOME": str(gnupg_home)},
        capture_output=True,
        timeout=30,
        check=False,
    )


def store_dir(env: Mapping[str, str]) -> Path:
    """The password store `pass` uses in `env`."""
    explicit = env.get("PASSWORD_STORE_DIR")
    return Path(explicit) if explicit else Path(env["HOME"]) / ".password-store"


def encoded(server_url: str) -> str:
    """docker-credential-pass's directory name for a server URL: base64url, padded."""
    return base64.urlsafe_b64encode(server_url.encode()).decode()


def pass_logins(env: Mapping[str, str]) -> dict[str, list[str]]:
    """Server URL -> usernames filed in the store's docker-credential-helpers folder."""
    folder = store_dir(env) / PASS_FOLDER
    if not folder.is_dir():
        return {}
    return {
        base64.urlsafe_b64decode(entry.name).decode(): sorted(
            name.removesuffix(".gpg") for name in os.listdir(entry) if name.endswith(".gpg")
        )
        for entry in folder.iterdir()
        if entry.is_dir()
    }


def pass_usernames(env: Mapping[str, str], key: str) -> list[str]:
    """The usernames with a secret in the store for a registry key, under any spelling."""
    found: list[str] = []
    for url, usernames in pass_logins(env).items():
        if parse_server(url).key == key:
            found.extend(usernames)
    return sorted(found)
