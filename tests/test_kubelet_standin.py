"""The kubelet stand-in (standins/kubelet.py), checked with the cases of kubelet's own tests.

The tables below are those of kubernetes/kubernetes pkg/credentialprovider/keyring_test.go
(TestUrlsMatch, TestDockerKeyringForGlob, TestKeyringMiss, the Docker Hub tests,
TestIsDefaultRegistryMatch) and pkg/credentialprovider/plugin/plugin_test.go (Test_Provide,
Test_getCachedCredentials, Test_encodeRequest, Test_decodeResponse, the cache-key-type tests,
Test_NoCacheResponse, Test_ExecPluginEnvVars), restated in Python. Where kubelet's tests use a
fake in-process plugin, these run a real executable (a few lines of Python that print the
response a test asks for), because the stand-in's job includes the exec.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
from pathlib import Path
from typing import Optional

import pytest

from standins.kubelet import (
    AuthConfig,
    DockerKeyring,
    Kubelet,
    KubeletConfigError,
    PluginError,
    PluginProvider,
    Provider,
    ServiceAccount,
    decode_response,
    encode_request,
    is_default_registry_match,
    merge_env,
    parse_config,
    parse_go_duration,
    urls_match,
)

V1 = "credentialprovider.kubelet.k8s.io/v1"
V1BETA1 = "credentialprovider.kubelet.k8s.io/v1beta1"
V1ALPHA1 = "credentialprovider.kubelet.k8s.io/v1alpha1"
USER = AuthConfig("user", "password")


# -- keyring_test.go ---------------------------------------------------------------------------

URLS_MATCH = [
    # match when there is no path component
    ("*.kubernetes.io", "prefix.kubernetes.io", True),
    ("prefix.*.io", "prefix.kubernetes.io", True),
    ("prefix.kubernetes.*", "prefix.kubernetes.io", True),
    ("*-good.kubernetes.io", "prefix-good.kubernetes.io", True),
    # match with path components
    ("*.kubernetes.io/blah", "prefix.kubernetes.io/blah", True),
    ("prefix.*.io/foo", "prefix.kubernetes.io/foo/bar", True),
    # match with path components and ports
    ("*.kubernetes.io:1111/blah", "prefix.kubernetes.io:1111/blah", True),
    ("prefix.*.io:1111/foo", "prefix.kubernetes.io:1111/foo/bar", True),
    # no match when number of parts mismatch
    ("*.kubernetes.io", "kubernetes.io", False),
    ("*.*.kubernetes.io", "prefix.kubernetes.io", False),
    ("*.*.kubernetes.io", "kubernetes.io", False),
    # no match when some parts mismatch
    ("kubernetes.io", "kubernetes.com", False),
    ("k*.io", "quay.io", False),
    # no match when ports mismatch
    ("*.kubernetes.io:1234/blah", "prefix.kubernetes.io:1111/blah", False),
    ("prefix.*.io/foo", "prefix.kubernetes.io:1111/foo/bar", False),
    # ../shared/reference/kubelet.md: ECR's pattern and the hosts it must not take
    ("*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.us-west-2.amazonaws.com/app", True),
    ("*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app", False),
    ("*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.us-west-2.amazonaws.com:443/app", False),
]


@pytest.mark.parametrize(("glob", "target", "expected"), URLS_MATCH)
def test_urls_match_as_kubelet(glob: str, target: str, expected: bool) -> None:
    assert urls_match(glob, target) is expected


KEYRING_FOR_GLOB = [
    ("https://hello.kubernetes.io", "hello.kubernetes.io"),
    ("https://*.docker.io", "prefix.docker.io"),
    ("https://prefix.*.io", "prefix.docker.io"),
    ("https://prefix.docker.*", "prefix.docker.io"),
    ("https://*.docker.io/path", "prefix.docker.io/path"),
    ("https://prefix.*.io/path", "prefix.docker.io/path/subpath"),
    ("https://prefix.docker.*/path", "prefix.docker.io/path"),
    ("https://*.docker.io:8888", "prefix.docker.io:8888"),
    ("https://prefix.*.io:8888", "prefix.docker.io:8888"),
    ("https://prefix.docker.*:8888", "prefix.docker.io:8888"),
    ("https://*.docker.io/path:1111", "prefix.docker.io/path:1111"),
    ("https://*.docker.io/v1/", "prefix.docker.io/path:1111"),
    ("https://*.docker.io/v2/", "prefix.docker.io/path:1111"),
    ("https://prefix.docker.*/path:1111", "prefix.docker.io/path:1111"),
    ("prefix.docker.io:1111", "prefix.docker.io:1111/path"),
    ("*.docker.io:1111", "prefix.docker.io:1111/path"),
]


@pytest.mark.parametrize(("glob", "target"), KEYRING_FOR_GLOB)
def test_keyring_finds_glob_entries(glob: str, target: str) -> None:
    keyring = DockerKeyring()
    keyring.add({glob: USER})
    assert keyring.lookup(target + "/foo/bar") == [USER]


KEYRING_MISS = [
    ("https://hello.kubernetes.io", "world.mesos.org/foo/bar"),
    ("https://*.docker.com", "prefix.docker.io"),
    ("https://suffix.*.io", "prefix.docker.io"),
    ("https://prefix.docker.c*", "prefix.docker.io"),
    ("https://prefix.*.io/path:1111", "prefix.docker.io/path/subpath:1111"),
    ("suffix.*.io", "prefix.docker.io"),
]


@pytest.mark.parametrize(("glob", "lookup"), KEYRING_MISS)
def test_keyring_misses(glob: str, lookup: str) -> None:
    keyring = DockerKeyring()
    keyring.add({glob: USER})
    assert keyring.lookup(lookup + "/foo/bar") == []


def test_docker_hub_credentials_do_not_answer_other_registries() -> None:
    keyring = DockerKeyring()
    keyring.add({"https://index.docker.io/v1/": USER})
    assert keyring.lookup("world.mesos.org/foo/bar") == []


@pytest.mark.parametrize(
    "image", ["google/docker-registry", "jenkins", "index.docker.io/v1//google/docker-registry"]
)
def test_docker_hub_credentials_answer_hub_images(image: str) -> None:
    keyring = DockerKeyring()
    keyring.add({"https://index.docker.io/v1/": USER})
    assert keyring.lookup(image)[:1] == [USER]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("foo/bar", True),
        ("docker.io/foo/bar", True),
        ("index.docker.io/foo/bar", True),
        ("foo", True),
        ("", False),
        ("registry.tld/foo/bar", False),
        ("registry:5000/foo/bar", False),
        ("myhostdocker.io/foo/bar", False),
    ],
)
def test_default_registry_match(image: str, expected: bool) -> None:
    assert is_default_registry_match(image) is expected


# -- plugin_test.go --------------------------------------------------------------------------

PLUGIN = """\
#!{python}
import json, os, sys
request = sys.stdin.read()
with open(os.environ["PLUGIN_LOG"], "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "request": request,
                           "env": os.environ.get("SUPER_SECRET_STRONG_ACCESS_KEY")}}) + "\\n")
