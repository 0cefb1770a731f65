"""A real `pass` store for one test, and looking at it and running the tools around it.

Fixtures (test modules load them with `pytest_plugins = ["support.pass_store"]`):
- `gpg_key` (session): a GNUPGHOME with one passphrase-less key (gpg takes seconds to make one);
- `pass_env`: a fresh HOME with a copy of that key in `~/.gnupg` (so the gpg-agent that `pass`
  starts lives in that HOME and is killed when the test ends) and `pass init` done. No Secret
  Service is on the bus: nothing here may need a keyring.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from docker_credential_convox.server_keys import parse_server
from support import fail_without, hermetic_env

PASS_FOLDER = "docker-credential-helpers"  # docker-credential-pass's subfolder of the store
SECRET_STORE = "DOCKER_CREDENTIAL_CONVOX_SECRET_STORE"
GO_PASS_HELPER = "docker-credential-pass"
# gpg-agent's socket lives in GNUPGHOME when /run/user/UID is missing: keep the path short.
MAX_GNUPGHOME_LENGTH = 70


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


@pytest.fixture(scope="session")
def gpg_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A GNUPGHOME holding one passphrase-less key, and the key's fingerprint."""
    fail_without("gpg", "gpgconf", "pass")
    home = Path(tempfile.mkdtemp(prefix="gpgkey-"))
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    made = run_tool(
        env,
        "gpg",
        "--batch",
        "--passphrase",
        "",
        "--quick-gen-key",
        "Convox Test <test@example.invalid>",
        "default",
        "default",
        "never",
    )
    assert made.returncode == 0, made
    listed = run_tool(env, "gpg", "--batch", "--with-colons", "--list-secret-keys")
    fingerprint = next(
        line.split(":")[9] for line in listed.stdout.splitlines() if line.startswith("fpr:")
    )
    kill_agent(home)
    yield home, fingerprint
    shutil.rmtree(home, ignore_errors=True)


def gnupg_home_for(home: Path) -> Path:
    """Where a test's gpg keeps its keys: in its HOME, unless that path is too long for a
    socket (then a short directory of its own, removed with the test)."""
    inside = home / ".gnupg"
    if len(str(inside)) <= MAX_GNUPGHOME_LENGTH:
        return inside
    return Path(tempfile.mkdtemp(prefix="gnupg-"))


@pytest.fixture
def pass_env(tmp_path: Path, gpg_key: tuple[Path, str]) -> Iterator[dict[str, str]]:
    """A fresh HOME with an initialised `pass` store (~/.password-store) and the helper set to
    keep its secrets there; no Secret Service anywhere."""
    template, fingerprint = gpg_key
    home = tmp_path / "home"
    home.mkdir()
    (home / ".docker").mkdir()
    gnupg = gnupg_home_for(home)
    shutil.copytree(
        template, gnupg, ignore=shutil.ignore_patterns("S.*", "*.lock"), dirs_exist_ok=True
    )
    gnupg.chmod(0o700)
    env = hermetic_env(home, {"GNUPGHOME": str(gnupg), SECRET_STORE: "pass"})
    try:
        initialised = run_tool(env, "pass", "init", fingerprint)
        assert initialised.returncode == 0, initialised
        yield env
    finally:
        kill_agent(gnupg)
        if gnupg.parent != home:
            shutil.rmtree(gnupg, ignore_errors=True)
