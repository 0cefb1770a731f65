"""Shared fixtures: a real Secret Service per session, fresh homes per test, the installed helper.

Every test environment is hermetic (standins.environment): a fresh HOME and XDG directories,
fake AWS keys with instance metadata disabled and config files emptied, and nothing but
127.0.0.1 to talk to. The services are the `standins` package's; the fixtures here and in the
plugins of the `support` package only start and stop them for pytest. Helpers that tests share
are in the `support` package too (tests/support/__init__.py says which module holds what).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before the first import of the package: its asserts show values, and a module that is both a
# plugin (`pytest_plugins`) and imported by a test module loads once, without a warning.
pytest.register_assert_rewrite("support")

# Session fixtures for the other real services live in modules of their own.
from support import RunHelper, hermetic_env  # noqa: E402
from support.docker_daemon import docker_daemon  # noqa: E402, F401
from support.registry_server import registry, registry_image  # noqa: E402, F401

from standins import StandInError  # noqa: E402
from standins.secret_service import SecretService, private_secret_service  # noqa: E402


@pytest.fixture(scope="session")
def secret_service() -> Iterator[SecretService]:
    """A real Secret Service (dbus + gnome-keyring), fresh for this test session; the bus
    starts gnome-keyring again, unlocked, if it aborts (standins/secret_service.py says when)."""
    try:
        with private_secret_service(restart_on_demand=True) as service:
            yield service
    except StandInError as exc:
        pytest.fail(f"{exc} (`make test` installs and starts what it needs)")


@pytest.fixture
def helper_env(tmp_path: Path, secret_service: SecretService) -> dict[str, str]:
    """A fresh home for one test, with the session's Secret Service on its bus."""
    status = secret_service.restart_if_dead()
    restarts = secret_service.unreported_restarts()
    if status is not None or restarts:
        # Not a failure of ours: gnome-keyring's abort (standins/secret_service.py), healed as
        # a user's session bus heals it; said, so that a run where it happens is visible.
        exited = "" if status is None else f" (the first with status {status})"
        warnings.warn(
            f"the session's gnome-keyring-daemon exited during an earlier test{exited}; "
            f"the bus has started it again on demand {restarts} time(s) since",
            stacklevel=1,
        )
    home = tmp_path / "home"
    home.mkdir()
    (home / ".docker").mkdir()
    return hermetic_env(home, secret_service.env)


@pytest.fixture
def run_helper(helper_env: dict[str, str]) -> RunHelper:
    """Run the installed `docker-credential-convox ACTION` with stdin in this test's environment."""
    return RunHelper(helper_env)
