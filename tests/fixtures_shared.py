"""Machines of a fleet for the shared-store tests: fresh homes without any keyring, one scope.

- `shared_scope`: a Secrets Manager prefix of this test's own (moto is shared by the session);
- `machine`: a fresh HOME with no Secret Service on any bus (no D-Bus at all), every AWS endpoint
  on the counting proxy in front of moto, the scope set and a runtime directory of its own;
- `new_machine()`: another such machine (another HOME and runtime directory, the same scope).
Test modules load these with `pytest_plugins = ["fixtures_aws", "fixtures_shared"]`.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Callable

import pytest
from support import hermetic_env
from support_shared import RUNTIME_DIR, SHARED

from standins.aws_proxy import AwsProxy
from standins.environment import endpoint_env

Machine = dict[str, str]
NewMachine = Callable[[str], Machine]


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
