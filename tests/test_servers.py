"""Server-key normalisation: one key per registry, whatever spelling a client sends."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from docker_credential_convox.errors import BadRequest, HelperError, MissingServerURL
from docker_credential_convox.servers import (
    DOCKER_HUB_KEY,
    ECR,
    ECR_PUBLIC,
    REGISTRY,
    parse_server,
    split_host_port,
    split_url,
)

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
hostnames = st.lists(label, min_size=1, max_size=4).map(".".join)
ports = st.one_of(st.none(), st.integers(min_value=1, max_value=65535))
paths = st.one_of(
    st.just(""), st.just("/"), st.from_regex(r"(/[a-z0-9._-]{1,8}){1,3}/?", fullmatch=True)
)
schemes = st.sampled_from(["", "http://", "https://"])


def spell(host: str, port: int | None, scheme: str, path: str, upper: bool) -> str:
    shown = host.upper() if upper else host
    return f"{scheme}{shown}{'' if port is None else f':{port}'}{path}"


@given(hostnames, ports, schemes, schemes, paths, paths, st.booleans(), st.booleans())
def test_every_spelling_of_one_registry_has_one_key(  # noqa: PLR0917 - one per @given strategy
    host: str,
    port: int | None,
    scheme_a: str,
    scheme_b: str,
    path_a: str,
    path_b: str,
    upper_a: bool,
    upper_b: bool,
) -> None:
    a = parse_server(spell(host, port, scheme_a, path_a, upper_a))
    b = parse_server(spell(host, port, scheme_b, path_b, upper_b))
    assert a.key == b.key


@given(hostnames, ports, schemes, paths)
def test_key_is_lowercase_host_and_port_and_parses_to_itself(
    host: str, port: int | None, scheme: str, path: str
) -> None:
    server = parse_server(spell(host, port, scheme, path, upper=False))
    expected = host if port in (None, 443) else f"{host}:{port}"
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"):
        expected = DOCKER_HUB_KEY if port in (None, 443) else expected
    assert server.key == expected
    assert parse_server(server.key).key == server.key


@given(hostnames, hostnames, ports, ports)
def test_different_registries_have_different_keys(
    host_a: str, host_b: str, port_a: int | None, port_b: int | None
) -> None:
    a = parse_server(spell(host_a, port_a, "", "", False))
    b = parse_server(spell(host_b, port_b, "", "", False))
    same_port = {port_a, port_b} <= {None, 443} or port_a == port_b
    if host_a != host_b or not same_port:
        hub = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
        if not ({host_a, host_b} <= hub and same_port):
            assert a.key != b.key


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_a_helper_error(text: str) -> None:
    try:
        server = parse_server(text)
    except HelperError:
        return
    assert server.key
    assert server.key == server.key.lower()


@pytest.mark.parametrize(
    "url",
    [
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        "https://index.docker.io/v1/",
        "https://index.docker.io/v1/refresh-token",
        "https://registry-1.docker.io/v2/",
        "DOCKER.IO",
    ],
)
def test_docker_hub_aliases_share_the_key_docker_io(url: str) -> None:
    assert parse_server(url).key == DOCKER_HUB_KEY


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("http://127.0.0.1:5000/v2/", "127.0.0.1:5000"),
        ("[::1]:5000", "[::1]:5000"),
        ("http://[::1]:5000", "[::1]:5000"),
        ("registry.example.com:443", "registry.example.com"),
        ("https://Registry.Example.com./", "registry.example.com"),
        ("localhost:5000/team/app", "localhost:5000"),
        ("https://user@registry.example.com", "registry.example.com"),
    ],
)
def test_known_spellings_give_known_keys(url: str, key: str) -> None:
    assert parse_server(url).key == key


@pytest.mark.parametrize(
    "url",
    ["http://", "https:///path", "bad host", "r.example:notaport", "r.example:70000", "ex!ample"],
)
def test_malformed_servers_are_bad_requests(url: str) -> None:
    with pytest.raises(BadRequest):
        parse_server(url)


def test_blank_server_is_missing_server_url() -> None:
    with pytest.raises(MissingServerURL):
        parse_server("   ")


ECR_HOSTS = [
    ("123456789012.dkr.ecr.us-west-2.amazonaws.com", "us-west-2", False, False),
    ("123456789012.dkr-ecr.us-west-2.on.aws", "us-west-2", False, True),
    ("123456789012.dkr-ecr-fips.us-west-2.on.aws", "us-west-2", True, True),
    ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "cn-north-1", False, False),
    ("123456789012.dkr.ecr.cn-north-1.on.amazonwebservices.com.cn", "cn-north-1", False, False),
    ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1", True, False),
    ("123456789012.dkr-ecr.us-gov-east-1.on.aws", "us-gov-east-1", False, True),
    ("123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", "us-iso-east-1", False, False),
    ("123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov", "us-isob-east-1", False, False),
    ("123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk", "eu-isoe-west-1", False, False),
    ("123456789012.dkr.ecr.us-isof-east-1.csp.hci.ic.gov", "us-isof-east-1", False, False),
    ("123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu", "eusc-de-east-1", False, False),
]


@pytest.mark.parametrize(("host", "region", "fips", "dualstack"), ECR_HOSTS)
@pytest.mark.parametrize("spelling", ["{}", "https://{}", "https://{}/", "{}/repo/app", "{}:443"])
def test_every_ecr_host_form_is_recognised_with_its_region(
    host: str, region: str, fips: bool, dualstack: bool, spelling: str
) -> None:
    server = parse_server(spelling.format(host))
    assert server.kind == ECR
    assert server.ecr is not None
    assert (server.ecr.account, server.ecr.region) == ("123456789012", region)
    assert (server.ecr.fips, server.ecr.dualstack) == (fips, dualstack)
    assert server.key == host


@pytest.mark.parametrize(
    "host",
    [
        "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
        "evil.123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "12345678901.dkr.ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.us-east-1.amazonaws.org",
        "123456789012.dkrxecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.amazonaws.com",
        "public.ecr.aws.evil.example",
    ],
)
def test_lookalike_hosts_are_not_ecr(host: str) -> None:
    assert parse_server(host).kind == REGISTRY


@pytest.mark.parametrize("url", ["public.ecr.aws", "https://public.ecr.aws/", "ecr-public.aws.com"])
def test_ecr_public_hosts_are_recognised(url: str) -> None:
    assert parse_server(url).kind == ECR_PUBLIC


bare_spellings = st.builds(
    lambda host, port, dot, upper: (
        (host.upper() if upper else host) + ("." if dot else "") + (f":{port}" if port else "")
    ),
    hostnames,
    st.one_of(st.none(), st.integers(min_value=0, max_value=99999)),
    st.booleans(),
    st.booleans(),
)


@given(st.one_of(bare_spellings, st.text(max_size=30)))
def test_the_fast_path_for_bare_hosts_agrees_with_the_full_url_parser(text: str) -> None:
    def outcome(split: Callable[[str], tuple[str, int | None]]) -> object:
        try:
            return split(text)
        except HelperError as exc:
            return type(exc)

    assert outcome(split_host_port) == outcome(split_url)
