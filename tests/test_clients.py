"""Real clients through the installed helper: the Docker CLI, skopeo and docker-py.

Each test gets a fresh HOME whose `config.json` routes the test registry (Debian's
docker-registry with htpasswd auth on 127.0.0.1) to `docker-credential-convox` through a
`credHelpers` entry, and the helper first on PATH. No Docker daemon is involved: `docker
login`, `logout` and `manifest inspect --insecure` all work client-side. Docker Hub is only ever
named, never contacted: those tests drive the helper directly or run `logout`, which stays local.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import docker.auth
import docker.credentials
import pytest
from support import (
    HELPER,
    RunHelper,
    assert_config_holds_no_secret,
    docker_config_path,
    docker_login,
    run_client,
    set_environ,
    store_as_docker_does,
    stored_credentials,
    write_docker_config,
)

from standins.registry import Registry

pytestmark = pytest.mark.clients

DOCKER_HUB_URL = "https://index.docker.io/v1/"


# --- running the clients -------------------------------------------------------------------


def docker_manifest_inspect(
    env: Mapping[str, str], reference: str
) -> subprocess.CompletedProcess[str]:
    return run_client(env, "docker", "manifest", "inspect", "--insecure", reference)


def skopeo_login(env: Mapping[str, str], registry: Registry) -> subprocess.CompletedProcess[str]:
    return run_client(
        env,
        "skopeo",
        "login",
        "--tls-verify=false",
        "-u",
        registry.username,
        "--password-stdin",
        registry.host,
        stdin=registry.password,
    )


def skopeo_inspect(env: Mapping[str, str], reference: str) -> subprocess.CompletedProcess[str]:
    return run_client(env, "skopeo", "inspect", "--tls-verify=false", f"docker://{reference}")


# --- looking at what the helper holds --------------------------------------------------------


def stored_listing(run_helper: RunHelper) -> dict[str, str]:
    result = run_helper("list", "unused")
    assert result.returncode == 0, result
    listing: dict[str, str] = json.loads(result.stdout)
    return listing


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def client_env(helper_env: dict[str, str], registry: Registry, tmp_path: Path) -> dict[str, str]:
    """The test's environment with config.json routing the test registry to our helper."""
    found = shutil.which("docker-credential-convox", path=helper_env["PATH"])
    assert found is not None
    assert os.path.samefile(found, HELPER)
    for client in ("docker", "skopeo"):
        if shutil.which(client, path=helper_env["PATH"]) is None:
            pytest.fail(f"{client} is missing: run `make test`, which installs it")
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {
        **helper_env,
        # skopeo keeps its own auth file under XDG_RUNTIME_DIR: keep it inside this test.
        "XDG_RUNTIME_DIR": str(runtime),
        # No daemon: make sure a developer's real one is never reached either.
        "DOCKER_HOST": f"unix://{tmp_path / 'no-docker-daemon.sock'}",
        "DOCKER_CLI_HINTS": "false",
    }
    write_docker_config(env, {"credHelpers": {registry.host: "convox"}})
    return env


