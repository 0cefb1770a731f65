"""Server-key normalisation: one key per registry, whatever spelling a client sends."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from docker_credential_convox.errors import BadRequest, HelperError, MissingServerURL
from docker_credential_convox.server_keys import (
    DOCKER_HUB_KEY,
    ECR,
    ECR_PUBLIC,
    REGISTRY,
    parse_server,
    split_host_port,
    split_url,
)

ECR_EXAMPLE = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
hostnames = st.lists(label, min_size=1, max_size=4).map(".".join)
ports = st.one_of(st.none(), st.integers(min_value=1, max_value=65535))
schemes = st.sampled_from(["", "http://", "https://"])
# Path segments already in the key's own form: no API root, no dot segment, nothing to escape.
plain_segments = st.from_regex(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,7}", fullmatch=True).filter(
    lambda segment: segment not in ("v1", "v2")
)
plain_paths = st.lists(plain_segments, max_size=3)
# Anything a client might put in a path segment, escapes and non-ASCII included.
any_segments = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="/?#"),
    max_size=8,
)
HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


def registry_key_of(host: str, port: int | None) -> str:
    if host in HUB_HOSTS and port in (None, 443):
        return DOCKER_HUB_KEY
    return host if port in (None, 443) else f"{host}:{port}"


def spell(host: str, port: int | None, scheme: str, path: str, upper: bool) -> str:
    shown = host.upper() if upper else host
    return f"{scheme}{shown}{'' if port is None else f':{port}'}{path}"


def percent_encode_all(segment: str) -> str:
    return "".join(f"%{byte:02x}" for byte in segment.encode("utf-8"))


spellings_of_the_same_path = st.fixed_dictionaries(
    {
        "scheme": schemes,
        "upper": st.booleans(),
        "explicit_443": st.booleans(),
        "api_root": st.sampled_from(["", "/v1", "/v2", "/v2/v1"]),
        "slashes": st.sampled_from(["/", "//", "/./"]),
        "trailing": st.sampled_from(["", "/", "//"]),
        "tail": st.sampled_from(["", "?n=1", "#frag", "?a=b#c"]),
        "userinfo": st.sampled_from(["", "user@", "user:pw@"]),
    }
)


def spell_path(host: str, port: int | None, segments: list[str], how: dict[str, object]) -> str:
    shown = host.upper() if how["upper"] else host
    if port is None and how["explicit_443"]:
        port = 443
    authority = f"{how['userinfo']}{shown}{'' if port is None else f':{port}'}"
    slashes = str(how["slashes"])
    path = "".join(slashes + segment for segment in segments)
    trailing = how["trailing"] if (segments or how["api_root"]) else ""
    return f"{how['scheme']}{authority}{how['api_root']}{path}{trailing}{how['tail']}"


@given(hostnames, ports, plain_paths, spellings_of_the_same_path, spellings_of_the_same_path)
def test_scheme_case_default_port_slashes_api_root_and_userinfo_never_change_the_key(
    host: str,
    port: int | None,
    segments: list[str],
    how_a: dict[str, object],
    how_b: dict[str, object],
) -> None:
    a = parse_server(spell_path(host, port, segments, how_a))
    b = parse_server(spell_path(host, port, segments, how_b))
    assert a.key == b.key


@given(hostnames, ports, plain_paths, spellings_of_the_same_path)
def test_the_key_is_the_registry_then_the_path_as_sent(
    host: str, port: int | None, segments: list[str], how: dict[str, object]
) -> None:
    server = parse_server(spell_path(host, port, segments, how))
    registry = registry_key_of(host, port)
    assert server.registry == registry
    assert server.key == "/".join([registry, *segments])


@given(hostnames, ports, plain_paths, plain_paths)
def test_different_paths_are_different_keys_and_never_the_registrys(
    host: str, port: int | None, path_a: list[str], path_b: list[str]
) -> None:
    a = parse_server(spell(host, port, "", "".join("/" + s for s in path_a), False))
    b = parse_server(spell(host, port, "", "".join("/" + s for s in path_b), False))
    assert (a.key == b.key) == (path_a == path_b)
    assert a.registry == b.registry


@given(hostnames, plain_segments)
def test_the_case_of_a_path_is_significant_and_the_case_of_a_host_is_not(
    host: str, segment: str
) -> None:
    lower = parse_server(f"{host}/{segment.lower()}")
    upper = parse_server(f"{host.upper()}/{segment.upper()}")
    assert lower.registry == upper.registry
    assert (lower.key == upper.key) == (segment.lower() == segment.upper())


@given(hostnames, st.lists(any_segments, min_size=1, max_size=3))
def test_a_percent_escape_means_the_character_it_encodes(host: str, segments: list[str]) -> None:
    as_sent = parse_server(host + "".join("/" + s for s in segments))
    escaped = parse_server(host + "".join("/" + percent_encode_all(s) for s in segments))
    assert as_sent.key == escaped.key


@given(hostnames, ports, st.lists(any_segments, max_size=4), schemes)
def test_a_key_is_its_own_key(
    host: str, port: int | None, segments: list[str], scheme: str
) -> None:
    server = parse_server(spell(host, port, scheme, "".join("/" + s for s in segments), False))
    again = parse_server(server.key)
    assert (again.key, again.registry) == (server.key, server.registry)


@given(hostnames, ports, plain_paths)
def test_get_looks_up_the_longest_stored_prefix_first(
    host: str, port: int | None, segments: list[str]
) -> None:
    server = parse_server(spell(host, port, "https://", "".join("/" + s for s in segments), False))
    registry = registry_key_of(host, port)
    if registry == DOCKER_HUB_KEY:
        assert server.lookup_keys() == [server.key]
        return
    expected = ["/".join([registry, *segments[:n]]) for n in range(len(segments), -1, -1)]
    assert server.lookup_keys() == expected


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
    assert server.registry == server.registry.lower()
    assert server.key.startswith(server.registry)
    assert not any(ch.isspace() for ch in server.key)
    assert parse_server(server.key).key == server.key


@pytest.mark.parametrize(
    "url",
    [
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        "https://index.docker.io/v1/",
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
        ("https://user@registry.example.com", "registry.example.com"),
        ("registry.example.com/x://y", "registry.example.com/x:/y"),
    ],
)
def test_known_spellings_give_known_keys(url: str, key: str) -> None:
    assert parse_server(url).key == key


# The table in docs/keys.md's "One key per registry, one per path" section, row for row.
KEY_EXAMPLES = [
    ("registry.example.com", "registry.example.com"),
    ("https://Registry.Example.com:443/", "registry.example.com"),
    ("http://registry.example.com:5000/v2/", "registry.example.com:5000"),
    ("registry.example.com/team-a", "registry.example.com/team-a"),
    ("https://registry.example.com/v2/team-a/", "registry.example.com/team-a"),
    ("registry.example.com//Team-A//app/", "registry.example.com/Team-A/app"),
    ("registry.example.com/team-a?tag=1#top", "registry.example.com/team-a"),
    ("registry.example.com/a/./b/../c", "registry.example.com/a/c"),
    ("registry.example.com/%7Eteam", "registry.example.com/~team"),
    ("registry.example.com/café", "registry.example.com/caf%C3%A9"),
    ("registry.example.com/a%2Fb", "registry.example.com/a%2Fb"),
    ("https://user:pw@registry.example.com/team-a", "registry.example.com/team-a"),
    ("https://index.docker.io/v1/", "docker.io"),
    ("https://index.docker.io/v1/access-token", "docker.io/access-token"),
    ("https://index.docker.io/v1/refresh-token", "docker.io/refresh-token"),
    ("docker.io/refresh-token", "docker.io/refresh-token"),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app", ECR_EXAMPLE),
    ("https://public.ecr.aws/my-alias/app", "public.ecr.aws"),
]


@pytest.mark.parametrize(("url", "key"), KEY_EXAMPLES)
def test_the_documented_examples_give_their_keys(url: str, key: str) -> None:
    assert parse_server(url).key == key


# docs/keys.md's rows for what no URL parser reads: kept as sent, under a key of their own.
OPAQUE_EXAMPLES = [
    ("::1", "opaque ::1"),
    ("::1:5000", "opaque ::1:5000"),
    ("münchen.example", "opaque münchen.example"),
    ("https://münchen.example:5000/v2/", "opaque https://münchen.example:5000/v2/"),
    ("-registry.example.com", "opaque -registry.example.com"),
    ("registry.example.com:99999", "opaque registry.example.com:99999"),
    ("https://user:pw@::1", "opaque https://::1"),
    ("https://user:p/w@münchen.example", "opaque https://münchen.example"),
]


@pytest.mark.parametrize(("url", "key"), OPAQUE_EXAMPLES)
def test_the_readme_examples_of_opaque_keys(url: str, key: str) -> None:
    from docker_credential_convox.server_keys import parse_key

    server = parse_key(url)
    assert (server.key, server.kind, server.opaque) == (key, REGISTRY, True)
    assert server.lookup_keys() == [key]
    with pytest.raises(BadRequest):
        parse_server(url)


@pytest.mark.parametrize(("url", "key"), KEY_EXAMPLES)
def test_what_parses_is_never_opaque(url: str, key: str) -> None:
    from docker_credential_convox.server_keys import parse_key

    server = parse_key(url)
    assert (server.key, server.opaque) == (key, False)


@given(st.text(st.characters(blacklist_categories=("Cs", "Co")), max_size=40))
def test_opaque_and_normalised_keys_never_meet(text: str) -> None:
    from docker_credential_convox.server_keys import parse_key

    try:
        server = parse_key(text)
    except HelperError:
        assert not text.strip()
        return
    if server.opaque:
        assert server.key.startswith("opaque ")
        with pytest.raises(BadRequest):
            parse_server(text)
    else:
        assert server.key == parse_server(text).key
        assert not server.key.startswith("opaque ")


@pytest.mark.parametrize("url", ["::1", "::1:5000", "https://fe80::1/v2/", "user:PW@::1"])
def test_an_unbracketed_ipv6_address_is_refused_for_its_brackets(url: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_server(url)
    assert "brackets" in raised.value.message
    assert "not a number" not in raised.value.message
    assert "PW" not in raised.value.message


def test_the_documented_key_table_is_the_tested_one() -> None:
    readme = (Path(__file__).parent.parent / "docs" / "keys.md").read_text(encoding="utf-8")
    for url, key in KEY_EXAMPLES + OPAQUE_EXAMPLES:
        assert f"| `{url}` | `{key}` |" in readme


@pytest.mark.parametrize("spelling", ["{}/team/app", "https://{}/v2/team/", "{}:443/other"])
@pytest.mark.parametrize("host", [ECR_EXAMPLE, "public.ecr.aws", "ecr-public.aws.com"])
def test_a_path_on_an_ecr_host_is_ignored_tokens_cover_the_registry(
    host: str, spelling: str
) -> None:
    server = parse_server(spelling.format(host))
    assert server.key == server.registry == host
    assert server.lookup_keys() == [host]


def test_docker_hub_path_entries_never_fall_back_to_the_pat() -> None:
    server = parse_server("https://index.docker.io/v1/refresh-token")
    assert server.lookup_keys() == ["docker.io/refresh-token"]


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://user:PW@creds.example.com", "https://creds.example.com"),
        ("user:PW@creds.example.com:5000/team", "creds.example.com:5000/team"),
        ("http://u%40x:P@W@creds.example.com/v2/", "http://creds.example.com/v2/"),
        ("https://creds.example.com/a@b", "https://creds.example.com/a@b"),
        ("https://creds.example.com", "https://creds.example.com"),
    ],
)
def test_the_url_kept_has_no_userinfo_and_is_otherwise_as_sent(url: str, kept: str) -> None:
    server = parse_server(url)
    assert server.url == kept
    assert "PW" not in repr(server)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:PW@creds.example.com:99999",
        "https://user:PW@bad host!",
        "user:PW@creds.example.com:notaport/x",
        "https://user:P/W@creds.example.com",
        "https://user:P?W@creds.example.com",
    ],
)
def test_an_invalid_url_error_never_quotes_the_password(url: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_server(url)
    assert raised.value.message.startswith("invalid server URL ")
    assert "***@" in raised.value.message
    assert "PW" not in raised.value.message
    assert "P/W" not in raised.value.message
    assert "P?W" not in raised.value.message


@pytest.mark.parametrize("url", ["r.example/a b", "r.example/a\tb", "https://r.example/\x00"])
def test_whitespace_or_control_characters_in_a_path_are_refused(url: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_server(url.encode().decode("unicode_escape"))
    assert "whitespace or control characters" in raised.value.message


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


# The patterns servers.py once compiled for these; it now reads the same hosts with string
# methods, which must accept exactly what the patterns matched.
BARE_HOST_PORT = r"(?P<host>[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?)\.?(?::(?P<port>[0-9]{1,5}))?"
ECR_HOST = (
    r"(?P<account>[0-9]{12})"
    r"\.dkr(?P<dualstack>[.-])ecr(?P<fips>-fips)?"
    r"\.(?P<region>[a-z]{2,4}(?:-[a-z]+)+-[0-9]+)"
    r"\.(?P<suffix>amazonaws\.com|amazonaws\.com\.cn|amazonaws\.eu|on\.aws"
    r"|on\.amazonwebservices\.com\.cn|c2s\.ic\.gov|sc2s\.sgov\.gov|cloud\.adc-e\.uk"
    r"|csp\.hci\.ic\.gov)"
)
HOSTISH = st.text(alphabet="abz09_.-:Aé٣", max_size=14)
ECRISH = st.builds(
    "{}.dkr{}ecr{}.{}.{}".format,
    st.sampled_from(["123456789012", "12345678901", "1234567890123", "12345678901a"]),
    st.sampled_from([".", "-", "_"]),
    st.sampled_from(["", "-fips", "-fip"]),
    st.sampled_from(["us-east-1", "us-gov-west-1", "eu-isoe-west-1", "u-east-1", "useast-1"])
    | st.sampled_from(["us-east-", "us--1", "us-east-1a", "abcde-east-1", "US-east-1"])
    | st.from_regex(r"[a-z0-9-]{0,14}", fullmatch=True),
    st.sampled_from(["amazonaws.com", "amazonaws.com.cn", "on.aws", "csp.hci.ic.gov", "aws", ""]),
)


@given(HOSTISH)
def test_a_bare_host_is_read_as_the_pattern_read_it(text: str) -> None:
    from docker_credential_convox.server_keys import _bare_host_port

    match = re.fullmatch(BARE_HOST_PORT, text)
    expected = None
    if match is not None and (match["port"] is None or int(match["port"]) <= 65535):
        expected = (match["host"], None if match["port"] is None else int(match["port"]))
    assert _bare_host_port(text) == expected


@given(ECRISH | HOSTISH)
def test_an_ecr_host_is_read_as_the_pattern_read_it(host: str) -> None:
    from docker_credential_convox.server_keys import _ecr_registry

    match = re.fullmatch(ECR_HOST, host)
    found = _ecr_registry(host)
    if match is None:
        assert found is None
    else:
        assert found is not None
        assert (found.account, found.region, found.suffix, found.fips, found.dualstack) == (
            match["account"],
            match["region"],
            match["suffix"],
            match["fips"] is not None,
            match["dualstack"] == "-",
        )
