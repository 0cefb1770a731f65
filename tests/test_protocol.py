"""Parsing what arrives on stdin: property-based, and the exact replies."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from docker_credential_convox import protocol
from docker_credential_convox.errors import (
    BadRequest,
    HelperError,
    MissingServerURL,
    MissingUsername,
)

non_blank = st.text(min_size=1).filter(lambda s: s.strip() != "")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=8,
)


@given(non_blank, st.text().filter(lambda s: s != "" and "\0" not in s), st.text())
def test_any_credentials_round_trip_through_store_json(server: str, user: str, secret: str) -> None:
    data = json.dumps({"ServerURL": server, "Username": user, "Secret": secret}).encode()
    parsed = protocol.parse_credentials(data)
    assert (parsed.server_url, parsed.username, parsed.secret) == (server.strip(), user, secret)


@given(st.text(), st.text())
def test_a_nul_anywhere_in_the_username_is_a_bad_request(before: str, after: str) -> None:
    data = json.dumps({"ServerURL": "r.example", "Username": before + "\0" + after}).encode()
    with pytest.raises(BadRequest, match="NUL"):
        protocol.parse_credentials(data)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_parse_or_raise_a_helper_error_never_crash(data: bytes) -> None:
    for parse in (protocol.parse_credentials, protocol.parse_server_url):
        message = ""
        try:
            parse(data)
        except HelperError as exc:
            message = exc.message
        assert "\n" not in message


@given(json_values)
def test_arbitrary_json_parses_or_raises_a_helper_error(value: object) -> None:
    message = ""
    try:
        protocol.parse_credentials(json.dumps(value).encode())
    except HelperError as exc:
        message = exc.message
    assert "\n" not in message


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30))
def test_errors_never_quote_the_secret(secret: str) -> None:
    marker = "Q" + secret + "Q"
    for payload in (
        {"ServerURL": "r", "Username": 5, "Secret": marker},
        {"ServerURL": "r", "Username": "", "Secret": marker},
    ):
        with pytest.raises(HelperError) as caught:
            protocol.parse_credentials(json.dumps(payload).encode())
        assert marker not in caught.value.message
    with pytest.raises(HelperError) as caught:
        protocol.parse_credentials(json.dumps({"Secret": marker}).encode()[:-1])
    assert marker not in caught.value.message


@given(
    non_blank.filter(
        lambda s: not any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in s.strip())
    )
)
def test_server_url_is_trimmed(url: str) -> None:
    assert protocol.parse_server_url(("\n " + url + " \n").encode()) == url.strip()


def test_missing_fields_use_reference_errors() -> None:
    with pytest.raises(MissingServerURL):
        protocol.parse_credentials(b'{"Username":"u"}')
    with pytest.raises(MissingUsername):
        protocol.parse_credentials(b'{"ServerURL":"r","Username":null}')


def test_read_request_enforces_the_limit_exactly() -> None:
    limit = protocol.MAX_REQUEST_BYTES
    assert len(protocol.read_request(io.BytesIO(b"x" * limit))) == limit
    with pytest.raises(BadRequest):
        protocol.read_request(io.BytesIO(b"x" * (limit + 1)))


def test_replies_are_single_json_lines() -> None:
    reply = protocol.render_credentials(protocol.Credentials("r", "<token>", "s"))
    assert reply.endswith(b"\n")
    assert reply.count(b"\n") == 1
    assert json.loads(reply) == {"ServerURL": "r", "Username": "<token>", "Secret": "s"}
    assert protocol.render_listing({"b": "2", "a": "1"}) == b'{"a":"1","b":"2"}\n'


def test_credentials_repr_hides_the_secret() -> None:
    assert "hunter2" not in repr(protocol.Credentials("r", "u", "hunter2"))
