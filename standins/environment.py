"""The hermetic environment: nothing of the developer's reaches a helper, a client or a service.

Tests, bench and demo scrub the same variables, give each run a HOME of its own with its own XDG
directories and DOCKER_CONFIG, and hand AWS libraries fake keys, empty config files and no
instance metadata, so nothing ever reaches real AWS, a real keyring or a real Docker daemon.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

# AWS's documented example keys: every emulator here accepts them, real AWS never sees them.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Variables of the developer's environment that must never reach a process started here.
# PYTHON* too: a development shell's PYTHONDONTWRITEBYTECODE would leave stale bytecode stale (the
# bench would time compiling), and PYTHON_KEYRING_BACKEND would choose another keyring.
SCRUBBED_PREFIXES = (
    "AWS_",
    "DOCKER_",
    "XDG_",
    "PYTHON",
    "DBUS_",
    "REGISTRY_AUTH_FILE",
    "CONTAINERS_",
)
# A proxy must never see loopback traffic (nor anything else: nothing leaves 127.0.0.1).
SCRUBBED_NAMES = frozenset(
    {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"}
    | {"http_proxy", "https_proxy", "no_proxy", "all_proxy"}
)


def scrubbed_environ(environ: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """`environ` (os.environ by default) without anything that could reach the user's setup."""
    source = os.environ if environ is None else environ
    return {
        name: value
        for name, value in source.items()
        if not name.startswith(SCRUBBED_PREFIXES) and name not in SCRUBBED_NAMES
    }


def hermetic_env(
    home: Path,
    extra: Optional[Mapping[str, str]] = None,
    path_first: Optional[Path] = None,
) -> dict[str, str]:
    """A clean environment under `home`: own XDG dirs and DOCKER_CONFIG, fake AWS, no bus.

    `path_first` goes at the head of PATH (a directory holding the helper under test); `extra`
    is applied last (a Secret Service's bus address, endpoint overrides).
    """
    aws = home / ".aws"
    aws.mkdir(parents=True, exist_ok=True)
    (aws / "config").touch()
    (aws / "credentials").touch()
    path = os.environ.get("PATH", "/usr/bin:/bin")
    env = {
        **scrubbed_environ(),
        **FAKE_AWS_ENV,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "DOCKER_CONFIG": str(home / ".docker"),
        "AWS_CONFIG_FILE": str(aws / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
        "PATH": f"{path_first}{os.pathsep}{path}" if path_first else path,
    }
    env.update(extra or {})
    return env


def endpoint_env(url: str) -> dict[str, str]:
    """Every AWS endpoint the helper may use, pointed at `url`."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ENDPOINT_URL_ECR": url,
        "AWS_ENDPOINT_URL_ECR_PUBLIC": url,
        "AWS_ENDPOINT_URL_STS": url,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": url,
    }


def minimal_environ(home: Path) -> dict[str, str]:
    """PATH and a HOME of the service's own: nothing else of the user's."""
    return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "HOME": str(home)}


def tool_environ(home: Path) -> dict[str, str]:
    """`minimal_environ` plus runtime and temporary directories under `home` (skopeo, registry)."""
    runtime = home / "run"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    return {**minimal_environ(home), "XDG_RUNTIME_DIR": str(runtime), "TMPDIR": str(home)}


# What a new user's shell has not set: every client falls back to its defaults under HOME.
DEFAULT_UNSET = ("DOCKER_CONFIG", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME")


def default_env(
    home: Path,
    runtime_dir: Path,
    extra: Optional[Mapping[str, str]] = None,
    path_first: Optional[Path] = None,
) -> dict[str, str]:
    """`hermetic_env` as a new user has it: no DOCKER_CONFIG, no XDG_CONFIG_HOME and friends,
    no REGISTRY_AUTH_FILE or CONTAINERS_* (scrubbed), and a private runtime directory
    (`runtime_dir`, created 0700), so podman, skopeo and buildah use their default files."""
    env = hermetic_env(home, extra, path_first)
    for name in DEFAULT_UNSET:
        env.pop(name, None)
    runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    env["XDG_RUNTIME_DIR"] = str(runtime_dir)
    return env
