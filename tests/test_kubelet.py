"""`docker-credential-convox kubelet`: the helper as kubelet's image credential provider.

Run through the kubelet stand-in (standins/kubelet.py, itself checked against kubelet's own test
cases in test_kubelet_standin.py) with the config `kubelet config` prints, on a node that has no
D-Bus and no keyring: ECR through moto (behind the counting proxy), the fleet's shared registries
through moto's Secrets Manager, and skopeo pulling from the local registry with the credentials
the stand-in chose.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import pytest
from support import BIN_DIR, get_reply, run_client, run_helper_in
from support.shared import MAX_AGE, NewMachine, share, unshare

from standins.kubelet import AuthConfig, Kubelet, PluginProvider, ServiceAccount, parse_config
from standins.registry import Registry, write_accept_anything_policy

if TYPE_CHECKING:
    from support.aws_emulator import AwsProxy

pytest_plugins = ["support.aws_emulator", "support.shared"]

V1 = "credentialprovider.kubelet.k8s.io/v1"
ECR_HOST = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
GET_TOKEN = "ecr:GetAuthorizationToken"
WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
ROLE = "arn:aws:iam::123456789012:role/workload"
ROLE_ANNOTATION = "eks.amazonaws.com/ecr-role-arn"


def request(image: str, api_version: str = V1, **extra: object) -> str:
    return json.dumps(
        {"kind": "CredentialProviderRequest", "apiVersion": api_version, "image": image, **extra}
    )


def kubelet_call(env: dict[str, str], body: str) -> subprocess.CompletedProcess[str]:
    return run_helper_in(env, "kubelet", stdin=body)


def response_of(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode == 0, result
    document: dict[str, object] = json.loads(result.stdout)
    return document


@pytest.fixture
def node(new_machine: NewMachine) -> dict[str, str]:
    """A node: no D-Bus, no keyring, the fleet's scope and AWS endpoints on the proxy."""
    return new_machine("node")


@pytest.fixture
def kubelet(node: dict[str, str], tmp_path: Path) -> Kubelet:
    """The stand-in kubelet with the provider entry `kubelet config` prints for this node."""
    result = run_helper_in(node, "kubelet", "config", "--match", "127.0.0.1:*")
    assert result.returncode == 0, result
    entry = json.loads(result.stdout)
    config = tmp_path / "credential-provider.json"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "kubelet.config.k8s.io/v1",
                "kind": "CredentialProviderConfig",
                "providers": [entry],
            }
        )
    )
    return Kubelet.from_config(config, BIN_DIR, environ=node)


# -- the protocol --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        request(""),
        json.dumps({"kind": "Wrong", "apiVersion": V1, "image": "a.io/b"}),
        request("a.io/b", api_version="credentialprovider.kubelet.k8s.io/v2"),
        json.dumps([1]),
        request("a.io/b", serviceAccountToken=7),
    ],
)
def test_invalid_requests_exit_1_with_one_line_on_stderr(node: dict[str, str], body: str) -> None:
    result = kubelet_call(node, body)
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "api_version",
    [V1, "credentialprovider.kubelet.k8s.io/v1beta1", "credentialprovider.kubelet.k8s.io/v1alpha1"],
)
def test_no_credentials_is_an_empty_answer_cached_per_registry_for_the_shared_age(
    node: dict[str, str], api_version: str
) -> None:
    result = kubelet_call({**node, MAX_AGE: "120"}, request("nobody.example.com/app", api_version))
    assert result.stdout == (
        '{"kind":"CredentialProviderResponse","apiVersion":"' + api_version + '",'
        '"cacheKeyType":"Registry","cacheDuration":"2m0s","auth":{}}\n'
    )


