"""Real clients on a fleet machine, authenticated through a shared entry (issue 12).

An operator adds the session's registry (Debian's docker-registry with htpasswd auth) once with
`registries add HOST --shared`: one secret in Secrets Manager (moto_server behind the counting
proxy). A machine of the fleet (support.shared: a fresh HOME, no D-Bus and so no keyring, the
scope set, a runtime directory of its own) never sees the password: its Docker config only
routes the registry to the helper. The real Docker CLI pulls through the session's dockerd and
skopeo copies between repositories; after `registries remove --shared` and the cache's max age,
both are refused.
"""

from __future__ import annotations

import os
import stat
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest
from support import NOT_FOUND, run_client, run_helper_in, write_docker_config
from support.shared import MAX_AGE, RUNTIME_DIR, NewMachine, share, unshare

from standins.daemons import DockerDaemon
from standins.registry import Registry, write_accept_anything_policy

pytestmark = pytest.mark.clients
pytest_plugins = ["support.aws_emulator", "support.shared"]

NO_CREDENTIALS = "no basic auth credentials"  # dockerd, when the helper has nothing


@pytest.fixture
def operator(new_machine: NewMachine, registry: Registry) -> dict[str, str]:
    """The operator's machine, which adds the registry once and may remove it."""
    env = new_machine("operator")
    result = share(env, registry.host, registry.username, registry.password)
    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    return env


@pytest.fixture
def fleet_machine(
    new_machine: NewMachine, registry: Registry, docker_daemon: DockerDaemon, tmp_path: Path
) -> dict[str, str]:
    """A machine of the fleet: no keyring, no password, a route to the helper, the daemon."""
    env = new_machine("fleet-machine")
    skopeo_runtime = tmp_path / "skopeo-run"  # skopeo's own auth file lives there
    skopeo_runtime.mkdir(mode=0o700)
    env.update(
        DOCKER_HOST=docker_daemon.host,
        DOCKER_CLI_HINTS="false",
        XDG_RUNTIME_DIR=str(skopeo_runtime),
    )
    write_docker_config(env, {"credHelpers": {registry.host: "convox"}})
    assert not any(name.startswith("DBUS_") for name in env)  # nothing could reach a keyring
    return env


def docker_pull(env: Mapping[str, str], reference: str) -> tuple[int, str]:
    result = run_client(env, "docker", "pull", reference)
    return result.returncode, result.stdout + result.stderr


def skopeo(env: Mapping[str, str], *args: str) -> tuple[int, str]:
    policy = write_accept_anything_policy(Path(env["HOME"]) / "policy.json")
    result = run_client(env, "skopeo", "--policy", str(policy), *args)
    return result.returncode, result.stdout + result.stderr


def files_under(directory: Path) -> list[Path]:
    return [Path(root) / name for root, _, names in os.walk(directory) for name in names]


@pytest.mark.usefixtures("operator")
def test_a_machine_that_never_saw_the_password_pulls_with_docker_and_copies_with_skopeo(
    fleet_machine: dict[str, str], registry: Registry, registry_image: str
) -> None:
    repository = f"convox/fleet-copy-{uuid.uuid4().hex[:8]}"

    pulled = docker_pull(fleet_machine, registry_image)
    copied = skopeo(
        fleet_machine,
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        f"docker://{registry_image}",
        f"docker://{registry.host}/{repository}:v1",
    )

    assert pulled[0] == 0, pulled
    assert copied[0] == 0, copied
    assert registry.manifest_status(repository, "v1") == 200
    # The value is cached only in the runtime directory (0700, files 0600), never in HOME.
    home, runtime = Path(fleet_machine["HOME"]), Path(fleet_machine[RUNTIME_DIR])
    cached = files_under(runtime)
    assert cached
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in cached)
    on_disk = [path for path in files_under(home) if runtime not in path.parents]
    assert all(registry.password.encode() not in path.read_bytes() for path in on_disk)


def test_after_shared_remove_and_the_max_age_the_machine_is_refused(
    operator: dict[str, str],
    fleet_machine: dict[str, str],
    registry: Registry,
    registry_image: str,
) -> None:
    max_age = 2.0
    fleet_machine[MAX_AGE] = f"{max_age:g}"
    assert docker_pull(fleet_machine, registry_image)[0] == 0

    removed = unshare(operator, registry.host)
    assert (removed.returncode, removed.stdout) == (0, "Done.\n"), removed
    time.sleep(max_age + 0.5)  # past the machine's cached value, whatever its jitter

    pulled = docker_pull(fleet_machine, registry_image)
    inspected = skopeo(fleet_machine, "inspect", "--tls-verify=false", f"docker://{registry_image}")
    got = run_helper_in(fleet_machine, "get", stdin=registry.host)

    assert pulled[0] != 0
    assert NO_CREDENTIALS in pulled[1], pulled
    assert inspected[0] != 0
    assert "authentication required" in inspected[1], inspected
    assert (got.returncode, got.stdout.strip()) == (1, NOT_FOUND), got
