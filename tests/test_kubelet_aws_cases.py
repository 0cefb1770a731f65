"""The `kubelet` provider against the cases of cloud-provider-aws's own tests.

kubernetes/cloud-provider-aws cmd/ecr-credential-provider/main_test.go: Test_GetCredentials_Private
and _Public (the answer's key and cache type, a private registry whose path holds
`public.ecr.aws`, a non-ECR host, an empty image), Test_GetCredentials_PrivateForServiceAccount
(a role from the annotation, no role, STS refusing), Test_parseHostFromImageReference,
Test_parseRegionFromECRPrivateHost (commercial, China, GovCloud, ISO, dual-stack, FIPS),
TestRegistryPatternMatch (which hosts are private ECR) and Test_getCacheDuration (half of a
12-hour token's life). Their mocks become moto behind the counting proxy here; an injected STS
refusal is the proxy's (a fault moto cannot produce on demand).
"""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING

import pytest
from support import run_helper_in

from docker_credential_convox.errors import HelperError
from docker_credential_convox.kubelet import ecr_match_images, go_duration, registry_of
from docker_credential_convox.server_keys import ECR, parse_server, token_api
from standins.kubelet import urls_match

if TYPE_CHECKING:
    from support.aws_emulator import AwsProxy

pytest_plugins = ["support.aws_emulator"]

V1 = "credentialprovider.kubelet.k8s.io/v1"
PRIVATE = "123456789123.dkr.ecr.us-west-2.amazonaws.com"


def provide(env: dict[str, str], image: str, **extra: object) -> subprocess.CompletedProcess[str]:
    body = {"kind": "CredentialProviderRequest", "apiVersion": V1, "image": image, **extra}
    return run_helper_in(env, "kubelet", stdin=json.dumps(body))


@pytest.mark.parametrize(
    ("image", "key"),
    [
        (PRIVATE, PRIVATE),  # "success"
        (f"{PRIVATE}/public.ecr.aws/foo", PRIVATE),  # "image reference containing public ECR host"
        ("public.ecr.aws", "public.ecr.aws"),  # _Public "success"
        ("public.ecr.aws/docker/library/nginx", "public.ecr.aws"),
    ],
)
def test_ecr_answers_are_keyed_by_the_registry_host(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, image: str, key: str
) -> None:
    result = provide(ecr_env, image)
    assert result.returncode == 0, result
    answer = json.loads(result.stdout)
    assert answer["cacheKeyType"] == "Registry"
    assert list(answer["auth"]) == [key]
    assert answer["auth"][key]["username"] == "AWS"
    service = "ecr-public" if key == "public.ecr.aws" else "ecr"
    assert aws_proxy.count(f"{service}:GetAuthorizationToken") == 1


def test_a_non_ecr_host_with_nothing_stored_gets_an_empty_answer(ecr_env: dict[str, str]) -> None:
    # cloud-provider-aws mints an ECR token even for registry.k8s.io (its mock answers anything);
    # this provider answers only what it holds, and kubelet then pulls anonymously.
    result = provide(ecr_env, "registry.k8s.io/foo")
    assert result.returncode == 0, result
    assert json.loads(result.stdout)["auth"] == {}


def test_an_empty_image_is_refused(ecr_env: dict[str, str]) -> None:
    result = provide(ecr_env, "")
    assert (result.returncode, result.stdout) == (1, "")
    assert "image is empty" in result.stderr


