"""`get` and `list` print the very bytes the Go helpers print (issue 18, items 1 and 3).

The expected bytes below were measured with Debian's docker-credential-secretservice 0.6.4;
tests/test_differential.py compares whole runs against that helper itself.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import HELPER, RunHelper

from docker_credential_convox import protocol

HEX = "0123456789abcdef"
# Every ASCII byte Go's encoder writes as it is with HTML escaping on (its htmlSafeSet).
HTML_SAFE = frozenset(chr(b) for b in range(0x20, 0x80)) - set('"\\<>&')


def go_encode_string(text: str) -> str:
    """A transcription of Go 1.19's encodeState.string(s, escapeHTML=true) over UTF-8 bytes."""
    data = text.encode("utf-8")
    out = ['"']
    index = 0
    while index < len(data):
        byte = data[index]
        if byte < 0x80:
            char = chr(byte)
            if char in HTML_SAFE:
                out.append(char)
            elif char in '\\"':
                out.append("\\" + char)
            elif char in "\n\r\t":
                out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
            else:  # bytes below 0x20 but \t, \n, \r; and <, >, &
                out.append("\\u00" + HEX[byte >> 4] + HEX[byte & 0xF])
            index += 1
            continue
        length = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
        char = data[index : index + length].decode("utf-8")
        out.append("\\u202" + HEX[ord(char) & 0xF] if char in "\u2028\u2029" else char)
        index += length
    out.append('"')
    return "".join(out)


# Text as Go can hold it after decoding a store request: any code point but a lone surrogate.
go_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
tricky_text = st.text(
    st.sampled_from(list('"\\<>&/\b\f\n\r\t\x00\x01\x1f\x7f\x80é中\u2028\u2029\ufeff😀 a')),
    max_size=40,
)


@given(st.one_of(go_text, tricky_text))
def test_strings_are_escaped_as_go_escapes_them(text: str) -> None:
    assert protocol.go_string(text) == go_encode_string(text)
    assert json.loads(protocol.go_string(text)) == text


@given(st.text(st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "a", "é"]), max_size=10))
def test_lone_surrogates_are_written_as_the_replacement_character(text: str) -> None:
    """Go decodes a lone surrogate escape to U+FFFD, so that is what it would print."""
    replaced = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    assert protocol.go_string(text) == go_encode_string(replaced)


@given(st.dictionaries(go_text, go_text, max_size=6))
def test_listing_is_a_compact_go_map_with_sorted_keys(listing: dict[str, str]) -> None:
    pairs = sorted(listing.items(), key=lambda item: item[0].encode("utf-8"))
    body = ",".join(f"{go_encode_string(k)}:{go_encode_string(v)}" for k, v in pairs)
    assert protocol.render_listing(listing) == ("{" + body + "}\n").encode("utf-8")


def test_get_reply_is_the_go_helpers_bytes() -> None:
    credentials = protocol.Credentials(
        "reg1.example.com", "us<er>&é", 'p"a\\ss<>&é中\u2028x\u2029\x7f\x01\b\f'
    )
    assert protocol.render_credentials(credentials) == (
        b'{"ServerURL":"reg1.example.com","Username":"us\\u003cer\\u003e\\u0026\xc3\xa9",'
        b'"Secret":"p\\"a\\\\ss\\u003c\\u003e\\u0026\xc3\xa9\xe4\xb8\xad\\u2028x\\u2029\x7f'
        b'\\u0001\\u0008\\u000c"}\n'
    )


def test_list_reply_is_the_go_helpers_bytes() -> None:
    assert protocol.render_listing({"reg1.example.com": "us<er>&é", "a.example": "u"}) == (
        b'{"a.example":"u","reg1.example.com":"us\\u003cer\\u003e\\u0026\xc3\xa9"}\n'
    )
    assert protocol.render_listing({}) == b"{}\n"


NON_ASCII = {"ServerURL": "utf8.example.com", "Username": "jürgen<>", "Secret": "パス\u2028"}
NON_ASCII_REPLY = (
    '{"ServerURL":"utf8.example.com","Username":"jürgen\\u003c\\u003e","Secret":"パス\\u2028"}\n'
).encode()


