"""Shared fixtures: a real Secret Service per session, fresh homes per test, the installed helper.

Every test environment is hermetic: a fresh HOME and XDG directories, fake AWS keys with
instance metadata disabled and config files emptied, and nothing but 127.0.0.1 to talk to.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Optional, Union

import pytest

# Session fixtures for the other real services live in modules of their own.
from fixtures_daemons import docker_daemon  # noqa: F401
from fixtures_services import registry, registry_image  # noqa: F401

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
KEYRING_PASSWORD = "test-keyring-password"

# Settings that keep boto3 away from real AWS, whatever the developer's machine has configured.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Variables of the developer's environment that must never leak into a test's helper.
SCRUBBED_PREFIXES = ("AWS_", "DOCKER_", "XDG_", "PYTHON_KEYRING", "DBUS_", "REGISTRY_AUTH_FILE")


def _scrubbed_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}


class SecretService:
    """A private D-Bus session bus with gnome-keyring's Secret Service on it, unlocked."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True)
        self.bus_path = root / "bus"
        self.address = f"unix:path={self.bus_path}"
        self.bus_pid: Optional[int] = None
        self.keyring_process: Optional[subprocess.Popen[bytes]] = None

    @property
    def env(self) -> dict[str, str]:
        """What a client process needs to reach this Secret Service."""
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def start(self, password: str = KEYRING_PASSWORD) -> SecretService:
        out = subprocess.run(
            [
                "dbus-daemon",
                "--session",
                f"--address={self.address}",
                "--fork",
                "--print-pid=1",
                "--nopidfile",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        self.bus_pid = int(out.stdout.split()[0])
        self.start_keyring(password)
        return self

    def start_keyring(self, password: str) -> None:
        """Start gnome-keyring on the bus with `password` on stdin (creates or unlocks `login`)."""
        env = {
            **_scrubbed_environ(),
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_RUNTIME_DIR": str(self.root),
            **self.env,
        }
        self.keyring_process = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert self.keyring_process.stdin is not None
        self.keyring_process.stdin.write(password.encode())
        self.keyring_process.stdin.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._name_has_owner("org.freedesktop.secrets"):
                return
            if self.keyring_process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("gnome-keyring-daemon did not take org.freedesktop.secrets")

    def stop_keyring(self) -> None:
        if self.keyring_process and self.keyring_process.poll() is None:
            self.keyring_process.terminate()
            self.keyring_process.wait(10)
        deadline = time.monotonic() + 10
        while self._name_has_owner("org.freedesktop.secrets") and time.monotonic() < deadline:
            time.sleep(0.05)

    def _name_has_owner(self, name: str) -> bool:
        result = subprocess.run(
            [
                "dbus-send",
                f"--bus={self.address}",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                f"string:{name}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        return "boolean true" in result.stdout

    def stop(self) -> None:
        self.stop_keyring()
        if self.bus_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.bus_pid, signal.SIGTERM)


@contextlib.contextmanager
def private_secret_service(password: str = KEYRING_PASSWORD) -> Iterator[SecretService]:
    """A Secret Service in a fresh directory, stopped and removed afterwards."""
    for tool in ("dbus-daemon", "dbus-send", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run `make test`, which installs it")
    root = Path(tempfile.mkdtemp(prefix="dccx-secrets-"))
    service = SecretService(root)
    try:
        yield service.start(password)
    finally:
        service.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def secret_service() -> Iterator[SecretService]:
    """A real Secret Service (dbus + gnome-keyring), fresh for this test session."""
    with private_secret_service() as service:
        yield service


def hermetic_env(home: Path, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """A clean environment under `home`: own XDG dirs and DOCKER_CONFIG, fake AWS, no bus."""
    aws = home / ".aws"
    aws.mkdir(parents=True, exist_ok=True)
    (aws / "config").touch()
    (aws / "credentials").touch()
    env = {
        **_scrubbed_environ(),
        **FAKE_AWS_ENV,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "DOCKER_CONFIG": str(home / ".docker"),
        "AWS_CONFIG_FILE": str(aws / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
        "PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    env.update(extra or {})
    return env


@pytest.fixture
def helper_env(tmp_path: Path, secret_service: SecretService) -> dict[str, str]:
    """A fresh home for one test, with the session's Secret Service on its bus."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".docker").mkdir()
    return hermetic_env(home, secret_service.env)


Stdin = Union[bytes, str, None]


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


@pytest.fixture
def run_helper(helper_env: dict[str, str]) -> RunHelper:
    """Run the installed `docker-credential-convox ACTION` with stdin in this test's environment."""
    return RunHelper(helper_env)


def keyring_usernames(env: Mapping[str, str], key: str) -> list[str]:
    """Usernames with a secret filed under a registry key, read straight from the Secret Service."""
    result = subprocess.run(
        ["secret-tool", "search", "--all", "service", f"docker-credential-convox:{key}"],
        capture_output=True,
        text=True,
        env=dict(env),
        check=False,
    )
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
