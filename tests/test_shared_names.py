"""Secret names of shared registries: from the canonical key, valid for Secrets Manager,
one name per registry and one registry per name, never ending like an ARN's suffix."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from docker_credential_convox.errors import BadRequest, HelperError
from docker_credential_convox.server_keys import parse_server
from docker_credential_convox.shared.scope import (
    MAX_NAME_LENGTH,
    NAME_ALPHABET,
    Scope,
    decode_key,
    encode_key,
    parse_scope,
)

SCOPE = Scope("docker-credential-convox/prod")
ARN_SUFFIX = 6

hosts = st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?", fullmatch=True)
ports = st.one_of(st.none(), st.integers(min_value=1, max_value=65535))
paths = st.lists(st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True), max_size=3)


@st.composite
def server_urls(draw: st.DrawFn) -> str:
    host = draw(hosts)
    port = draw(ports)
    path = draw(paths)
    scheme = draw(st.sampled_from(["", "http://", "https://"]))
    return scheme + host + (f":{port}" if port else "") + "".join("/" + p for p in path)


def canonical_keys() -> st.SearchStrategy[str]:
    def key_of(url: str) -> str | None:
        try:
            return parse_server(url).key
        except HelperError:
            return None

    return server_urls().map(key_of).filter(lambda key: key is not None)  # type: ignore[return-value]


def assert_valid_name(name: str) -> None:
    assert set(name) <= NAME_ALPHABET, name
    assert len(name) <= MAX_NAME_LENGTH
    assert not (len(name) > ARN_SUFFIX and name[-ARN_SUFFIX - 1] == "-"), name


@given(canonical_keys())
def test_every_registry_key_has_a_valid_name_that_decodes_back(key: str) -> None:
    name = SCOPE.name_of(key)

    assert_valid_name(name)
    assert name.startswith(SCOPE.prefix + "/")
    assert SCOPE.key_of(name) == key


@given(st.text(min_size=1, max_size=60), st.text(min_size=1, max_size=60))
def test_the_encoding_is_injective_over_any_text(a: str, b: str) -> None:
    if a != b:
        assert SCOPE.name_of(a) != SCOPE.name_of(b)


@given(st.text(min_size=1, max_size=60))
def test_any_text_encodes_into_the_alphabet_and_back(text: str) -> None:
    name = SCOPE.name_of(text)

    assert_valid_name(name)
    assert SCOPE.key_of(name) == text
    assert decode_key(encode_key(text)) == text


@given(st.from_regex(r"[a-z0-9.]{1,20}-[A-Za-z0-9]{6}", fullmatch=True))
def test_a_key_ending_like_an_arn_suffix_is_protected(key: str) -> None:
    name = SCOPE.name_of(key)

    assert name.endswith("=")
    assert SCOPE.key_of(name) == key


@pytest.mark.parametrize(
    ("server", "name"),
    [
        ("https://index.docker.io/v1/", "docker-credential-convox/prod/docker.io"),
        ("registry-1.docker.io", "docker-credential-convox/prod/docker.io"),
        ("127.0.0.1:5000", "docker-credential-convox/prod/127.0.0.1+5000"),
        ("http://Registry.Example.com:443/", "docker-credential-convox/prod/registry.example.com"),
        ("[::1]:5000", "docker-credential-convox/prod/=5B++1=5D+5000"),
        ("build-abcdef", "docker-credential-convox/prod/build-abcdef="),
    ],
)
def test_names_are_readable_and_spellings_share_one(server: str, name: str) -> None:
    assert SCOPE.name_of(parse_server(server).key) == name


@pytest.mark.parametrize(
    "name",
    [
        "docker-credential-convox/prod/a+b",  # `+` written for `:` only: fine
        "other/prefix/docker.io",
        "docker-credential-convox/prod/a=2",  # a broken escape
        "docker-credential-convox/prod/a=2b",  # lower-case hex: not our spelling
        "docker-credential-convox/prod/docker.io=",  # a lone `=` not protecting a tail
    ],
)
def test_names_we_never_write_decode_to_no_key(name: str) -> None:
    key = SCOPE.key_of(name)
    assert key is None or SCOPE.name_of(key) == name


def test_names_we_never_write_include_foreign_ones() -> None:
    assert SCOPE.key_of("other/prefix/docker.io") is None
    assert SCOPE.key_of("docker-credential-convox/prod/a=2") is None
    assert SCOPE.key_of("docker-credential-convox/prod/docker.io=") is None


@pytest.mark.parametrize(
    ("setting", "prefix"),
    [
        ("secretsmanager:docker-credential-convox/prod", "docker-credential-convox/prod"),
        ("secretsmanager:team/prod/", "team/prod"),
        (" secretsmanager:p ", "p"),
    ],
)
def test_scope_settings_parse(setting: str, prefix: str) -> None:
    assert parse_scope(setting, "X").prefix == prefix


@pytest.mark.parametrize(
    "setting",
    [
        "prod",
        "ssm:prod",
        "secretsmanager:",
        "secretsmanager:/abs",
        "secretsmanager:a//b",
        "secretsmanager:a b",
    ],
)
def test_bad_scope_settings_are_one_line_errors_naming_the_setting(setting: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_scope(setting, "DOCKER_CREDENTIAL_CONVOX_SHARED")
    assert raised.value.message.startswith("DOCKER_CREDENTIAL_CONVOX_SHARED")
    assert "\n" not in raised.value.message
