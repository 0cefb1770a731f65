"""Helpers shared by test modules: the helper under test, how to run it and its clients, and
what to look at afterwards. The services themselves are the `standins` package's (at the root of
the checkout); conftest.py and this package's plugins only start and stop them for pytest.

Modules of this package (a plugin is loaded with `pytest_plugins = ["support.NAME"]`):
- `support` (here): the executable under test, running it and clients, what it holds, config.json;
- `support.registries`: the `registries` commands, a real-world config.json, one-line errors;
- `support.ecr`: ECR operation names and keys, `get`/`store`, the token cache and index files;
- `support.shared`: plugin: machines of a fleet (`machine`, `new_machine`, `shared_scope`); and
  sharing a registry, looking at Secrets Manager;
- `support.pass_store`: plugin: a real `pass` store per test (`pass_env`); and looking at it;
- `support.secret_stores`: the SecretStore contract, and the in-memory fake that keeps it;
- `support.aws_emulator`: plugin: moto_server behind the counting proxy (`aws_proxy`, `ecr_env`);
- `support.registry_server`: the session's registry (`registry`, `registry_image`; conftest.py);
- `support.docker_daemon`: the session's Docker daemon (`docker_daemon`; conftest.py).
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Optional, Union

import pytest

from standins.environment import hermetic_env as standin_env
from standins.registry import Registry

NOT_FOUND = "credentials not found in native keychain"
CLIENT_TIMEOUT_SECONDS = 120

# The executable under test: the one installed into this venv, or another installed artifact
# (the .deb, a wheel in a fresh venv, the single-file build) named by DCCX_HELPER.
HELPER = Path(
    os.environ.get("DCCX_HELPER") or Path(sys.executable).parent / "docker-credential-convox"
)

# Clients find the helper on PATH. A directory holding only a link to it goes first, so PATH
# puts nothing else of the helper's directory (say /usr/bin, for the .deb) before the user's tools.
BIN_DIR = Path(tempfile.mkdtemp(prefix="dccx-bin-"))
(BIN_DIR / "docker-credential-convox").symlink_to(HELPER)
atexit.register(shutil.rmtree, BIN_DIR, True)

# scripts/test-artifacts.sh may name one directory where the single file (zipapp) under test
# unpacks its libraries for every test of a run: else each test's fresh HOME unpacks and
# byte-compiles them again (a second a test). The first run keeps tests of its own there.
ZIPAPP_CACHE_DIR = os.environ.get("DCCX_ZIPAPP_CACHE_DIR", "")

Stdin = Union[bytes, str, None]


def hermetic_env(home: Path, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """standins' clean environment under `home`, the helper under test first on PATH."""
    shared = (
        {"DOCKER_CREDENTIAL_CONVOX_ZIPAPP_CACHE_DIR": ZIPAPP_CACHE_DIR} if ZIPAPP_CACHE_DIR else {}
    )
    return standin_env(home, {**shared, **(extra or {})}, path_first=BIN_DIR)


def fail_without(*tools: str) -> None:
    """Fail the test when a tool `make test` installs is missing."""
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run `make test`, which installs it")


