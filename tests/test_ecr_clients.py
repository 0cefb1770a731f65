"""Real clients asking the installed helper for an ECR host: `docker pull` and skopeo.

`docker pull` asks for credentials before it needs a daemon, so with DOCKER_HOST pointing at a
socket nobody serves it drives exactly one `get` and never touches the network. skopeo goes on
to contact the registry itself, so it runs in a network namespace of its own with nothing but
loopback: no ECR host can be reached, and the helper answers from its cache (or fails to reach
the emulator, which is the point of the error test).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import run_client

if TYPE_CHECKING:
    from support.aws_emulator import AwsProxy

pytest_plugins = ["support.aws_emulator"]
pytestmark = pytest.mark.clients

GET_TOKEN = "ecr:GetAuthorizationToken"
HOST = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
IMAGE = f"{HOST}/convox/app:1"


def _can_unshare_network() -> bool:
    if shutil.which("unshare") is None:
        return False
    return (
        subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0
    )


@pytest.fixture
def client_env(ecr_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """`ecr_env` whose Docker config routes HOST to the helper; no Docker daemon anywhere."""
    config = Path(ecr_env["DOCKER_CONFIG"]) / "config.json"
    config.write_text(json.dumps({"credHelpers": {HOST: "convox"}}))
    return {**ecr_env, "DOCKER_HOST": f"unix://{tmp_path}/no-daemon.sock"}


def cached_registries(env: dict[str, str]) -> list[str]:
    path = Path(env["XDG_CACHE_HOME"]) / "docker-credential-convox" / "tokens.json"
    return [token["registry"] for token in json.loads(path.read_text())["tokens"].values()]


@pytest.mark.skipif(shutil.which("docker") is None, reason="the Docker CLI is not installed")
def test_docker_pull_gets_an_ecr_token_through_the_helper_once(
    client_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    first = run_client(client_env, "docker", "pull", IMAGE)
    assert first.returncode != 0  # no daemon: the pull itself cannot happen
    assert "daemon" in first.stderr.lower()
    assert aws_proxy.count(GET_TOKEN) == 1
    assert cached_registries(client_env) == [HOST]

    run_client(client_env, "docker", "pull", IMAGE)
    assert aws_proxy.count(GET_TOKEN) == 1  # the second pull's `get` hit the cache


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
@pytest.mark.skipif(not _can_unshare_network(), reason="needs `unshare -n` (root)")
def test_skopeo_with_cred_helpers_gets_the_cached_ecr_token(
    client_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    from support import run_helper_in

    assert run_helper_in(client_env, "get", stdin=HOST).returncode == 0  # warm the cache
    env = {**client_env, "DOCKER_CREDENTIAL_CONVOX_DEBUG": "1"}
    result = run_client(env, "unshare", "-n", "skopeo", "inspect", f"docker://{IMAGE}")
    assert result.returncode != 0  # the registry is unreachable from the namespace
    assert "error getting credentials" not in result.stderr
    assert f"token cache hit for {HOST}" in result.stderr  # the helper's stderr reaches the user
    assert aws_proxy.count(GET_TOKEN) == 1


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
@pytest.mark.skipif(not _can_unshare_network(), reason="needs `unshare -n` (root)")
def test_skopeo_shows_the_helpers_one_line_error_when_no_token_can_be_minted(
    client_env: dict[str, str],
) -> None:
    # In its own namespace the emulator is out of reach too: the mint fails to connect.
    result = run_client(client_env, "unshare", "-n", "skopeo", "inspect", f"docker://{IMAGE}")
    assert result.returncode != 0
    assert "error getting credentials" in result.stderr
    assert f"cannot get an ECR token for {HOST} using the AWS default credential chain" in (
        result.stderr
    )
    assert "EndpointConnectionError" in result.stderr
