"""The wire format of the Docker credential-helper protocol: parse requests, render replies.

Knows nothing about where credentials live. Field names on `store` are matched
case-insensitively and unknown fields are ignored, as Go's encoding/json does.

Replies (`get`, `list`) are the bytes the Go helpers print (Go's encoding/json Encoder):
compact (no space after `:` or `,`); `"` and `\\` escaped; `\\n`, `\\r`, `\\t` short, every other
control character below U+0020 as `\\u00XX` (lower-case hex; `\\b` and `\\f` too, as the Go of
Debian's docker-credential-secretservice 0.6.4 writes them); `<`, `>`, `&` as `\\u003c`,
`\\u003e`, `\\u0026`; U+2028 and U+2029 escaped; DEL and all other non-ASCII characters as they
are (the caller writes UTF-8); a lone surrogate, which UTF-8 cannot carry, as U+FFFD (Go writes
invalid UTF-8 so). Replies only: the helper's own files keep minijson's format.
"""

from __future__ import annotations

from docker_credential_convox import APP, TYPE_CHECKING
from docker_credential_convox.errors import BadRequest, MissingServerURL, MissingUsername

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import IO, Optional

# The Go helpers read stdin with a line scanner capped at 64 KiB; we cap the whole request there.
MAX_REQUEST_BYTES = 64 * 1024

ACTIONS = ("store", "get", "erase", "list", "version")
STORE_SHAPE = '{"ServerURL": "...", "Username": "...", "Secret": "..."}'


class Credentials:
    """A server URL with the username and secret stored for it. The secret never shows in repr.

    `expires_at` (epoch seconds) is set for a minted registry token, None for a stored login.
    """

    __slots__ = ("expires_at", "secret", "server_url", "username")

    def __init__(
        self, server_url: str, username: str, secret: str, expires_at: Optional[float] = None
    ) -> None:
        self.server_url = server_url
        self.username = username
        self.secret = secret
        self.expires_at = expires_at

    def __repr__(self) -> str:
        return (
            f"Credentials(server_url={self.server_url!r}, username={self.username!r}, secret=***)"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return (self.server_url, self.username, self.secret) == (
            other.server_url,
            other.username,
            other.secret,
        )

    __hash__ = None  # type: ignore[assignment]


def read_request(stream: IO[bytes], limit: int = MAX_REQUEST_BYTES) -> bytes:
    """Read the whole request from stdin, refusing more than `limit` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise BadRequest(
            f"request on stdin is larger than {limit // 1024} KiB: "
            "send one server URL (get/erase) or one credentials object (store)"
        )
    return data


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("request on stdin is not valid UTF-8: send UTF-8 text") from None


def parse_server_url(data: bytes) -> str:
    """The server URL of a get or erase request: trimmed, one line, not empty."""
    text = _decode(data).strip()
    if not text:
        raise MissingServerURL()
    # Anything else is a key (servers.parse_key), as for the Go helpers: one that was stored
    # with a space or a control character is found again.
    return text


def _field(fields: Mapping[str, object], name: str) -> str:
    value = fields.get(name.lower())
    if value is None:  # Go decodes a missing field and a JSON null to ""
        return ""
    if not isinstance(value, str):
        raise BadRequest(
            f'invalid store request: "{name}" must be a JSON string, not {_json_type(value)}; '
            f"expected {STORE_SHAPE}"
        )
    if not is_valid_unicode(value):  # no store can keep it, and its encoder's error quotes it
        raise BadRequest(
            f'invalid store request: "{name}" is not valid Unicode (a lone surrogate); '
            "send it as UTF-8 text, with \\u escapes only for whole characters"
        )
    return value


def is_valid_unicode(text: str) -> bool:
    """Whether `text` has no lone surrogate: JSON's "\\ud800", or bytes that were not UTF-8 on
    stdin or in argv (Python decodes those to surrogates); errors name the field, never this."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a string"


def parse_credentials(data: bytes) -> Credentials:
    """The credentials of a store request; errors never quote the input (it holds a secret)."""
    text = _decode(data)
    if not text.strip():
        raise BadRequest(f"no credentials on stdin: store expects {STORE_SHAPE}")
    import json  # here, not at the top: `version` never needs it

    try:
        document = json.loads(text)
    except RecursionError:  # 30,000 brackets fit in 64 KiB; json.loads recurses per level
        raise BadRequest(
            f"invalid JSON on stdin (nested too deeply): store expects {STORE_SHAPE}"
        ) from None
    except ValueError as exc:
        # JSONDecodeError's own text names only a position, never the content.
        position = getattr(exc, "msg", "malformed JSON")
        raise BadRequest(
            f"invalid JSON on stdin ({position}): store expects {STORE_SHAPE}"
        ) from None
    if not isinstance(document, dict):
        raise BadRequest(
            f"invalid store request: expected a JSON object, got {_json_type(document)}; "
            f"expected {STORE_SHAPE}"
        )
    fields = {str(key).lower(): value for key, value in document.items()}
    server_url = _field(fields, "ServerURL")
    username = _field(fields, "Username")
    secret = _field(fields, "Secret")
    if not server_url.strip():
        raise MissingServerURL()
    if not username:
        raise MissingUsername()
    if "\0" in username:  # D-Bus strings (the Secret Service's attributes) cannot carry one
        raise BadRequest(
            'invalid store request: "Username" contains a NUL character; '
            "send the username without it"
        )
    return Credentials(server_url.strip(), username, secret)


def render_credentials(credentials: Credentials) -> bytes:
    """The reply to get: the Go helpers' bytes, UTF-8, one line."""
    reply = go_object(
        (
            ("ServerURL", credentials.server_url),
            ("Username", credentials.username),
            ("Secret", credentials.secret),
        )
    )
    return (reply + "\n").encode("utf-8")


def render_listing(listing: Mapping[str, str]) -> bytes:
    """The reply to list: server URL -> username, keys in a Go map's (byte) order."""
    # Code point order is UTF-8 byte order, the order Go sorts a map's keys in.
    return (go_object(sorted(listing.items())) + "\n").encode("utf-8")


def render_version(version: str, distribution: str, name: str = APP) -> str:
    """The reply to version, shaped like the Go helpers' `NAME (PACKAGE) VERSION`."""
    return f"{name} ({distribution}) {version}\n"


def usage(name: str = APP) -> str:
    """The usage line the reference helpers print for a wrong argument count."""
    return f"Usage: {name} <store|get|erase|list|version>"


_ESCAPES: dict[int, str] = {}


def _escapes() -> dict[int, str]:
    """The str.translate table of every character Go escapes, made on first use."""
    if not _ESCAPES:
        _ESCAPES.update({code: f"\\u{code:04x}" for code in range(0x20)})
        _ESCAPES.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"})
        _ESCAPES.update({code: f"\\u{code:04x}" for code in (0x3C, 0x3E, 0x26, 0x2028, 0x2029)})
    return _ESCAPES


def go_string(text: str) -> str:
    """`text` as a JSON string literal, as Go's encoder writes it."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (U+D800..U+DFFF): Go has U+FFFD there
            text = "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    return '"' + text.translate(_escapes()) + '"'


def go_object(pairs: Iterable[tuple[str, str]]) -> str:
    """`{"name":"value",...}` of `pairs` in the order given (sort them for a Go map's order)."""
    return "{" + ",".join(go_string(name) + ":" + go_string(value) for name, value in pairs) + "}"
