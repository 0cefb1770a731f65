"""Shared fixtures: a real Secret Service per session, fresh homes per test, the installed helper.

Every test environment is hermetic (standins.environment): a fresh HOME and XDG directories,
fake AWS keys with instance metadata disabled and config files emptied, and nothing but
127.0.0.1 to talk to. The services are the `standins` package's; the fixtures here and in the
fixtures_*.py plugins only start and stop them for pytest. Helpers that tests share are in
support.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# Session fixtures for the other real services live in modules of their own.
from fixtures_daemons import docker_daemon  # noqa: F401
from fixtures_services import registry, registry_image  # noqa: F401
from support import RunHelper, hermetic_env

from standins import StandInError
from standins.secret_service import SecretService, private_secret_service


@pytest.fixture(scope="session")
def secret_service() -> Iterator[SecretService]:
    """A real Secret Service (dbus + gnome-keyring), fresh for this test session."""
    try:
        with private_secret_service() as service:
            yield service
    except StandInError as exc:
        pytest.fail(f"{exc} (`make test` installs and starts what it needs)")


@pytest.fixture
def helper_env(tmp_path: Path, secret_service: SecretService) -> dict[str, str]:
    """A fresh home for one test, with the session's Secret Service on its bus."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".docker").mkdir()
    return hermetic_env(home, secret_service.env)


@pytest.fixture
def run_helper(helper_env: dict[str, str]) -> RunHelper:
    """Run the installed `docker-credential-convox ACTION` with stdin in this test's environment."""
    return RunHelper(helper_env)