def test_a_token_never_shows_in_an_error(node: dict[str, str]) -> None:
    secret_token = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0.c2lnbmF0dXJl"
    body = request(
        f"{ECR_HOST}/app",
        serviceAccountToken=secret_token,
        serviceAccountAnnotations={ROLE_ANNOTATION: "not-a-role"},
    )
    result = kubelet_call(node, body)
    assert result.returncode == 1
    assert secret_token not in result.stderr + result.stdout
    assert "does not name a role" in result.stderr


# -- ECR -----------------------------------------------------------------------------------


def test_ecr_images_get_a_token_for_half_its_remaining_life(
    kubelet: Kubelet, node: dict[str, str], aws_proxy: AwsProxy
) -> None:
    [auth] = kubelet.credentials(f"{ECR_HOST}/team/app")
    assert auth.username == "AWS"
    # `get` with the cache the provider keeps on a node (the runtime directory): the same token.
    runtime_cache = str(Path(node["DOCKER_CREDENTIAL_CONVOX_RUNTIME_DIR"]) / "cache")
    get_env = {**node, "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR": runtime_cache}
    reply = get_reply(run_helper_in(get_env, "get", stdin=ECR_HOST))
    assert reply is not None
    assert auth.password == reply["Secret"]
    answer = response_of(kubelet_call(node, request(f"{ECR_HOST}/app")))
    assert answer["cacheKeyType"] == "Registry"
    assert list(answer["auth"]) == [ECR_HOST]  # type: ignore[call-overload]
    hours = float(str(answer["cacheDuration"]).split("h")[0])
    assert 5 <= hours <= 6  # a 12 h token: at most half of what remains
    assert aws_proxy.count(GET_TOKEN) == 1


def test_twenty_requests_on_one_node_mint_one_token(kubelet: Kubelet, aws_proxy: AwsProxy) -> None:
    [provider] = kubelet.providers
    for number in range(20):  # past kubelet's own cache: the plugin itself, 20 times
        response = provider.exec_plugin(f"{ECR_HOST}/app{number}")
        assert response.auth[ECR_HOST].username == "AWS"
    assert aws_proxy.count(GET_TOKEN) == 1


def test_node_caches_live_in_the_runtime_directory_not_on_disk(
    node: dict[str, str], aws_proxy: AwsProxy
) -> None:
    response_of(kubelet_call(node, request(f"{ECR_HOST}/app")))
    home = Path(node["HOME"])
    runtime = Path(node["DOCKER_CREDENTIAL_CONVOX_RUNTIME_DIR"])
    on_disk = [p for p in home.rglob("tokens.json") if runtime not in p.parents]
    assert on_disk == []  # the token cache is not under HOME (the single file's libraries may be)
    assert list(runtime.rglob("tokens.json"))


def _token(subject: str) -> str:
    """A service-account token as kubelet passes it (moto does not check the signature)."""
    header = base64.urlsafe_b64encode(b'{"alg":"RS256"}').rstrip(b"=").decode()
    claims = {"sub": subject, "aud": ["sts.amazonaws.com"], "exp": int(time.time()) + 3600}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.c2lnbmF0dXJl"


