"""podman and buildah (Debian 12's 4.3 and 1.28) through the installed helper.

Both read the `credHelpers` entry of Docker's config.json (`$DOCKER_CONFIG/config.json`) and keep
their storage, run state and temp files under the test's directory. What podman's own `login` and
`logout` do to a registry routed to our helper is tested here too: they store and erase through
the helper, and write no secret anywhere. With our helper listed in registries.conf's
`credential-helpers`, podman asks it about every registry it pulls from; `get` of a registry the
helper does not know must then be cheap and touch nothing.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from support import (
    HELPER,
    NOT_FOUND,
    RunHelper,
    assert_config_holds_no_secret,
    docker_config_path,
    require_tools,
    run_client,
    run_helper_in,
    store_as_docker_does,
    stored_credentials,
    write_docker_config,
)

from standins.daemons import HelperCallLog, Podman
from standins.registry import Registry

pytestmark = pytest.mark.clients

AUTHENTICATION_REQUIRED = "authentication required"


@pytest.fixture
def containers() -> Iterator[Podman]:
    """Storage for podman and buildah, removed after the test (short: podman's runroot limit)."""
    require_tools("podman", "buildah")
    root = Path(tempfile.mkdtemp(prefix="dccx-podman-"))
    try:
        yield Podman(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def podman_env(
    helper_env: dict[str, str], registry: Registry, containers: Podman
) -> dict[str, str]:
    """The test's environment for podman and buildah, the registry routed to our helper."""
    env = containers.env(helper_env)
    write_docker_config(env, {"credHelpers": {registry.host: "convox"}})
    return env


def store_registry_credentials(run_helper: RunHelper, registry: Registry) -> None:
    store_as_docker_does(run_helper, registry.host, registry.username, registry.password)


def podman_pull(
    containers: Podman, env: Mapping[str, str], reference: str
) -> subprocess.CompletedProcess[str]:
    return run_client(env, *containers.podman("pull", "--tls-verify=false", reference))


def files_under(directory: Path) -> dict[str, int]:
    """Every file and directory below `directory`, with its modification time in ns."""
    return {str(path): path.stat().st_mtime_ns for path in sorted(directory.rglob("*"))}


class BusConnections:
    """A Unix socket posing as the session bus that counts who connects (an observation point).

    Every connection is accepted and closed at once: a helper that tried to open the keyring
    would fail fast instead of waiting for a reply, and the count shows that it tried.
    """

    def __init__(self, path: Path) -> None:
        self.address = f"unix:path={path}"
        self.count = 0
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.bind(str(path))
        self._socket.listen(16)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):  # closed by close()
            while True:
                connection, _ = self._socket.accept()
                self.count += 1
                connection.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        self._thread.join(timeout=5)


@pytest.fixture
def bus_connections(tmp_path: Path) -> Iterator[BusConnections]:
    bus = BusConnections(tmp_path / "recording-bus")
    try:
        yield bus
    finally:
        bus.close()


# --- podman pull / push ------------------------------------------------------------------------


def test_podman_pull_and_push_of_a_private_image_authenticate_through_cred_helpers(
    containers: Podman,
    podman_env: dict[str, str],
    registry: Registry,
    registry_image: str,
    run_helper: RunHelper,
) -> None:
    store_registry_credentials(run_helper, registry)
    pushed = f"{registry.host}/convox/pushed-by-podman:v1"

    pull = podman_pull(containers, podman_env, registry_image)
    tag = run_client(podman_env, *containers.podman("tag", registry_image, pushed))
    push = run_client(podman_env, *containers.podman("push", "--tls-verify=false", pushed))

    assert pull.returncode == 0, pull
    assert tag.returncode == 0, tag
    assert push.returncode == 0, push
    assert registry.manifest_status("convox/pushed-by-podman", "v1") == 200


def test_podman_pull_without_stored_credentials_fails_with_authentication_required(
    containers: Podman, podman_env: dict[str, str], registry_image: str
) -> None:
    pull = podman_pull(containers, podman_env, registry_image)

    assert pull.returncode != 0
    assert AUTHENTICATION_REQUIRED in pull.stderr, pull


# --- buildah -----------------------------------------------------------------------------------


def test_buildah_pull_and_from_authenticate_through_cred_helpers(
    containers: Podman,
    podman_env: dict[str, str],
    registry: Registry,
    registry_image: str,
    run_helper: RunHelper,
) -> None:
    store_registry_credentials(run_helper, registry)

    pull = run_client(podman_env, *containers.buildah("pull", "--tls-verify=false", registry_image))
    # `from` of an image not pulled yet: buildah pulls it itself.
    other = registry.push_image("convox/buildah-from", "v1")
    working = run_client(podman_env, *containers.buildah("from", "--tls-verify=false", other))

    assert pull.returncode == 0, pull
    assert working.returncode == 0, working
    assert working.stdout.strip().endswith("-working-container"), working


def test_buildah_pull_without_stored_credentials_fails_with_authentication_required(
    containers: Podman, podman_env: dict[str, str], registry_image: str
) -> None:
    pull = run_client(podman_env, *containers.buildah("pull", "--tls-verify=false", registry_image))

    assert pull.returncode != 0
    assert AUTHENTICATION_REQUIRED in pull.stderr, pull


# --- podman login / logout ---------------------------------------------------------------------


def podman_login(
    containers: Podman, env: Mapping[str, str], registry: Registry, password: str
) -> subprocess.CompletedProcess[str]:
    argv = containers.podman(
        "login", "--tls-verify=false", "-u", registry.username, "--password-stdin", registry.host
    )
    return run_client(env, *argv, stdin=password)


def test_podman_login_stores_through_the_helper_and_writes_no_secret_anywhere(
    containers: Podman,
    podman_env: dict[str, str],
    registry: Registry,
    registry_image: str,
    run_helper: RunHelper,
) -> None:
    config_before = json.loads(docker_config_path(podman_env).read_text())
    # podman's own auth file, as a user who logged in elsewhere with podman has it.
    auth_file = Path(podman_env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"
    auth_file.parent.mkdir(mode=0o700)
    other_login = json.dumps({"auths": {"other.example.test:5000": {"auth": "Ym9iOnB3"}}})
    auth_file.write_text(other_login)

    login = podman_login(containers, podman_env, registry, registry.password)

    assert login.returncode == 0, login
    assert stored_credentials(run_helper, registry.host) == {
        "ServerURL": registry.host,
        "Username": registry.username,
        "Secret": registry.password,
    }
    # The credHelpers entry of Docker's config.json wins over podman's own auth file.
    assert auth_file.read_text() == other_login
    config_after = json.loads(docker_config_path(podman_env).read_text())
    assert config_after.get("credHelpers") == config_before["credHelpers"]
    assert_config_holds_no_secret(podman_env, registry)
    assert podman_pull(containers, podman_env, registry_image).returncode == 0


def test_podman_login_with_a_wrong_password_fails_and_stores_nothing(
    containers: Podman, podman_env: dict[str, str], registry: Registry, run_helper: RunHelper
) -> None:
    login = podman_login(containers, podman_env, registry, "not-" + registry.password)

    assert login.returncode != 0
    assert stored_credentials(run_helper, registry.host) is None


def test_podman_logout_erases_through_the_helper_and_a_second_logout_exits_0(
    containers: Podman,
    podman_env: dict[str, str],
    registry: Registry,
    registry_image: str,
    run_helper: RunHelper,
) -> None:
    store_registry_credentials(run_helper, registry)

    first = run_client(podman_env, *containers.podman("logout", registry.host))
    second = run_client(podman_env, *containers.podman("logout", registry.host))

    assert first.returncode == 0, first
    assert f"Removed login credentials for {registry.host}" in first.stdout, first
    assert stored_credentials(run_helper, registry.host) is None
    # The helper's erase of what is gone succeeds, so podman's second logout does too.
    assert second.returncode == 0, second
    denied = podman_pull(containers, podman_env, registry_image)
    assert AUTHENTICATION_REQUIRED in denied.stderr, denied


# --- our helper in registries.conf: asked about every registry ---------------------------------


def test_podman_asks_a_registries_conf_helper_about_every_registry_and_unknown_ones_cost_nothing(
    containers: Podman,
    podman_env: dict[str, str],
    registry: Registry,
    registry_image: str,
    bus_connections: BusConnections,
) -> None:
    store_registry_credentials(RunHelper(podman_env), registry)
    # No credHelpers entry at all: registries.conf names our helper for every registry.
    write_docker_config(podman_env, {})
    Path(podman_env["CONTAINERS_REGISTRIES_CONF"]).write_text('credential-helpers = ["convox"]\n')
    calls = HelperCallLog(containers.root / "shim", HELPER)
    env = calls.env(podman_env)
    # The same registry by another name is a registry the helper does not know.
    unknown_host = registry.host.replace("127.0.0.1", "localhost")
    unknown_image = registry_image.replace(registry.host, unknown_host)

    known = podman_pull(containers, env, registry_image)
    home = Path(env["HOME"])
    files_before = files_under(home)
    unknown = podman_pull(
        containers, {**env, "DBUS_SESSION_BUS_ADDRESS": bus_connections.address}, unknown_image
    )

    assert known.returncode == 0, known
    assert ("get", registry.host) in calls.calls()
    assert ("get", unknown_host) in calls.calls()
    # Not found, so podman went on anonymously and got the registry's own refusal.
    assert unknown.returncode != 0
    assert AUTHENTICATION_REQUIRED in unknown.stderr, unknown
    assert files_under(home) == files_before
    assert bus_connections.count == 0


def test_get_of_an_unknown_registry_creates_no_file_and_opens_no_bus(
    helper_env: dict[str, str], run_helper: RunHelper, bus_connections: BusConnections
) -> None:
    store_as_docker_does(run_helper, "known.example.test", "ann", "ann-secret")
    home = Path(helper_env["HOME"])
    files_before = files_under(home)

    result = run_helper_in(
        {**helper_env, "DBUS_SESSION_BUS_ADDRESS": bus_connections.address},
        "get",
        stdin="unknown.example.test",
    )

    assert (result.returncode, result.stdout.strip()) == (1, NOT_FOUND)
    assert files_under(home) == files_before
    assert bus_connections.count == 0
