"""Parsing what arrives on stdin: property-based, and the exact replies."""

from __future__ import annotations

import base64
import io
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import HELPER, RunHelper, run_helper_in

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


# A lone surrogate (`\ud800` in JSON) is no character: no keyring, file or AWS call can encode it,
# and the encoder's error names the character and its position, which would be part of a secret.
LONE_SURROGATES = ("\ud800", "\udfff", "ab\udc80cd", "\ud83d")  # the last: half of an emoji


@pytest.mark.parametrize("field", ["ServerURL", "Username", "Secret"])
@pytest.mark.parametrize("surrogate", LONE_SURROGATES)
def test_a_lone_surrogate_in_a_field_is_a_bad_request_naming_only_the_field(
    field: str, surrogate: str
) -> None:
    payload = {"ServerURL": "r.example", "Username": "u", "Secret": "s"}
    payload[field] += surrogate
    with pytest.raises(BadRequest) as caught:
        protocol.parse_credentials(json.dumps(payload).encode())
    message = caught.value.message
    assert message.startswith(f'invalid store request: "{field}" is not valid Unicode'), message
    assert "\n" not in message
    assert "position" not in message
    for text in (surrogate, surrogate.encode("unicode_escape").decode()):
        assert text not in message


@pytest.mark.parametrize("field", ["ServerURL", "Username", "Secret"])
def test_the_installed_helper_refuses_a_lone_surrogate_in_one_line_and_stores_nothing(
    run_helper: RunHelper, field: str
) -> None:
    fields = {"ServerURL": '"r.example"', "Username": '"user"', "Secret": '"pass"'}
    fields[field] = '"x\\ud800yz"'  # JSON text: the escape, as a client could send it
    request = "{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}"
    result = run_helper("store", request)
    assert result.returncode == 1, result
    assert result.stdout.startswith(f'invalid store request: "{field}" is not valid Unicode')
    assert result.stdout.count("\n") == 1
    everything = result.stdout + result.stderr
    for leak in ("Traceback", "\\ud800", "position", "codec", "xyz"):
        assert leak not in everything, everything
    assert json.loads(run_helper("list").stdout) == {}


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [
        (b"user", b"pass\xffword", "password"),  # Latin-1 typed into a UTF-8 pipe
        (b"user", b"pa\xed\xa0\x80ss", "password"),  # a surrogate encoded as if UTF-8
        (b"us\xe9r", b"password", "username"),
    ],
)
def test_registries_add_refuses_text_that_is_not_utf8_naming_the_field_only(
    helper_env: dict[str, str], username: bytes, password: bytes, field: str
) -> None:
    command = [str(HELPER), "registries", "add", "r.example", "--no-verify"]
    result = subprocess.run(
        [*command, "--username", username, "--password-stdin"],
        input=password,
        capture_output=True,
        env=helper_env,
        check=False,
    )
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 1, result
    assert stderr == f"the {field} is not valid UTF-8 text; give it as UTF-8\n"
    assert json.loads(run_helper_in(helper_env, "list").stdout) == {}


def test_registries_import_skips_a_login_that_is_not_valid_unicode_naming_the_field_only(
    helper_env: dict[str, str],
) -> None:
    config = Path(helper_env["DOCKER_CONFIG"]) / "config.json"
    auths = {  # json.dumps writes a lone surrogate as an escape (`\ud800`), as any program may
        "good.example": {"auth": base64.b64encode(b"alice:good-password").decode()},
        "token.example": {"identitytoken": "Kq7\ud800Vw"},
        "pass.example": {"username": "bob", "password": "Mz3\udfffXy"},
    }
    config.write_text(json.dumps({"auths": auths}))
    result = run_helper_in(helper_env, "registries", "import")
    assert result.returncode == 0, result
    assert "Skipped token.example: its `identitytoken` field is not valid Unicode" in result.stderr
    assert "Skipped pass.example: its `password` field is not valid Unicode" in result.stderr
    for leak in ("Traceback", "\\ud800", "\\udfff", "position", "codec", "Kq7", "Mz3"):
        assert leak not in result.stdout + result.stderr, result
    assert json.loads(run_helper_in(helper_env, "list").stdout) == {"good.example": "alice"}