def test_service_account_tokens_mint_per_workload_and_are_cached_apart(
    node: dict[str, str], aws_proxy: AwsProxy
) -> None:
    [provider_config] = parse_config(
        {
            "apiVersion": "kubelet.config.k8s.io/v1",
            "kind": "CredentialProviderConfig",
            "providers": [
                json.loads(
                    run_helper_in(node, "kubelet", "config", "--service-account-tokens").stdout
                )
            ],
        }
    )
    provider = PluginProvider(provider_config, BIN_DIR, environ=node)
    alice = ServiceAccount(
        "apps",
        "alice",
        "uid-a",
        {ROLE_ANNOTATION: ROLE},
        _token("system:serviceaccount:apps:alice"),
    )
    bob = ServiceAccount(
        "apps", "bob", "uid-b", {ROLE_ANNOTATION: ROLE}, _token("system:serviceaccount:apps:bob")
    )
    image = f"{ECR_HOST}/app"
    alice_auth = provider.exec_plugin(image, alice.token, {ROLE_ANNOTATION: ROLE}).auth[ECR_HOST]
    assert aws_proxy.count(WEB_IDENTITY) == 1
    assert aws_proxy.count(GET_TOKEN) == 1
    provider.exec_plugin(image, alice.token, {ROLE_ANNOTATION: ROLE})
    assert aws_proxy.count(GET_TOKEN) == 1  # alice again: her cached token
    bob_auth = provider.exec_plugin(image, bob.token, {ROLE_ANNOTATION: ROLE}).auth[ECR_HOST]
    assert aws_proxy.count(WEB_IDENTITY) == 2  # bob's never answered from alice's
    node_auth = provider.exec_plugin(image).auth[ECR_HOST]  # no token: the node's own
    assert aws_proxy.count(WEB_IDENTITY) == 2
    assert aws_proxy.count(GET_TOKEN) == 3
    assert len({alice_auth.password, bob_auth.password, node_auth.password}) == 3
    # No role anywhere: the node's credentials, as cloud-provider-aws falls back.
    provider.exec_plugin(image, alice.token, {})
    assert aws_proxy.count(WEB_IDENTITY) == 2
    # AWS_ECR_ROLE_ARN gives the role when the annotation does not; the annotation wins.
    with_env = PluginProvider(provider_config, BIN_DIR, environ={**node, "AWS_ECR_ROLE_ARN": ROLE})
    with_env.exec_plugin(image, _token("system:serviceaccount:apps:carol"), {})
    assert aws_proxy.count(WEB_IDENTITY) == 3


# -- the fleet's shared registries and a real pull ----------------------------------------------


def _skopeo_inspect(
    tmp_path: Path, registry: Registry, image: str, auth: Optional[AuthConfig]
) -> subprocess.CompletedProcess[str]:
    """skopeo with exactly the credentials kubelet chose (an auth file, nothing in argv)."""
    auth_file = tmp_path / "auth.json"
    auths = {}
    if auth is not None:
        token = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
        auths[registry.host] = {"auth": token}
    auth_file.write_text(json.dumps({"auths": auths}))
    os.chmod(auth_file, 0o600)
    policy = write_accept_anything_policy(tmp_path / "policy.json")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    return run_client(
        env,
        "skopeo",
        "--policy",
        str(policy),
        "inspect",
        "--tls-verify=false",
        "--authfile",
        str(auth_file),
        f"docker://{image}",
    )


def test_shared_registry_pulls_then_is_refused_after_removal(
    new_machine: NewMachine,
    tmp_path: Path,
    registry: Registry,
    registry_image: str,
    aws_proxy: AwsProxy,
) -> None:
    operator = new_machine("operator")
    node = {**new_machine("node"), MAX_AGE: "2"}
    assert share(operator, registry.host, registry.username, registry.password).returncode == 0
    config = tmp_path / "config.json"
    entry = json.loads(run_helper_in(node, "kubelet", "config", "--shared-registries").stdout)
    assert registry.host in entry["matchImages"]
    config.write_text(
        json.dumps(
            {
                "apiVersion": "kubelet.config.k8s.io/v1",
                "kind": "CredentialProviderConfig",
                "providers": [entry],
            }
        )
    )
    clock = [time.monotonic()]
    kubelet = Kubelet.from_config(config, BIN_DIR, environ=node, clock=lambda: clock[0])
    image = registry_image.rsplit(":", 1)[0]  # kubelet asks for the repository, no tag
    [auth] = kubelet.credentials(image)
    assert auth == AuthConfig(registry.username, registry.password)
    assert _skopeo_inspect(tmp_path, registry, registry_image, auth).returncode == 0
    # the kubelet answer is `get`'s answer for the same registry
    assert get_reply(run_helper_in(node, "get", stdin=registry.host)) == {
        "ServerURL": registry.host,
        "Username": registry.username,
        "Secret": registry.password,
    }
    assert unshare(operator, registry.host).returncode == 0
    clock[0] += 3  # past the response's cacheDuration (the shared age)
    time.sleep(2.5)  # and past the node's own shared cache
    assert kubelet.credentials(image) == []
    refused = _skopeo_inspect(tmp_path, registry, registry_image, None)
    assert refused.returncode != 0