@pytest.fixture
def docker_py_environ(helper_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """docker-py finds helpers on os.environ's PATH and passes os.environ on: make it the test's."""
    set_environ(monkeypatch, helper_env)


# --- docker CLI ------------------------------------------------------------------------------


def test_docker_login_stores_through_the_helper_and_config_json_holds_no_secret(
    client_env: dict[str, str], registry: Registry, run_helper: RunHelper
) -> None:
    result = docker_login(client_env, registry, registry.password)

    assert result.returncode == 0, result
    assert "Login Succeeded" in result.stdout
    assert stored_credentials(run_helper, registry.host) == {
        "ServerURL": registry.host,
        "Username": registry.username,
        "Secret": registry.password,
    }
    assert stored_listing(run_helper) == {registry.host: registry.username}
    assert json.loads(docker_config_path(client_env).read_text())["auths"] == {registry.host: {}}
    assert_config_holds_no_secret(client_env, registry)


def test_docker_login_with_a_wrong_password_fails_and_stores_nothing(
    client_env: dict[str, str], registry: Registry, run_helper: RunHelper
) -> None:
    result = docker_login(client_env, registry, "not-" + registry.password)

    assert result.returncode != 0
    assert "401 Unauthorized" in result.stderr
    assert stored_credentials(run_helper, registry.host) is None
    assert stored_listing(run_helper) == {}
    assert_config_holds_no_secret(client_env, registry)


def test_docker_manifest_inspect_authenticates_with_what_docker_login_stored(
    client_env: dict[str, str], registry: Registry, registry_image: str
) -> None:
    assert docker_login(client_env, registry, registry.password).returncode == 0

    result = docker_manifest_inspect(client_env, registry_image)

    assert result.returncode == 0, result
    manifest = json.loads(result.stdout)
    assert manifest["schemaVersion"] == 2
    assert len(manifest["layers"]) == 1


def test_docker_manifest_inspect_without_login_fails_with_no_basic_auth_credentials(
    client_env: dict[str, str], registry: Registry, registry_image: str, run_helper: RunHelper
) -> None:
    # Another port of the same host is another registry: its credentials must not be offered.
    host, port = registry.host.rsplit(":", 1)
    other_port = f"{host}:{int(port) % 65535 + 1}"
    store_as_docker_does(run_helper, other_port, registry.username, "other-registry-password")

    result = docker_manifest_inspect(client_env, registry_image)

    assert result.returncode != 0
    assert "no basic auth credentials" in result.stderr, result


def test_docker_logout_erases_the_credentials_and_a_second_logout_succeeds(
    client_env: dict[str, str], registry: Registry, registry_image: str, run_helper: RunHelper
) -> None:
    assert docker_login(client_env, registry, registry.password).returncode == 0

    first = run_client(client_env, "docker", "logout", registry.host)
    second = run_client(client_env, "docker", "logout", registry.host)

    assert first.returncode == 0, first
    assert second.returncode == 0, second
    assert stored_credentials(run_helper, registry.host) is None
    assert stored_listing(run_helper) == {}
    denied = docker_manifest_inspect(client_env, registry_image)
    assert "no basic auth credentials" in denied.stderr, denied


# --- skopeo ----------------------------------------------------------------------------------


def test_skopeo_login_stores_through_the_helper_and_inspect_uses_it(
    client_env: dict[str, str], registry: Registry, registry_image: str, run_helper: RunHelper
) -> None:
    login = skopeo_login(client_env, registry)

    assert login.returncode == 0, login
    assert stored_credentials(run_helper, registry.host) == {
        "ServerURL": registry.host,
        "Username": registry.username,
        "Secret": registry.password,
    }
    assert_config_holds_no_secret(client_env, registry)
    inspect = skopeo_inspect(client_env, registry_image)
    assert inspect.returncode == 0, inspect
    assert json.loads(inspect.stdout)["Name"] == registry_image.rsplit(":", 1)[0]


def test_skopeo_inspect_without_login_fails_with_authentication_required(
    client_env: dict[str, str], registry_image: str
) -> None:
    result = skopeo_inspect(client_env, registry_image)

    assert result.returncode != 0
    assert "authentication required" in result.stderr, result


def test_skopeo_logout_erases_the_credentials_and_a_second_logout_exits_0(
    client_env: dict[str, str], registry: Registry, registry_image: str, run_helper: RunHelper
) -> None:
    assert skopeo_login(client_env, registry).returncode == 0

    first = run_client(client_env, "skopeo", "logout", registry.host)
    # skopeo 1.9.3 crashes (rc 2) here if `erase` of a missing entry exits non-zero.
    second = run_client(client_env, "skopeo", "logout", registry.host)

    assert first.returncode == 0, first
    assert second.returncode == 0, second
    assert stored_credentials(run_helper, registry.host) is None
    assert skopeo_inspect(client_env, registry_image).returncode != 0


def test_skopeo_finds_what_docker_login_stored_and_its_logout_erases_it(
    client_env: dict[str, str], registry: Registry, registry_image: str
) -> None:
    assert docker_login(client_env, registry, registry.password).returncode == 0

    inspect = skopeo_inspect(client_env, registry_image)
    logout = run_client(client_env, "skopeo", "logout", registry.host)

    assert inspect.returncode == 0, inspect
    assert logout.returncode == 0, logout
    denied = docker_manifest_inspect(client_env, registry_image)
    assert "no basic auth credentials" in denied.stderr, denied


def test_docker_finds_what_skopeo_login_stored_and_its_logout_erases_it(
    client_env: dict[str, str], registry: Registry, registry_image: str
) -> None:
    assert skopeo_login(client_env, registry).returncode == 0

    inspect = docker_manifest_inspect(client_env, registry_image)
    logout = run_client(client_env, "docker", "logout", registry.host)

    assert inspect.returncode == 0, inspect
    assert logout.returncode == 0, logout
    denied = skopeo_inspect(client_env, registry_image)
    assert "authentication required" in denied.stderr, denied


# --- docker-py -------------------------------------------------------------------------------


@pytest.mark.usefixtures("docker_py_environ")
def test_docker_py_store_round_trips_store_get_list_and_erase() -> None:
    store = docker.credentials.Store("convox")
    assert os.path.samefile(store.exe, HELPER)
    server = "registry.example.test:5000"

    store.store(server=server, username="bob", secret="b0b-secret")

    assert store.get(server) == {"ServerURL": server, "Username": "bob", "Secret": "b0b-secret"}
    assert store.get(f"https://{server}/")["Secret"] == "b0b-secret"
    assert store.list() == {server: "bob"}
    store.erase(server)
    with pytest.raises(docker.credentials.CredentialsNotFound):
        store.get(server)
    assert store.list() == {}
    store.erase(server)  # erasing what is not stored is not an error


@pytest.mark.usefixtures("docker_py_environ")
def test_docker_py_get_of_an_unknown_server_raises_credentials_not_found() -> None:
    store = docker.credentials.Store("convox")

    with pytest.raises(docker.credentials.CredentialsNotFound):
        store.get("unknown.example.test")


@pytest.mark.usefixtures("docker_py_environ")
def test_docker_py_resolves_cred_helpers_auth_to_what_docker_login_stored(
    client_env: dict[str, str], registry: Registry
) -> None:
    assert docker_login(client_env, registry, registry.password).returncode == 0

    auth = docker.auth.load_config().resolve_authconfig(registry.host)

    assert auth == {
        "ServerAddress": registry.host,
        "Username": registry.username,
        "Password": registry.password,
    }


@pytest.mark.usefixtures("docker_py_environ")
def test_docker_py_lists_every_registry_of_a_creds_store(
    client_env: dict[str, str], run_helper: RunHelper
) -> None:
    write_docker_config(client_env, {"credsStore": "convox"})
    store_as_docker_does(run_helper, "one.example.test", "ann", "ann-secret")
    store_as_docker_does(run_helper, "two.example.test:5000", "ben", "ben-secret")

    everything = docker.auth.load_config().get_all_credentials()

    assert everything["one.example.test"] == {
        "ServerAddress": "one.example.test",
        "Username": "ann",
        "Password": "ann-secret",
    }
    assert everything["two.example.test:5000"]["Password"] == "ben-secret"


# --- Docker Hub aliases and identity tokens (no network: the helper is driven directly) ------


@pytest.mark.usefixtures("docker_py_environ")
def test_docker_hub_credentials_stored_by_docker_are_found_as_docker_io(
    run_helper: RunHelper,
) -> None:
    store_as_docker_does(run_helper, DOCKER_HUB_URL, "hubuser", "hub-token")

    # skopeo asks for docker.io with exactly these bytes.
    assert stored_credentials(run_helper, "docker.io") == {
        "ServerURL": "docker.io",
        "Username": "hubuser",
        "Secret": "hub-token",
    }
    assert docker.credentials.Store("convox").get("docker.io")["Secret"] == "hub-token"


def test_skopeo_logout_of_docker_io_erases_docker_hub_credentials_docker_stored(
    client_env: dict[str, str], run_helper: RunHelper
) -> None:
    write_docker_config(client_env, {"credHelpers": {"docker.io": "convox"}})
    store_as_docker_does(run_helper, DOCKER_HUB_URL, "hubuser", "hub-token")

    result = run_client(client_env, "skopeo", "logout", "docker.io")

    assert result.returncode == 0, result
    assert stored_credentials(run_helper, DOCKER_HUB_URL) is None


def test_docker_logout_erases_docker_hub_credentials_stored_as_docker_io(
    client_env: dict[str, str], run_helper: RunHelper
) -> None:
    write_docker_config(client_env, {"credHelpers": {DOCKER_HUB_URL: "convox"}})
    store_as_docker_does(run_helper, "docker.io", "hubuser", "hub-token")

    result = run_client(client_env, "docker", "logout")

    assert result.returncode == 0, result
    assert stored_credentials(run_helper, "docker.io") is None


@pytest.mark.usefixtures("docker_py_environ")
def test_identity_token_round_trips_verbatim_to_docker_py(
    client_env: dict[str, str], registry: Registry, run_helper: RunHelper
) -> None:
    refresh_token = "eyJhbGciOi.refresh+token/=="
    store_as_docker_does(run_helper, registry.host, "<token>", refresh_token)

    assert stored_credentials(run_helper, registry.host) == {
        "ServerURL": registry.host,
        "Username": "<token>",
        "Secret": refresh_token,
    }
    assert docker.auth.load_config().resolve_authconfig(registry.host) == {
        "ServerAddress": registry.host,
        "IdentityToken": refresh_token,
    }
