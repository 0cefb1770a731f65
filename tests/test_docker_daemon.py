"""A real Docker daemon's clients through the installed helper: docker, BuildKit, docker-py,
docker-compose.

One dockerd (Debian's docker.io, 20.10) serves the whole session, on a socket in a temporary
directory inside the loopback-only namespace. Each test has a fresh HOME whose config.json routes
the test registry to `docker-credential-convox`, through `credHelpers` or `credsStore`. The image
is private: the registry answers 401 to anyone without the htpasswd credentials.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

import docker
import docker.errors
import pytest
from support import (
    HELPER,
    RunHelper,
    docker_login,
    require_tools,
    run_client,
    set_environ,
    stored_credentials,
    write_docker_config,
)

from standins.daemons import DOCKER_20_CLIENT, DockerDaemon, HelperCallLog
from standins.registry import Registry

pytestmark = pytest.mark.clients

# What dockerd answers when a pull or push reaches the registry without credentials.
NO_CREDENTIALS = "no basic auth credentials"


def route_to_helper(env: Mapping[str, str], registry: Registry, route: str) -> None:
    """config.json naming our helper for the registry (`credHelpers`) or for all (`credsStore`)."""
    if route == "credHelpers":
        write_docker_config(env, {"credHelpers": {registry.host: "convox"}})
    else:
        write_docker_config(env, {"credsStore": "convox"})


def docker_cli(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The Docker CLI on PATH (28.x), talking to the session's daemon."""
    return run_client(env, "docker", *args)


@pytest.fixture
def daemon_env(
    helper_env: dict[str, str], registry: Registry, docker_daemon: DockerDaemon
) -> dict[str, str]:
    """The test's environment pointed at the session's dockerd, the registry routed to us."""
    env = {**helper_env, "DOCKER_HOST": docker_daemon.host, "DOCKER_CLI_HINTS": "false"}
    write_docker_config(env, {"credHelpers": {registry.host: "convox"}})
    return env