def require_tools(*tools: str) -> None:
    """Skip when a client is not installed, with the reason; in CI (CI=true) fail instead."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    message = (
        f"{', '.join(missing)} not installed: run `make test` or scripts/install-system-deps.sh"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


# --- running the helper ----------------------------------------------------------------------


def run_helper_in(
    env: Mapping[str, str], *args: str, stdin: Stdin = b"", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the installed executable the way a client does: argv, stdin bytes, captured output."""
    data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
    result = subprocess.run(
        [str(HELPER), *args],
        input=data,
        capture_output=True,
        env=dict(env),
        timeout=timeout,
        check=False,
    )
    return subprocess.CompletedProcess(
        result.args,
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


class RunHelper:
    """`run_helper("get", "host")`: the installed helper in this test's environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(
        self, action: str, stdin: Stdin = b"", env: Optional[Mapping[str, str]] = None
    ) -> subprocess.CompletedProcess[str]:
        return run_helper_in({**self.env, **(env or {})}, action, stdin=stdin)


def run_client(
    env: Mapping[str, str], *argv: str, stdin: str = "", timeout: float = CLIENT_TIMEOUT_SECONDS
) -> subprocess.CompletedProcess[str]:
    """Run a client command (docker, skopeo, podman...) in `env`, capturing its output."""
    return subprocess.run(
        list(argv),
        input=stdin,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- looking at what the helper holds --------------------------------------------------------


def keyring_usernames(env: Mapping[str, str], key: str) -> list[str]:
    """Usernames with a secret filed under a registry key, read straight from the Secret Service."""
    result = subprocess.run(
        ["secret-tool", "search", "--all", "service", f"docker-credential-convox:{key}"],
        capture_output=True,
        text=True,
        env=dict(env),
        check=False,
    )
    # 0 with no items too; 1 only when no Secret Service answered, which is not "none filed".
    assert result.returncode == 0, result
    return [
        line.split(" = ", 1)[1]
        for line in (result.stdout + result.stderr).splitlines()
        if line.startswith("attribute.username = ")
    ]


def helper_listing(env: Mapping[str, str]) -> dict[str, str]:
    """What the installed helper's `list` answers in `env`."""
    result = run_helper_in(env, "list")
    assert result.returncode == 0, result
    listing: dict[str, str] = json.loads(result.stdout)
    return listing


def stored_credentials(run_helper: RunHelper, server: str) -> Optional[dict[str, str]]:
    """What `get` answers for `server`, or None when it reports credentials not found."""
    return get_reply(run_helper("get", server))


def get_reply(result: subprocess.CompletedProcess[str]) -> Optional[dict[str, str]]:
    """A finished `get`: its credentials, or None for the protocol's not-found answer."""
    if result.returncode == 1 and result.stdout.strip() == NOT_FOUND:
        return None
    assert result.returncode == 0, result
    reply: dict[str, str] = json.loads(result.stdout)
    return reply


def store_as_docker_does(run_helper: RunHelper, server: str, username: str, secret: str) -> None:
    """`store` with the bytes Docker's Go client sends: compact JSON, `<>` escaped, a newline."""
    payload = json.dumps(
        {"ServerURL": server, "Username": username, "Secret": secret}, separators=(",", ":")
    )
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e")
    result = run_helper("store", payload + "\n")
    assert (result.returncode, result.stdout) == (0, ""), result


# --- Docker's config.json --------------------------------------------------------------------


def docker_config_path(env: Mapping[str, str]) -> Path:
    return Path(env["DOCKER_CONFIG"]) / "config.json"


def write_docker_config(env: Mapping[str, str], document: Mapping[str, object]) -> None:
    docker_config_path(env).write_text(json.dumps(document, indent=2))


def assert_config_holds_no_secret(env: Mapping[str, str], registry: Registry) -> None:
    """config.json keeps neither the registry's password nor a basic-auth token of it."""
    text = docker_config_path(env).read_text()
    basic = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    assert registry.password not in text
    assert basic not in text
    entry = json.loads(text).get("auths", {}).get(registry.host, {})
    assert "auth" not in entry
    assert "password" not in entry


def docker_login(
    env: Mapping[str, str], registry: Registry, password: str
) -> subprocess.CompletedProcess[str]:
    """`docker login HOST -u USER --password-stdin` with `password` on stdin."""
    return run_client(
        env,
        "docker",
        "login",
        registry.host,
        "-u",
        registry.username,
        "--password-stdin",
        stdin=password,
    )


def set_environ(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> None:
    """Make os.environ exactly `env` for this test (docker-py and botocore read os.environ)."""
    for name in list(os.environ):
        if name not in env:
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
