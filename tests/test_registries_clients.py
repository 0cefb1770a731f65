"""After `registries add` alone, real clients authenticate: the Docker CLI, skopeo, and ECR.

The private registry is Debian's docker-registry with htpasswd on 127.0.0.1 (standins.registry);
ECR is moto_server behind the counting proxy of support.aws_emulator (every AWS call is seen there).
No Docker daemon: `docker manifest inspect --insecure` works client-side, and `docker pull`
calls the helper's `get` once before it needs the daemon.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import docker_config_path, helper_listing, run_client
from support.registries import add, assert_one_line_error, get_credentials, read_config, registries

from standins.environment import FAKE_AWS_ENV
from standins.registry import Registry

if TYPE_CHECKING:
    from support.aws_emulator import AwsProxy

# moto_server, the counting proxy and `ecr_env`, shared with the ECR tests.
pytest_plugins = ["support.aws_emulator"]
pytestmark = pytest.mark.clients

GET_TOKEN = "ecr:GetAuthorizationToken"  # operation names as the counting proxy records them
ASSUME_ROLE = "sts:AssumeRole"

ECR_HOST = "210987654321.dkr.ecr.us-east-1.amazonaws.com"
ACCESS_KEY_ID = "AKIAI44QH8DHBEXAMPLE"
SECRET_ACCESS_KEY = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"


@pytest.fixture
def client_env(helper_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The test's environment for docker and skopeo: no daemon, skopeo's files kept inside."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    return {
        **helper_env,
        "XDG_RUNTIME_DIR": str(runtime),
        "DOCKER_HOST": f"unix://{tmp_path / 'no-docker-daemon.sock'}",
        "DOCKER_CLI_HINTS": "false",
    }


@pytest.fixture
def ecr_client_env(client_env: dict[str, str], ecr_env: dict[str, str]) -> dict[str, str]:
    return {**ecr_env, **{k: v for k, v in client_env.items() if k not in ecr_env}}


def add_ecr_keys(env: Mapping[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return add(env, ECR_HOST, ACCESS_KEY_ID, SECRET_ACCESS_KEY, *extra)


# --- the private registry ------------------------------------------------------------------


def test_after_registries_add_alone_docker_manifest_inspect_authenticates(
    client_env: dict[str, str], registry: Registry, registry_image: str
) -> None:
    denied = run_client(client_env, "docker", "manifest", "inspect", "--insecure", registry_image)
    assert denied.returncode != 0

    assert add(client_env, registry.host, registry.username, registry.password).returncode == 0
    result = run_client(client_env, "docker", "manifest", "inspect", "--insecure", registry_image)

    assert result.returncode == 0, result
    assert json.loads(result.stdout)["schemaVersion"] == 2


def test_after_registries_add_alone_skopeo_inspect_authenticates(
    client_env: dict[str, str], registry: Registry, registry_image: str
) -> None:
    assert add(client_env, registry.host, registry.username, registry.password).returncode == 0

    result = run_client(
        client_env, "skopeo", "inspect", "--tls-verify=false", f"docker://{registry_image}"
    )

    assert result.returncode == 0, result
    assert json.loads(result.stdout)["Name"] == registry_image.rsplit(":", 1)[0]


def test_after_registries_remove_docker_and_skopeo_are_refused_again(
    client_env: dict[str, str], registry: Registry, registry_image: str
) -> None:
    assert add(client_env, registry.host, registry.username, registry.password).returncode == 0
    assert registries(client_env, "remove", registry.host).returncode == 0

    docker = run_client(client_env, "docker", "manifest", "inspect", "--insecure", registry_image)
    skopeo = run_client(
        client_env, "skopeo", "inspect", "--tls-verify=false", f"docker://{registry_image}"
    )

    assert "no basic auth credentials" in docker.stderr, docker
    assert "authentication required" in skopeo.stderr, skopeo


# --- Amazon ECR ------------------------------------------------------------------------------


def test_add_ecr_with_access_keys_checks_them_by_minting_a_token_with_those_keys(
    ecr_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    result = add_ecr_keys(ecr_env)

    assert (result.returncode, result.stdout, result.stderr) == (0, "Done.\n", ""), result
    minted = aws_proxy.calls_of(GET_TOKEN)
    assert [(call.access_key_id, call.region) for call in minted] == [(ACCESS_KEY_ID, "us-east-1")]
    assert read_config(ecr_env) == {"credHelpers": {ECR_HOST: "convox"}}
    assert helper_listing(ecr_env) == {ECR_HOST: ACCESS_KEY_ID}
    reply = get_credentials(ecr_env, ECR_HOST)
    assert reply is not None
    assert reply["Username"] == "AWS"
    assert aws_proxy.count(GET_TOKEN) == 1  # the token minted to check the keys is reused


def test_add_ecr_with_keys_aws_refuses_is_one_line_and_changes_nothing(
    ecr_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    aws_proxy.fail(
        GET_TOKEN,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )

    result = add_ecr_keys(ecr_env)

    line = assert_one_line_error(result, SECRET_ACCESS_KEY)
    assert line.startswith(f"unable to authenticate to {ECR_HOST} using the access key ")
    assert "UnrecognizedClientException" in line
    assert helper_listing(ecr_env) == {}
    assert not docker_config_path(ecr_env).exists()


def test_docker_pull_of_an_ecr_image_drives_one_get_minted_with_the_added_keys(
    ecr_client_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    assert add_ecr_keys(ecr_client_env, "--no-verify").returncode == 0
    assert aws_proxy.count(GET_TOKEN) == 0

    pull = run_client(ecr_client_env, "docker", "pull", f"{ECR_HOST}/convox/app:v1")

    # No daemon: the pull fails after the credentials were fetched through the helper.
    assert pull.returncode != 0
    assert "Cannot connect to the Docker daemon" in pull.stderr, pull
    assert [call.access_key_id for call in aws_proxy.calls_of(GET_TOKEN)] == [ACCESS_KEY_ID]


def test_add_ecr_with_a_profile_records_it_and_mints_with_its_keys(
    ecr_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    Path(ecr_env["AWS_CONFIG_FILE"]).write_text(
        "[profile pull]\n"
        f"aws_access_key_id = {ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {SECRET_ACCESS_KEY}\n"
    )

    result = registries(ecr_env, "add", ECR_HOST, "--profile", "pull")

    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    assert [call.access_key_id for call in aws_proxy.calls_of(GET_TOKEN)] == [ACCESS_KEY_ID]
    listing = registries(ecr_env, "list")
    assert listing.stdout.splitlines()[1].split() == [ECR_HOST, "-", "ecr:", "profile", "pull"]


def test_add_ecr_with_a_role_assumes_it_with_the_external_id(
    ecr_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    role = "arn:aws:iam::210987654321:role/ecr-pull"

    result = registries(ecr_env, "add", ECR_HOST, "--role-arn", role, "--external-id", "ext-42")

    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    assumed = aws_proxy.calls_of(ASSUME_ROLE)
    assert [(call.params["RoleArn"], call.params["ExternalId"]) for call in assumed] == [
        (role, "ext-42")
    ]
    rows = json.loads(registries(ecr_env, "list", "--json").stdout)
    assert rows == [
        {
            "server": ECR_HOST,
            "key": ECR_HOST,
            "username": None,
            "kind": "ecr",
            "source": "ecr-role",
            "options": {"role_arn": role, "external_id": "ext-42"},
            "scope": "local",
        }
    ]


def test_add_ecr_with_nothing_given_checks_the_default_chain_and_routes_docker(
    ecr_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    result = registries(ecr_env, "add", ECR_HOST)

    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    assert "Using the AWS default credential chain" in result.stderr
    env_key = FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"]
    assert [call.access_key_id for call in aws_proxy.calls_of(GET_TOKEN)] == [env_key]
    assert read_config(ecr_env) == {"credHelpers": {ECR_HOST: "convox"}}
    listing = registries(ecr_env, "list")
    assert listing.stdout.splitlines()[1].split() == [
        ECR_HOST,
        "-",
        "ecr:",
        "default",
        "AWS",
        "chain",
    ]


def test_add_ecr_with_the_default_chain_replaces_stored_keys(
    ecr_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    assert add_ecr_keys(ecr_env).returncode == 0

    assert registries(ecr_env, "add", ECR_HOST).returncode == 0
    aws_proxy.reset()
    reply = get_credentials(ecr_env, ECR_HOST)

    assert reply is not None
    assert [call.access_key_id for call in aws_proxy.calls_of(GET_TOKEN)] == [
        FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"]
    ]


def test_remove_ecr_forgets_the_keys_the_cached_tokens_and_the_route(
    ecr_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    assert add_ecr_keys(ecr_env).returncode == 0

    result = registries(ecr_env, "remove", ECR_HOST)

    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    assert read_config(ecr_env) == {"credHelpers": {}}
    assert helper_listing(ecr_env) == {}
    aws_proxy.reset()
    assert get_credentials(ecr_env, ECR_HOST) is not None  # minted anew, from the default chain
    assert [call.access_key_id for call in aws_proxy.calls_of(GET_TOKEN)] == [
        FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"]
    ]


def test_aws_flags_are_refused_together_or_without_a_role(ecr_env: dict[str, str]) -> None:
    both = registries(ecr_env, "add", ECR_HOST, "--profile", "p", "--role-arn", "arn:aws:x")
    external = registries(ecr_env, "add", ECR_HOST, "--external-id", "x")

    assert assert_one_line_error(both) == "give either --profile or --role-arn, not both"
    assert assert_one_line_error(external) == "--external-id goes with --role-arn"


def test_a_failed_add_of_an_ecr_host_shows_its_hint_naming_the_registry(
    ecr_env: dict[str, str],
) -> None:
    no_keys = {
        k: v for k, v in ecr_env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }

    result = registries(no_keys, "add", ECR_HOST)

    assert (result.returncode, result.stdout) == (1, ""), result
    error, *hint = [line for line in result.stderr.splitlines() if not line.startswith("Using ")]
    assert error.startswith(f"unable to authenticate to {ECR_HOST} using the AWS default")
    assert "NoCredentials" in error
    # The hint built for this failure, with SERVER replaced by the registry it names.
    assert hint, result
    assert hint[0].startswith("hint: give the helper AWS credentials")
    assert f"docker-credential-convox registries add {ECR_HOST}" in hint[0]
    assert "SERVER" not in result.stderr
    assert not docker_config_path(no_keys).exists()