@pytest.mark.parametrize(
    "locale_env",
    [
        {"LANG": "C"},
        {"LC_ALL": "C", "LANG": "C"},
        # No UTF-8 mode and no locale coercion: sys.stdout's own encoding is ASCII here.
        {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
        {"PYTHONIOENCODING": "latin-1"},
    ],
    ids=["LANG=C", "LC_ALL=C", "ascii-stdout", "latin-1-stdout"],
)
def test_non_ascii_replies_are_utf8_whatever_the_locale(
    run_helper: RunHelper, helper_env: dict[str, str], locale_env: dict[str, str]
) -> None:
    assert run_helper("store", json.dumps(NON_ASCII)).returncode == 0
    env = {**helper_env, **locale_env}
    got = subprocess.run(
        [str(HELPER), "get"],
        input=b"utf8.example.com",
        capture_output=True,
        env=env,
        check=False,
    )
    assert (got.returncode, got.stdout, got.stderr) == (0, NON_ASCII_REPLY, b"")
    listed = subprocess.run(
        [str(HELPER), "list"],
        capture_output=True,
        env=env,
        check=False,
    )
    assert listed.stdout == '{"utf8.example.com":"jürgen\\u003c\\u003e"}\n'.encode()


HUB_URL = "https://index.docker.io/v1/"


@pytest.mark.parametrize(
    "alias",
    [
        "docker.io",
        "index.docker.io",
        "https://index.docker.io/v1/",
        "https://index.docker.io/v1",
        "https://index.docker.io",
        "registry-1.docker.io",
        "https://registry-1.docker.io/v2/",
        "registry.hub.docker.com",
        "HTTPS://Docker.IO:443/",
    ],
)
def test_list_shows_docker_hub_under_the_key_docker_looks_up(
    run_helper: RunHelper, alias: str
) -> None:
    """Docker's GetAllCredentials keys its map by `list`'s keys; the daemon asks for
    exactly https://index.docker.io/v1/ (issue 18 item 3)."""
    earlier = {"ServerURL": "docker.io", "Username": "earlier", "Secret": "old"}
    assert run_helper("store", json.dumps(earlier)).returncode == 0
    stored = {"ServerURL": alias, "Username": "hubuser", "Secret": "pat"}
    assert run_helper("store", json.dumps(stored)).returncode == 0
    assert run_helper("list").stdout == f'{{"{HUB_URL}":"hubuser"}}\n'


def test_docker_hub_token_entries_are_listed_as_stored(run_helper: RunHelper) -> None:
    """The web login's access and refresh tokens are entries of their own: only the Hub's own
    entry takes the canonical key."""
    for url, username in [
        ("docker.io", "hubuser"),
        (f"{HUB_URL}access-token", "at"),
        (f"{HUB_URL}refresh-token", "rt"),
    ]:
        request = {"ServerURL": url, "Username": username, "Secret": "s"}
        assert run_helper("store", json.dumps(request)).returncode == 0
    assert json.loads(run_helper("list").stdout) == {
        HUB_URL: "hubuser",
        f"{HUB_URL}access-token": "at",
        f"{HUB_URL}refresh-token": "rt",
    }


@pytest.mark.parametrize(
    "locale_env",
    [{"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}, {"PYTHONIOENCODING": "ascii"}],
    ids=["ascii-stdout", "PYTHONIOENCODING=ascii"],
)
def test_errors_on_stdout_are_utf8_whatever_the_locale(
    helper_env: dict[str, str], locale_env: dict[str, str]
) -> None:
    """Errors are protocol output too (the Go helpers print them on stdout): same bytes as Go's."""
    result = subprocess.run(
        [str(HELPER), "größe"], capture_output=True, env={**helper_env, **locale_env}, check=False
    )
    assert (result.returncode, result.stdout) == (1, "Unknown credential action `größe`\n".encode())