def test_sts_refusing_the_workload_role_is_one_line(
    ecr_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    aws_proxy.fail("sts:AssumeRoleWithWebIdentity", "AccessDenied", "injected error", 403)
    token = "DEADBEEF="
    annotations = {"eks.amazonaws.com/ecr-role-arn": "arn:aws:iam::123456789123:role/expected"}
    result = provide(
        ecr_env, PRIVATE, serviceAccountToken=token, serviceAccountAnnotations=annotations
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "role/expected" in result.stderr
    assert token not in result.stderr
    assert aws_proxy.count("ecr:GetAuthorizationToken") == 0


def test_no_role_falls_back_to_the_node(ecr_env: dict[str, str], aws_proxy: AwsProxy) -> None:
    result = provide(ecr_env, PRIVATE, serviceAccountToken="DEADBEEF=")  # "no arn provided"
    assert result.returncode == 0, result
    assert aws_proxy.count("sts:AssumeRoleWithWebIdentity") == 0
    assert aws_proxy.count("ecr:GetAuthorizationToken") == 1


@pytest.mark.parametrize(
    ("image", "host"),
    [
        (
            "123456789123.dkr.ecr.us-west-2.amazonaws.com/foo/bar",
            "123456789123.dkr.ecr.us-west-2.amazonaws.com",
        ),
        ("registry.example.com:5000/team/app", "registry.example.com:5000"),
        ("library/nginx", "docker.io"),
        ("nginx", "docker.io"),
        ("localhost/app", "localhost"),
    ],
)
def test_registry_of_an_image(image: str, host: str) -> None:
    assert registry_of(image) == host


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("123456789123.dkr.ecr.us-west-2.amazonaws.com", "us-west-2"),
        ("123456789123.dkr.ecr.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        ("123456789123.dkr.ecr.us-gov-east-1.amazonaws.com", "us-gov-east-1"),
        ("123456789123.dkr.ecr.us-iso-east-1.c2s.ic.gov", "us-iso-east-1"),
        ("123456789123.dkr-ecr.us-west-2.on.aws", "us-west-2"),
        ("123456789123.dkr-ecr-fips.us-west-2.on.aws", "us-west-2"),
        ("123456789123.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn", "cn-north-1"),
        ("123456789123.dkr-ecr.us-gov-east-1.on.aws", "us-gov-east-1"),
        ("123456789123.dkr-ecr-fips.us-gov-east-1.on.aws", "us-gov-east-1"),
    ],
)
def test_region_from_private_hosts(host: str, region: str) -> None:
    server = parse_server(host)
    assert server.kind == ECR
    assert token_api(server).region == region
    # and the provider entry's matchImages send kubelet's request for it here
    assert any(urls_match(pattern, f"{host}/app") for pattern in ecr_match_images())


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("123456789012.dkr.ecr.lala-land-1.amazonaws.com", True),
        ("123456789012.dkr.ecr-fips.lala-land-1.amazonaws.com", True),
        ("123456789012.dkr.ecr.lala-land-1.amazonaws.com.cn", True),
        ("1234567890123.dkr.ecr.lala-land-1.amazonaws.com", False),
        ("12345678901.dkr.ecr.lala-land-1.amazonaws.com", False),
        ("12345678901A.dkr.ecr.lala-land-1.amazonaws.com", False),
        ("123456789012.dkr.ecr.lala-land-1!.amazonaws.com", False),
        ("123456789012.dkr.ecr.#lala-land-1.amazonaws.com", False),
        ("123456789012.dkr.ecr.lala-land-1.amazonaws.hacker.com", False),
        ("123456789012.dkr.ecr.lala-land-1.hacker.com", False),
        ("123456789012.dkr.ecr.lala-land-1.amazonaws.lol", False),
        ("123456789012.dog.ecr.lala-land-1.amazonaws.com", False),
        ("123456789012.dkr.cat.lala-land-1.amazonaws.com", False),
        ("123456789012.dkr.cat.lala-land-1.awsamazon.com", False),
        ("123456789012.lala-land-1.amazonaws.com", False),
        ("123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", True),
        ("123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov", True),
        ("123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk", True),
        ("123456789012.dkr.ecr.us-isof-east-1.csp.hci.ic.gov", True),
        ("123456789012.dkr.ecr.us-iso-east-1.amazonaws.gov", False),
        ("123456789012.dkr-ecr.lala-land-1.on.aws", True),
        ("123456789012.dkr-ecr-fips.lala-land-1.on.aws", True),
        ("123456789012.dkr-ecr.lala-land-1.on.amazonwebservices.com.cn", True),
    ],
)
def test_private_ecr_host_pattern(host: str, expected: bool) -> None:
    try:
        kind = parse_server(host).kind
    except HelperError:  # not a host the helper would hold at all
        kind = None
    assert (kind == ECR) is expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (6 * 3600, "6h0m0s"), (300, "5m0s"), (59, "59s"), (3661, "1h1m1s")],
)
def test_durations_are_go_strings(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
