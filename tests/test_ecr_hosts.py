"""Which hosts are ECR, and which API endpoint each one's tokens come from (no network)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from docker_credential_convox.aws import clients
from docker_credential_convox.backends.ecr import EcrBackend
from docker_credential_convox.server_keys import ECR, ECR_PUBLIC, REGISTRY, Target, parse_server
from docker_credential_convox.settings import Settings

# host -> (region, fips, dualstack): every example in ecr.md.
ECR_HOSTS = {
    "123456789012.dkr.ecr.us-west-2.amazonaws.com": ("us-west-2", False, False),
    "123456789012.dkr-ecr.us-west-2.on.aws": ("us-west-2", False, True),
    "123456789012.dkr-ecr-fips.us-west-2.on.aws": ("us-west-2", True, True),
    "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn": ("cn-north-1", False, False),
    "123456789012.dkr.ecr.cn-north-1.on.amazonwebservices.com.cn": ("cn-north-1", False, False),
    "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com": ("us-gov-west-1", True, False),
    "123456789012.dkr-ecr.us-gov-east-1.on.aws": ("us-gov-east-1", False, True),
    "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov": ("us-iso-east-1", False, False),
    "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov": ("us-isob-east-1", False, False),
    "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk": ("eu-isoe-west-1", False, False),
    "123456789012.dkr.ecr.us-isof-east-1.csp.hci.ic.gov": ("us-isof-east-1", False, False),
    "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu": ("eusc-de-east-1", False, False),
}

NOT_ECR = [
    "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
    "evil.123456789012.dkr.ecr.us-east-1.amazonaws.com",
    "x123456789012.dkr.ecr.us-east-1.amazonaws.com",
    "12345678901.dkr.ecr.us-east-1.amazonaws.com",
    "123456789012.dkr.ecr.us-east-1.amazonaws.co",
    "123456789012.dkr.ecr.us-east-1.example.com",
    "123456789012.dkr_ecr.us-east-1.amazonaws.com",
    "123456789012.ecr.us-east-1.amazonaws.com",
    "123456789012.dkr.ecr.amazonaws.com",
    "public.ecr.aws.evil.example",
    "ecr-public.aws.com.evil.example",
    "registry.example.com",
]


@pytest.mark.parametrize("host", ECR_HOSTS)
@pytest.mark.parametrize("form", ["{}", "https://{}", "https://{}/", "{}:443/repo/image", "{}."])
def test_every_ecr_host_form_is_recognised_with_region_and_endpoint_variant(
    host: str, form: str
) -> None:
    server = parse_server(form.format(host))
    assert server.kind == ECR
    assert server.key == host
    assert server.ecr is not None
    region, fips, dualstack = ECR_HOSTS[host]
    assert (server.ecr.account, server.ecr.region) == ("123456789012", region)
    assert (server.ecr.fips, server.ecr.dualstack) == (fips, dualstack)


def test_upper_case_ecr_hosts_are_the_same_registry() -> None:
    server = parse_server("HTTPS://123456789012.DKR.ECR.US-EAST-1.AMAZONAWS.COM")
    assert (server.kind, server.key) == (ECR, "123456789012.dkr.ecr.us-east-1.amazonaws.com")


@pytest.mark.parametrize("host", NOT_ECR)
def test_lookalike_hosts_are_not_ecr(host: str) -> None:
    assert parse_server(host).kind == REGISTRY


@pytest.mark.parametrize("url", ["public.ecr.aws", "https://public.ecr.aws/", "ecr-public.aws.com"])
def test_ecr_public_hosts_mint_from_ecr_public_in_us_east_1(url: str) -> None:
    server = parse_server(url)
    assert server.kind == ECR_PUBLIC
    target = EcrBackend.target(server)
    assert (target.service, target.region, target.fips, target.dualstack) == (
        "ecr-public",
        "us-east-1",
        False,
        False,
    )


class StopBeforeSending(Exception):
    """Raised by the before-send hook: the request is built, never sent."""


@pytest.fixture
def no_endpoint_overrides(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    env = {
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    with monkeypatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("AWS_"):
                patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        yield Settings(dict(os.environ))


def url_of_token_request(settings: Settings, target: Target) -> str:
    """The URL botocore would call for GetAuthorizationToken; the request is stopped unsent."""
    session = clients.session(settings)
    client = clients.client(
        session,
        target.service,
        target,
        settings,
        {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "x"},
    )
    seen: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        seen.append(request.url)
        raise StopBeforeSending

    client.meta.events.register("before-send", capture)
    with pytest.raises(StopBeforeSending):
        client.get_authorization_token()
    return seen[0]


ENDPOINTS = {
    "123456789012.dkr.ecr.us-west-2.amazonaws.com": "https://api.ecr.us-west-2.amazonaws.com/",
    "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com": (
        "https://api.ecr-fips.us-gov-west-1.amazonaws.com/"
    ),
    "123456789012.dkr-ecr.us-west-2.on.aws": "https://ecr.us-west-2.api.aws/",
    "123456789012.dkr-ecr-fips.us-west-2.on.aws": "https://ecr-fips.us-west-2.api.aws/",
    "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn": (
        "https://api.ecr.cn-north-1.amazonaws.com.cn/"
    ),
    "public.ecr.aws": "https://api.ecr-public.us-east-1.amazonaws.com/",
}


@pytest.mark.parametrize("host", ENDPOINTS)
def test_fips_and_dual_stack_hosts_call_the_matching_api_endpoint(
    no_endpoint_overrides: Settings, host: str
) -> None:
    target = EcrBackend.target(parse_server(host))
    assert url_of_token_request(no_endpoint_overrides, target) == ENDPOINTS[host]


def test_an_endpoint_override_wins_over_fips_and_dual_stack(
    no_endpoint_overrides: Settings,
) -> None:
    settings = Settings(
        {**no_endpoint_overrides.environ, "AWS_ENDPOINT_URL_ECR": "http://127.0.0.1:9"}
    )
    target = EcrBackend.target(parse_server("123456789012.dkr-ecr-fips.us-west-2.on.aws"))
    assert url_of_token_request(settings, target) == "http://127.0.0.1:9/"


def test_endpoint_overrides_are_read_per_service_then_globally() -> None:
    settings = Settings(
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_ECR": "http://127.0.0.1:2"}
    )
    assert settings.aws_endpoint_url("ecr") == "http://127.0.0.1:2"
    assert settings.aws_endpoint_url("sts") == "http://127.0.0.1:1"
    ignored = Settings({**settings.environ, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"})
    assert ignored.aws_endpoint_url("ecr") is None