def test_config_merges_beside_ecr_credential_provider(node: dict[str, str], tmp_path: Path) -> None:
    existing = {
        "apiVersion": "kubelet.config.k8s.io/v1",
        "kind": "CredentialProviderConfig",
        "providers": [
            {
                "name": "ecr-credential-provider",
                "matchImages": ["*.dkr.ecr.*.amazonaws.com"],
                "defaultCacheDuration": "12h",
                "apiVersion": V1,
            }
        ],
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(existing))
    result = run_helper_in(node, "kubelet", "config", "--merge", str(path))
    assert result.returncode == 0, result
    merged = json.loads(result.stdout)
    names = [p["name"] for p in merged["providers"]]
    assert names == ["ecr-credential-provider", "docker-credential-convox"]
    providers = parse_config(merged)  # kubelet would start with it
    assert providers[1].args == ("kubelet",)
    again = tmp_path / "again.json"
    again.write_text(result.stdout)
    twice = json.loads(run_helper_in(node, "kubelet", "config", "--merge", str(again)).stdout)
    assert [p["name"] for p in twice["providers"]] == names  # merging again replaces ours


# -- the kubelet answer is `get`'s answer, route by route ------------------------------------


def _store(env: dict[str, str], server: str, username: str, secret: str) -> None:
    body = json.dumps({"ServerURL": server, "Username": username, "Secret": secret})
    result = run_helper_in(env, "store", stdin=body)
    assert result.returncode == 0, result


@pytest.mark.parametrize(
    "route",
    [
        "local login",
        "local path login",
        "shared login",
        "local wins over shared",
        "ECR keys",
        "ECR default chain",
        "nothing",
    ],
)
def test_the_kubelet_answer_is_what_get_answers(
    ecr_env: dict[str, str], shared_scope: str, tmp_path: Path, route: str
) -> None:
    env = {
        **ecr_env,
        "DOCKER_CREDENTIAL_CONVOX_SHARED": shared_scope,
        "DOCKER_CREDENTIAL_CONVOX_RUNTIME_DIR": str(tmp_path / "run"),
        # `get` and the provider read the same token cache.
        "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR": str(tmp_path / "cache"),
    }
    registry, image = "registry.example.com:5000", "registry.example.com:5000/team/app"
    if route == "local login":
        _store(env, registry, "alice", "alice-secret")
    elif route == "local path login":
        _store(env, "registry.example.com:5000/team", "team", "team-secret")
        _store(env, registry, "alice", "alice-secret")
    elif route in ("shared login", "local wins over shared"):
        shared = run_helper_in(
            env,
            "registries",
            "add",
            registry,
            "--shared",
            "--no-verify",
            "--username",
            "fleet",
            "--password-stdin",
            stdin="fleet-secret",
        )
        assert shared.returncode == 0, shared
        if route == "local wins over shared":
            _store(env, registry, "alice", "alice-secret")
    elif route == "ECR keys":
        registry = image = ECR_HOST
        _store(env, ECR_HOST, "AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")
    elif route == "ECR default chain":
        registry = image = ECR_HOST
    answer = response_of(kubelet_call(env, request(image)))
    reply = get_reply(run_helper_in(env, "get", stdin=image))
    if reply is None:
        assert answer["auth"] == {}
        return
    assert answer["auth"] == {
        registry: {"username": reply["Username"], "password": reply["Secret"]}
    }
    # an answer that depends on the path is kept per image, never for the whole registry
    assert answer["cacheKeyType"] == ("Image" if route == "local path login" else "Registry")
