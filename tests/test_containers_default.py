"""podman, skopeo and buildah as a new user has them: no DOCKER_CONFIG, no REGISTRY_AUTH_FILE.

Then their primary auth file is `$XDG_RUNTIME_DIR/containers/auth.json` (a tmpfs emptied at
boot), and their `login` writes `{"auth": base64(user:pass)}` there unless a credential helper
comes first: `registries add` must wire them (a registries.conf drop-in under
~/.config/containers, which survives a reboot), `registries remove` unwire them, `import` move
their plaintext entries, and `doctor` see both. Real podman 4.3, skopeo 1.9, buildah 1.28 and the
real registry stand-in; the helper is watched through the logging shim (an observation point).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Callable

import pytest
from support import BIN_DIR, HELPER, require_tools, run_client, run_helper_in
from support.registries import add, get_credentials, registries

from standins.daemons import HelperCallLog, Podman
from standins.environment import default_env
from standins.registry import Registry
from standins.secret_service import SecretService

pytestmark = pytest.mark.clients

AUTHENTICATION_REQUIRED = "authentication required"


@pytest.fixture
def containers() -> Iterator[Podman]:
    """Storage for podman and buildah (short: podman's runroot limit), removed afterwards."""
    require_tools("podman", "buildah", "skopeo")
    root = Path(tempfile.mkdtemp(prefix="dccx-ctr-"))
    try:
        yield Podman(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def calls(containers: Podman) -> HelperCallLog:
    return HelperCallLog(containers.root / "shim", HELPER)


@pytest.fixture
def env(
    tmp_path: Path, secret_service: SecretService, containers: Podman, calls: HelperCallLog
) -> dict[str, str]:
    """A new user's environment (see standins.environment.default_env), the shim first on PATH."""
    home = tmp_path / "home"
    home.mkdir()
    temp = containers.root / "tmp"
    temp.mkdir()
    base = default_env(home, containers.root / "run", secret_service.env, path_first=BIN_DIR)
    return calls.env({**base, "TMPDIR": str(temp)})


class Scene:
    """podman and buildah's storage, the new user's environment, and the helper's call log."""

    def __init__(self, containers: Podman, env: dict[str, str], calls: HelperCallLog) -> None:
        self.containers = containers
        self.env = env
        self.calls = calls


@pytest.fixture
def scene(containers: Podman, env: dict[str, str], calls: HelperCallLog) -> Scene:
    return Scene(containers, env, calls)


def runtime_auth_file(env: Mapping[str, str]) -> Path:
    return Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"


def config_auth_file(env: Mapping[str, str]) -> Path:
    return Path(env["HOME"]) / ".config" / "containers" / "auth.json"


def drop_in(env: Mapping[str, str]) -> Path:
    return Path(env["HOME"]) / ".config/containers/registries.conf.d/docker-credential-convox.conf"


def basic(registry: Registry) -> str:
    return base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()


def files_holding_the_password(env: Mapping[str, str], registry: Registry) -> list[str]:
    """Every file under HOME and the runtime directory that holds the password, plain or base64."""
    found = []
    for top in (Path(env["HOME"]), Path(env["XDG_RUNTIME_DIR"])):
        for path in top.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                if registry.password.encode() in data or basic(registry).encode() in data:
                    found.append(str(path))
    return found


def login(
    tool: str, containers: Podman, env: Mapping[str, str], registry: Registry
) -> subprocess.CompletedProcess[str]:
    words = ("login", "--tls-verify=false", "-u", registry.username, "--password-stdin")
    if tool == "podman":
        argv = containers.podman(*words)
    elif tool == "buildah":
        argv = containers.buildah(*words)
    else:
        argv = ["skopeo", *words]
    return run_client(env, *argv, registry.host, stdin=registry.password)


def podman_pull(
    containers: Podman, env: Mapping[str, str], image: str
) -> subprocess.CompletedProcess[str]:
    return run_client(env, *containers.podman("pull", "--tls-verify=false", image))


def skopeo_inspect(env: Mapping[str, str], image: str) -> subprocess.CompletedProcess[str]:
    return run_client(env, "skopeo", "inspect", "--tls-verify=false", f"docker://{image}")


def buildah_pull(
    containers: Podman, env: Mapping[str, str], image: str
) -> subprocess.CompletedProcess[str]:
    return run_client(env, *containers.buildah("pull", "--tls-verify=false", image))


def reboot(env: Mapping[str, str]) -> None:
    """What a boot does to the runtime directory: a fresh, empty tmpfs."""
    runtime = Path(env["XDG_RUNTIME_DIR"])
    shutil.rmtree(runtime)
    runtime.mkdir(mode=0o700)


def add_registry(env: Mapping[str, str], registry: Registry) -> None:
    added = add(env, registry.host, registry.username, registry.password)
    assert added.returncode == 0, added


# --- login stores through the helper -----------------------------------------------------------


@pytest.mark.parametrize("tool", ["podman", "skopeo", "buildah"])
def test_after_add_login_stores_through_the_helper_and_no_file_holds_the_password(
    tool: str, scene: Scene, registry: Registry, registry_image: str
) -> None:
    containers, env, calls = scene.containers, scene.env, scene.calls
    add_registry(env, registry)
    calls.clear()

    logged_in = login(tool, containers, env, registry)

    assert logged_in.returncode == 0, logged_in
    assert ("store", registry.host) in calls.calls()
    assert files_holding_the_password(env, registry) == []
    assert podman_pull(containers, env, registry_image).returncode == 0
    assert skopeo_inspect(env, registry_image).returncode == 0
    pulled = buildah_pull(containers, env, registry_image)
    assert pulled.returncode == 0, pulled
    assert registry.host in calls.servers_asked("get")


def test_after_a_reboot_the_wiring_is_still_there(
    containers: Podman,
    env: dict[str, str],
    calls: HelperCallLog,
    registry: Registry,
    registry_image: str,
) -> None:
    add_registry(env, registry)
    assert drop_in(env).exists()
    reboot(env)
    calls.clear()

    logged_in = login("podman", containers, env, registry)
    pulled = podman_pull(containers, env, registry_image)

    assert logged_in.returncode == 0, logged_in
    assert ("store", registry.host) in calls.calls()
    assert files_holding_the_password(env, registry) == []
    assert pulled.returncode == 0, pulled


def test_after_remove_podman_skopeo_and_buildah_are_refused(
    containers: Podman, env: dict[str, str], registry: Registry, registry_image: str
) -> None:
    add_registry(env, registry)
    assert login("podman", containers, env, registry).returncode == 0
    assert login("skopeo", containers, env, registry).returncode == 0

    removed = registries(env, "remove", registry.host)

    assert removed.returncode == 0, removed
    assert get_credentials(env, registry.host) is None
    pulled = podman_pull(containers, env, registry_image)
    assert AUTHENTICATION_REQUIRED in pulled.stderr, pulled
    inspected = skopeo_inspect(env, registry_image)
    assert inspected.returncode != 0, inspected
    assert "unauthorized" in inspected.stderr.lower() or AUTHENTICATION_REQUIRED in inspected.stderr
    built = buildah_pull(containers, env, registry_image)
    assert AUTHENTICATION_REQUIRED in built.stderr, built
    assert files_holding_the_password(env, registry) == []
    # The last registry gone, the drop-in goes too.
    assert not drop_in(env).exists()


# --- import ------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth_file", [runtime_auth_file, config_auth_file])
def test_import_moves_a_plaintext_entry_of_a_containers_auth_file(
    auth_file: Callable[[Mapping[str, str]], Path],
    scene: Scene,
    registry: Registry,
    registry_image: str,
) -> None:
    env, calls = scene.env, scene.calls
    path = auth_file(env)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # As skopeo/podman login wrote it, with keys of other tools beside the entry.
    path.write_text(
        '{\n\t"auths": {\n\t\t"HOST": {\n\t\t\t"auth": "BASIC"\n\t\t}\n\t},\n'
        '\t"x-other-tool": {"n": 1.50, "s": "\\u003c"}\n}\n'.replace("HOST", registry.host).replace(
            "BASIC", basic(registry)
        )
    )
    path.chmod(0o600)

    imported = registries(env, "import")

    assert imported.returncode == 0, imported
    assert f"Moved {registry.host} ({registry.username})" in imported.stdout, imported
    assert str(path) in imported.stdout, imported
    assert get_credentials(env, registry.host) == {
        "ServerURL": registry.host,
        "Username": registry.username,
        "Secret": registry.password,
    }
    assert files_holding_the_password(env, registry) == []
    text = path.read_text()
    assert '"x-other-tool": {\n\t\t"n": 1.50,\n\t\t"s": "\\u003c"\n\t}' in text, text
    assert path.stat().st_mode & 0o777 == 0o600
    calls.clear()
    assert skopeo_inspect(env, registry_image).returncode == 0
    assert registry.host in calls.servers_asked("get")


# --- doctor ------------------------------------------------------------------------------------


def doctor(env: Mapping[str, str], registry: Registry) -> subprocess.CompletedProcess[str]:
    return run_helper_in(env, "registries", "doctor", registry.host)


def containers_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if ": containers: " in line]


def test_doctor_says_ok_for_the_containers_tools_after_add(
    env: dict[str, str], registry: Registry
) -> None:
    add_registry(env, registry)

    result = doctor(env, registry)

    assert result.returncode == 0, result
    lines = containers_lines(result)
    assert lines, result
    assert all(line.startswith("ok: containers: ") for line in lines), result


def test_doctor_flags_a_plaintext_entry_in_podmans_auth_file(
    containers: Podman, env: dict[str, str], registry: Registry
) -> None:
    add_registry(env, registry)
    path = runtime_auth_file(env)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(json.dumps({"auths": {registry.host: {"auth": basic(registry)}}}))

    result = doctor(env, registry)

    assert result.returncode == 1, result
    flagged = [line for line in containers_lines(result) if line.startswith("problem: ")]
    assert any(str(path) in line and "import" in line for line in flagged), result
    assert registry.password not in result.stdout + result.stderr
    assert basic(registry) not in result.stdout + result.stderr


def test_doctor_flags_containers_tools_that_never_ask_the_helper(
    env: dict[str, str], registry: Registry
) -> None:
    add_registry(env, registry)
    drop_ins = Path(env["HOME"]) / ".config" / "containers" / "registries.conf.d"
    # A user drop-in read after ours that names only the auth files.
    drop_ins.mkdir(parents=True, exist_ok=True)
    (drop_ins / "zzz-mine.conf").write_text('credential-helpers = ["containers-auth.json"]\n')

    result = doctor(env, registry)

    assert result.returncode == 1, result
    flagged = [line for line in containers_lines(result) if line.startswith("problem: ")]
    assert any("zzz-mine.conf" in line for line in flagged), result
