"""The shared-store tests' machines of a fleet, and sharing a registry, and looking at Secrets
Manager directly.

Fixtures (test modules load them with
`pytest_plugins = ["support.aws_emulator", "support.shared"]`):
- `shared_scope`: a Secrets Manager prefix of this test's own (moto is shared by the session);
- `machine`: a fresh HOME with no Secret Service on any bus (no D-Bus at all), every AWS endpoint
  on the counting proxy in front of moto, the scope set and a runtime directory of its own;
- `new_machine()`: another such machine (another HOME and runtime directory, the same scope).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

import pytest

from standins.aws_proxy import AwsProxy
from standins.environment import FAKE_AWS_ENV, endpoint_env
from support import hermetic_env, run_helper_in

SHARED = "DOCKER_CREDENTIAL_CONVOX_SHARED"
MAX_AGE = "DOCKER_CREDENTIAL_CONVOX_SHARED_MAX_AGE"
STALE_FOR = "DOCKER_CREDENTIAL_CONVOX_SHARED_STALE_FOR"
RUNTIME_DIR = "DOCKER_CREDENTIAL_CONVOX_RUNTIME_DIR"
GET_SECRET = "secretsmanager:GetSecretValue"  # as the counting proxy names it
LIST_SECRETS = "secretsmanager:ListSecrets"

Machine = dict[str, str]
NewMachine = Callable[[str], Machine]


def share(
    env: Mapping[str, str], server: str, username: str, secret: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """`registries add SERVER --shared --username U --password-stdin [extra...]`."""
    return run_helper_in(
        env,
        "registries",
        "add",
        server,
        "--shared",
        "--username",
        username,
        "--password-stdin",
        *extra,
        stdin=secret,
    )


def unshare(env: Mapping[str, str], server: str) -> subprocess.CompletedProcess[str]:
    return run_helper_in(env, "registries", "remove", server, "--shared")


def prefix_of(env: Mapping[str, str]) -> str:
    return env[SHARED].partition(":")[2]


def aws_client(service: str, url: str) -> Any:
    """A boto3 client for moto at `url` (the test's own look, not the helper's)."""
    import boto3

    make: Any = boto3.client  # its overloads want a literal service name
    return make(
        service,
        endpoint_url=url,
        region_name=FAKE_AWS_ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def shared_scope() -> str:
    """`secretsmanager:PREFIX` with a prefix no other test uses."""
    return f"secretsmanager:dccx-test/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def new_machine(tmp_path: Path, aws_proxy: AwsProxy, shared_scope: str) -> NewMachine:
    """Make a machine of the fleet: its own HOME and runtime directory, no keyring."""

    def make(name: str) -> Machine:
        home = tmp_path / name
        (home / ".docker").mkdir(parents=True)
        runtime = home / "run"  # made by the helper itself, 0700
        extra = {
            **endpoint_env(aws_proxy.url),
            SHARED: shared_scope,
            RUNTIME_DIR: str(runtime),
        }
        return hermetic_env(home, extra)

    return make


@pytest.fixture
def machine(new_machine: NewMachine) -> Machine:
    """One machine of the fleet (also the operator's, with the fake AWS keys that may write)."""
    return new_machine("machine")