@pytest.fixture
def docker_py_environ(daemon_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """docker-py finds helpers on os.environ's PATH and passes os.environ on: make it the test's."""
    set_environ(monkeypatch, daemon_env)


# --- docker pull / push ------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["credHelpers", "credsStore"])
def test_docker_pull_and_push_of_a_private_image_authenticate_through_the_helper(
    daemon_env: dict[str, str], registry: Registry, registry_image: str, route: str
) -> None:
    route_to_helper(daemon_env, registry, route)
    assert docker_login(daemon_env, registry, registry.password).returncode == 0
    repository = f"convox/pushed-by-docker-{route.lower()}"
    pushed = f"{registry.host}/{repository}:v1"

    pull = docker_cli(daemon_env, "pull", registry_image)
    tag = docker_cli(daemon_env, "tag", registry_image, pushed)
    push = docker_cli(daemon_env, "push", pushed)

    assert pull.returncode == 0, pull
    assert tag.returncode == 0, tag
    assert push.returncode == 0, push
    assert registry.manifest_status(repository, "v1") == 200


@pytest.mark.parametrize("route", ["credHelpers", "credsStore"])
def test_docker_pull_and_push_after_logout_fail_with_no_basic_auth_credentials(
    daemon_env: dict[str, str],
    registry: Registry,
    registry_image: str,
    run_helper: RunHelper,
    route: str,
) -> None:
    route_to_helper(daemon_env, registry, route)
    assert docker_login(daemon_env, registry, registry.password).returncode == 0
    assert docker_cli(daemon_env, "pull", registry_image).returncode == 0
    pushed = f"{registry.host}/convox/refused-after-logout-{route.lower()}:v1"
    assert docker_cli(daemon_env, "tag", registry_image, pushed).returncode == 0

    logout = docker_cli(daemon_env, "logout", registry.host)
    pull = docker_cli(daemon_env, "pull", registry_image)
    push = docker_cli(daemon_env, "push", pushed)

    assert logout.returncode == 0, logout
    assert stored_credentials(run_helper, registry.host) is None
    assert pull.returncode != 0
    assert NO_CREDENTIALS in pull.stderr, pull
    assert push.returncode != 0
    assert NO_CREDENTIALS in push.stderr + push.stdout, push


# --- BuildKit ----------------------------------------------------------------------------------


def buildkit_build(
    env: Mapping[str, str], context: Path, base: str, tag: str
) -> subprocess.CompletedProcess[str]:
    """`docker build` with BuildKit (the 20.10 client's own) of a Dockerfile `FROM base`."""
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text(f"FROM {base}\nCOPY marker.txt /marker.txt\n")
    (context / "marker.txt").write_text("built by the docker-credential-convox tests\n")
    # --pull: resolve the base image at the registry every time, never from the daemon's cache.
    argv = [DOCKER_20_CLIENT, "build", "--pull", "--progress=plain", "-t", tag, str(context)]
    return run_client({**env, "DOCKER_BUILDKIT": "1"}, *argv)


def test_buildkit_build_from_a_private_image_asks_the_helper_for_that_registry(
    daemon_env: dict[str, str], registry: Registry, registry_image: str, tmp_path: Path
) -> None:
    calls = HelperCallLog(tmp_path / "shim", HELPER)
    env = calls.env(daemon_env)
    assert docker_login(env, registry, registry.password).returncode == 0
    calls.clear()

    build = buildkit_build(env, tmp_path / "context", registry_image, "dccx-buildkit-ok:latest")

    assert build.returncode == 0, build
    assert f"[internal] load metadata for {registry_image}" in build.stderr, build  # BuildKit's
    assert calls.servers_asked("get") == {registry.host}


def test_buildkit_build_without_stored_credentials_fails_at_the_pull(
    daemon_env: dict[str, str], registry: Registry, registry_image: str, tmp_path: Path
) -> None:
    calls = HelperCallLog(tmp_path / "shim", HELPER)
    env = calls.env(daemon_env)

    build = buildkit_build(env, tmp_path / "context", registry_image, "dccx-buildkit-denied:latest")

    assert build.returncode != 0
    # BuildKit reports the registry's answer to resolving the base image: the pull step failed.
    assert f"load metadata for {registry_image}" in build.stderr, build
    assert "401 Unauthorized" in build.stderr, build
    assert ("get", registry.host) in calls.calls()


# --- docker-py ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("docker_py_environ")
def test_docker_py_images_pull_resolves_auth_from_the_config_through_the_helper(
    daemon_env: dict[str, str], registry: Registry, registry_image: str, docker_daemon: DockerDaemon
) -> None:
    assert docker_login(daemon_env, registry, registry.password).returncode == 0
    repository, tag = registry_image.rsplit(":", 1)
    client = docker.DockerClient(base_url=docker_daemon.host)
    try:
        image = client.images.pull(repository, tag=tag)
    finally:
        client.close()

    assert registry_image in image.tags


@pytest.mark.usefixtures("docker_py_environ")
def test_docker_py_images_pull_without_stored_credentials_is_refused(
    registry_image: str, docker_daemon: DockerDaemon
) -> None:
    repository, tag = registry_image.rsplit(":", 1)
    client = docker.DockerClient(base_url=docker_daemon.host)
    try:
        with pytest.raises(docker.errors.APIError, match=NO_CREDENTIALS):
            client.images.pull(repository, tag=tag)
    finally:
        client.close()


# --- docker-compose ----------------------------------------------------------------------------


def compose_pull(
    env: Mapping[str, str], directory: Path, image: str
) -> subprocess.CompletedProcess[str]:
    """Debian's docker-compose 1.29 `pull` of a one-service project whose image is `image`."""
    require_tools("docker-compose")
    directory.mkdir(parents=True, exist_ok=True)
    compose_file = directory / "docker-compose.yml"
    compose_file.write_text(f'version: "3"\nservices:\n  app:\n    image: {image}\n')
    return run_client(env, "docker-compose", "-f", str(compose_file), "pull")


def test_docker_compose_pull_of_a_private_image_authenticates_through_the_helper(
    daemon_env: dict[str, str], registry: Registry, registry_image: str, tmp_path: Path
) -> None:
    assert docker_login(daemon_env, registry, registry.password).returncode == 0

    pull = compose_pull(daemon_env, tmp_path / "project", registry_image)

    assert pull.returncode == 0, pull


def test_docker_compose_pull_without_stored_credentials_fails(
    daemon_env: dict[str, str], registry_image: str, tmp_path: Path
) -> None:
    pull = compose_pull(daemon_env, tmp_path / "project", registry_image)

    assert pull.returncode != 0
    assert NO_CREDENTIALS in pull.stderr + pull.stdout, pull