sys.stdout.write(os.environ["PLUGIN_RESPONSE"])
sys.exit(int(os.environ.get("PLUGIN_EXIT", "0")))
"""


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def response(
    cache_key_type: str,
    auth: dict[str, AuthConfig],
    duration: Optional[str] = None,
    api_version: str = V1,
) -> str:
    document: dict[str, object] = {
        "kind": "CredentialProviderResponse",
        "apiVersion": api_version,
        "cacheKeyType": cache_key_type,
        "auth": {k: {"username": v.username, "password": v.password} for k, v in auth.items()},
    }
    if duration is not None:
        document["cacheDuration"] = duration
    return json.dumps(document)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    plugin = directory / "test-plugin"
    plugin.write_text(PLUGIN.format(python=sys.executable))
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    return directory


def provider_for(
    bin_dir: Path,
    match_images: list[str],
    answer: str,
    *,
    clock: Optional[FakeClock] = None,
    default_cache_duration: float = 0.0,
    api_version: str = V1,
    env: tuple[tuple[str, str], ...] = (),
    exit_code: int = 0,
) -> PluginProvider:
    environ = {
        "PATH": os.environ["PATH"],
        "PLUGIN_RESPONSE": answer,
        "PLUGIN_LOG": str(bin_dir / "log"),
        "PLUGIN_EXIT": str(exit_code),
    }
    provider = Provider(
        "test-plugin", tuple(match_images), default_cache_duration, api_version, env=env
    )
    return PluginProvider(provider, bin_dir, environ=environ, clock=clock or FakeClock())


PROVIDE_CASES = [
    (
        "exact image match, with Registry cache key",
        ["test.registry.io"],
        "Registry",
        {"test.registry.io": USER},
        "test.registry.io/foo/bar",
    ),
    (
        "exact image match, with Image cache key",
        ["test.registry.io/foo/bar"],
        "Image",
        {"test.registry.io/foo/bar": USER},
        "test.registry.io/foo/bar",
    ),
    (
        "exact image match, with Global cache key",
        ["test.registry.io"],
        "Global",
        {"test.registry.io": USER},
        "test.registry.io",
    ),
    (
        "wild card image match, with Registry cache key",
        ["*.registry.io:8080"],
        "Registry",
        {"*.registry.io:8080": USER},
        "test.registry.io:8080/foo",
    ),
    (
        "wild card image match, with Image cache key",
        ["*.*.registry.io"],
        "Image",
        {"*.*.registry.io": USER},
        "foo.bar.registry.io/foo/bar",
    ),
    (
        "wild card image match, with Global cache key",
        ["*.registry.io"],
        "Global",
        {"*.registry.io": USER},
        "test.registry.io",
    ),
]


@pytest.mark.parametrize(
    ("name", "match_images", "key_type", "auth", "image"),
    PROVIDE_CASES,
    ids=[c[0] for c in PROVIDE_CASES],
)
def test_provide(  # noqa: PLR0917 - one parameter per column of kubelet's table
    bin_dir: Path,
    name: str,
    match_images: list[str],
    key_type: str,
    auth: dict[str, AuthConfig],
    image: str,
) -> None:
    plugin = provider_for(bin_dir, match_images, response(key_type, auth))
    assert plugin.provide(image) == auth


def test_provide_parallel_execs_once_per_image(bin_dir: Path) -> None:
    plugin = provider_for(
        bin_dir, ["test1.registry.io"], response("Registry", {"test.registry.io": USER}, "1m")
    )
    results: list[dict[str, AuthConfig]] = []
    threads = [
        threading.Thread(target=lambda: results.append(plugin.provide("test1.registry.io/same")))
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [{"test.registry.io": USER}] * 5
    assert plugin.execs == 1


@pytest.mark.parametrize(
    ("key_type", "expected_keys"),
    [
        ("Registry", ["test.registry.io"]),
        ("Image", ["test.registry.io/foo/bar"]),
        ("Global", ["global"]),
    ],
)
def test_cache_key_types(bin_dir: Path, key_type: str, expected_keys: list[str]) -> None:
    plugin = provider_for(
        bin_dir, ["*.registry.io"], response(key_type, {"*.registry.io": USER}, "1h")
    )
    assert plugin.provide("test.registry.io/foo/bar") == {"*.registry.io": USER}
    assert [json.loads(k)[0] for k in plugin.cache] == expected_keys
    # A second request is answered from the cache: the plugin does not run again.
    assert plugin.provide("test.registry.io/foo/bar") == {"*.registry.io": USER}
    assert plugin.execs == 1


def test_no_cache_response(bin_dir: Path) -> None:
    plugin = provider_for(
        bin_dir, ["*.registry.io"], response("Global", {"*.registry.io": USER}, "0s")
    )
    assert plugin.provide("test.registry.io/foo/bar") == {"*.registry.io": USER}
    assert plugin.cache == {}


def test_cached_credentials_expire(bin_dir: Path) -> None:
    clock = FakeClock()
    plugin = provider_for(
        bin_dir, ["*.registry.io"], response("Image", {"*.registry.io": USER}, "1m"), clock=clock
    )
    plugin.provide("image1.registry.io/a")
    clock.now += 1
    plugin.provide("image1.registry.io/a")
    assert plugin.execs == 1  # "It should return not expired credential"
    clock.now += 120
    plugin.provide("image1.registry.io/a")
    assert plugin.execs == 2  # "It should not return expired credential"


def test_missing_cache_duration_uses_the_default(bin_dir: Path) -> None:
    clock = FakeClock()
    plugin = provider_for(
        bin_dir,
        ["*.registry.io"],
        response("Registry", {"*.registry.io": USER}),
        clock=clock,
        default_cache_duration=600,
    )
    plugin.provide("a.registry.io/x")
    clock.now += 599
    plugin.provide("a.registry.io/y")
    assert plugin.execs == 1
    clock.now += 2
    plugin.provide("a.registry.io/y")
    assert plugin.execs == 2


@pytest.mark.parametrize("api_version", [V1ALPHA1, V1BETA1, V1])
def test_encode_request(api_version: str) -> None:
    assert (
        encode_request(api_version, "test.registry.io/foobar")
        == (
            '{"kind":"CredentialProviderRequest","apiVersion":"'
            + api_version
            + '","image":"test.registry.io/foobar"}\n'
        ).encode()
    )


@pytest.mark.parametrize("api_version", [V1, V1BETA1, V1ALPHA1])
def test_decode_response(api_version: str) -> None:
    data = (
        '{"kind":"CredentialProviderResponse","apiVersion":"' + api_version + '","cacheKeyType":'
        '"Registry","cacheDuration":"1m","auth":{"*.registry.io":{"username":"user","password":"password"}}}'
    )
    decoded = decode_response(data.encode(), api_version)
    assert (decoded.cache_key_type, decoded.cache_duration, decoded.auth) == (
        "Registry",
        60.0,
        {"*.registry.io": USER},
    )


def _refused(**changes: object) -> str:
    document: dict[str, object] = {
        "kind": "CredentialProviderResponse",
        "apiVersion": V1BETA1,
        "cacheKeyType": "Registry",
        "cacheDuration": "1m",
        "auth": {"*.registry.io": {"username": "user", "password": "password"}},
    }
    document.update(changes)
    return json.dumps(document, separators=(",", ":"))


@pytest.mark.parametrize(
    "data",
    [
        _refused(kind="WrongKind"),  # kubelet's "wrong Kind"
        _refused(apiVersion="foobar.kubelet.k8s.io/v1beta1"),  # kubelet's "wrong Group"
        # strict decoding: an unknown field, a bad duration, an unknown auth field, not JSON
        _refused(extra=1),
        _refused(cacheDuration="6 hours"),
        _refused(auth={"h": {"username": "u", "password": "password", "email": "e"}}),
        "not json",
    ],
)
def test_decode_response_refuses(data: str) -> None:
    with pytest.raises(PluginError) as caught:
        decode_response(data.encode(), V1BETA1)
    assert "password" not in str(caught.value)


def test_invalid_cache_key_type_discards_the_response(bin_dir: Path) -> None:
    plugin = provider_for(
        bin_dir, ["*.registry.io"], response("Repository", {"*.registry.io": USER})
    )
    assert plugin.provide("test.registry.io/foo") == {}
    assert "did not return a valid cacheKeyType" in plugin.log[-1]


def test_response_api_version_must_be_the_configured_one(bin_dir: Path) -> None:
    plugin = provider_for(
        bin_dir,
        ["*.registry.io"],
        response("Registry", {"*.registry.io": USER}, api_version=V1BETA1),
    )
    assert plugin.provide("test.registry.io/foo") == {}
    assert "did not match expected apiVersion" in plugin.log[-1]


def test_failing_plugin_contributes_nothing_and_logs_stderr(bin_dir: Path) -> None:
    plugin = provider_for(bin_dir, ["*.registry.io"], "", exit_code=1)
    assert plugin.provide("test.registry.io/foo") == {}
    expected = "error execing credential provider plugin test-plugin for image test.registry.io/foo"
    assert f"{expected}: exit status 1" in plugin.log[-1]


def test_plugin_not_asked_for_images_it_does_not_match(bin_dir: Path) -> None:
    plugin = provider_for(bin_dir, ["*.registry.io"], response("Registry", {"*.registry.io": USER}))
    assert plugin.provide("quay.io/foo") == {}
    assert plugin.execs == 0


@pytest.mark.parametrize(
    ("system", "config", "expected"),
    [
        (
            {"HOME": "/home/foo", "PATH": "/usr/bin"},
            [("SUPER_SECRET_STRONG_ACCESS_KEY", "123456789")],
            {
                "HOME": "/home/foo",
                "PATH": "/usr/bin",
                "SUPER_SECRET_STRONG_ACCESS_KEY": "123456789",
            },
        ),
        ({"HOME": "/home/foo", "PATH": "/usr/bin"}, [], {"HOME": "/home/foo", "PATH": "/usr/bin"}),
        (
            {},
            [("SUPER_SECRET_STRONG_ACCESS_KEY", "123456789")],
            {"SUPER_SECRET_STRONG_ACCESS_KEY": "123456789"},
        ),
        ({}, [], {}),
        (
            {"HOME": "/home/foo", "PATH": "/usr/bin", "SUPER_SECRET_STRONG_ACCESS_KEY": "1111"},
            [("SUPER_SECRET_STRONG_ACCESS_KEY", "123456789")],
            {
                "HOME": "/home/foo",
                "PATH": "/usr/bin",
                "SUPER_SECRET_STRONG_ACCESS_KEY": "123456789",
            },
        ),
    ],
)
def test_exec_plugin_env_vars(
    system: dict[str, str], config: list[tuple[str, str]], expected: dict[str, str]
) -> None:
    assert merge_env(system, config) == expected


def test_plugin_runs_with_args_and_config_env(bin_dir: Path) -> None:
    plugin = provider_for(
        bin_dir,
        ["*.registry.io"],
        response("Registry", {"*.registry.io": USER}),
        env=(("SUPER_SECRET_STRONG_ACCESS_KEY", "123456789"),),
    )
    plugin.provider.args = ("kubelet",)
    plugin.provide("test.registry.io/foo")
    record = json.loads((bin_dir / "log").read_text().splitlines()[-1])
    assert record["argv"] == ["kubelet"]
    assert record["env"] == "123456789"
    assert json.loads(record["request"]) == {
        "kind": "CredentialProviderRequest",
        "apiVersion": V1,
        "image": "test.registry.io/foo",
    }


def test_plugin_past_the_timeout_is_abandoned(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    plugin_path = bin_dir / "slow"
    plugin_path.write_text("#!/bin/sh\nexec sleep 30\n")
    plugin_path.chmod(0o755)
    plugin = PluginProvider(Provider("slow", ("*.registry.io",), 0, V1), bin_dir, timeout=0.5)
    assert plugin.provide("a.registry.io/x") == {}
    assert "context deadline exceeded" in plugin.log[-1]


# -- service-account tokens (KEP-4412) --------------------------------------------------------


def config_with_tokens(
    require: bool, required_keys: list[str], cache_type: str = "ServiceAccount"
) -> dict[str, object]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1",
        "kind": "CredentialProviderConfig",
        "providers": [
            {
                "name": "test-plugin",
                "matchImages": ["*.registry.io"],
                "defaultCacheDuration": "10m",
                "apiVersion": V1,
                "tokenAttributes": {
                    "serviceAccountTokenAudience": "sts.amazonaws.com",
                    "cacheType": cache_type,
                    "requireServiceAccount": require,
                    "requiredServiceAccountAnnotationKeys": required_keys,
                },
            }
        ],
    }


def test_service_account_token_and_annotations_are_sent_and_cached_apart(bin_dir: Path) -> None:
    [provider] = parse_config(config_with_tokens(True, ["eks.amazonaws.com/ecr-role-arn"]))
    plugin = provider_for(bin_dir, [], response("Registry", {"*.registry.io": USER}, "1h"))
    plugin.provider = provider
    role = "eks.amazonaws.com/ecr-role-arn"
    alice = ServiceAccount("ns", "alice", "uid-a", {role: "arn:a", "other": "x"}, "token-a")
    bob = ServiceAccount("ns", "bob", "uid-b", {role: "arn:b"}, "token-b")
    assert plugin.provide("a.registry.io/x", alice) == {"*.registry.io": USER}
    request = json.loads(json.loads((bin_dir / "log").read_text().splitlines()[-1])["request"])
    assert request["serviceAccountToken"] == "token-a"
    assert request["serviceAccountAnnotations"] == {role: "arn:a"}  # only the configured keys
    plugin.provide("a.registry.io/x", bob)
    plugin.provide("a.registry.io/x", alice)
    assert plugin.execs == 2  # one per service account, the second alice request cached
    assert plugin.provide("a.registry.io/x", None) == {}  # requireServiceAccount: not called
    no_role = ServiceAccount("ns", "carol", "uid-c", {}, "token-c")
    assert plugin.provide("a.registry.io/x", no_role) == {}  # required annotation missing
    assert plugin.execs == 2


def test_service_account_mode_refuses_the_token_as_password(bin_dir: Path) -> None:
    [provider] = parse_config(config_with_tokens(False, []))
    plugin = provider_for(
        bin_dir, [], response("Registry", {"*.registry.io": AuthConfig("u", "token-a")})
    )
    plugin.provider = provider
    assert plugin.provide("a.registry.io/x", ServiceAccount("ns", "a", "u", {}, "token-a")) == {}


# -- config validation and durations ----------------------------------------------------------


def test_config_loads_and_kubelet_uses_it(tmp_path: Path, bin_dir: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "kubelet.config.k8s.io/v1",
                "kind": "CredentialProviderConfig",
                "providers": [
                    {
                        "name": "test-plugin",
                        "matchImages": ["*.registry.io"],
                        "defaultCacheDuration": "12h",
                        "apiVersion": V1,
                        "args": ["kubelet"],
                    }
                ],
            }
        )
    )
    environ = {
        "PATH": os.environ["PATH"],
        "PLUGIN_LOG": str(bin_dir / "log"),
        "PLUGIN_RESPONSE": response("Registry", {"test.registry.io": USER}, "6h0m0s"),
    }
    kubelet = Kubelet.from_config(config, bin_dir, environ=environ)
    assert kubelet.credentials("test.registry.io/app") == [USER]
    assert kubelet.credentials("other.io/app") == []


@pytest.mark.parametrize(
    "change",
    [
        {"name": ""},
        {"name": "a/b"},
        {"matchImages": []},
        {"defaultCacheDuration": None},
        {"defaultCacheDuration": "-1m"},
        {"apiVersion": "credentialprovider.kubelet.k8s.io/v2"},
        {
            "tokenAttributes": {
                "serviceAccountTokenAudience": "a",
                "cacheType": "ServiceAccount",
                "requireServiceAccount": True,
            },
            "apiVersion": V1BETA1,
        },
    ],
)
def test_bad_configs_stop_kubelet(change: dict[str, object]) -> None:
    entry: dict[str, object] = {
        "name": "p",
        "matchImages": ["*.io"],
        "defaultCacheDuration": "1m",
        "apiVersion": V1,
    }
    entry.update(change)
    entry = {k: v for k, v in entry.items() if v is not None}
    with pytest.raises(KubeletConfigError):
        parse_config(
            {
                "apiVersion": "kubelet.config.k8s.io/v1",
                "kind": "CredentialProviderConfig",
                "providers": [entry],
            }
        )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("0s", 0.0),
        ("1m", 60.0),
        ("6h0m0s", 21600.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        ("300ms", 0.3),
        ("10m0s", 600.0),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1", "6 hours", "1d", "h", ".s"])
def test_go_durations_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_go_duration(text)
