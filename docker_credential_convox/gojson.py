"""JSON as the Go helpers print their replies (Go's encoding/json Encoder), for `get` and `list`.

Compact (no space after `:` or `,`); `"` and `\\` escaped; `\\n`, `\\r`, `\\t` short, every other
control character below U+0020 as `\\u00XX` (lower-case hex; `\\b` and `\\f` too, as the Go of
Debian's docker-credential-secretservice 0.6.4 writes them); `<`, `>`, `&` as `\\u003c`,
`\\u003e`, `\\u0026`; U+2028 and U+2029 escaped; DEL and all other non-ASCII characters as they
are (the caller writes UTF-8); a lone surrogate, which UTF-8 cannot carry, as U+FFFD (Go writes
invalid UTF-8 so). Replies only: the helper's own files keep minijson's format.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

_ESCAPES: dict[int, str] = {}


def _escapes() -> dict[int, str]:
    """The str.translate table of every character Go escapes, made on first use."""
    if not _ESCAPES:
        _ESCAPES.update({code: f"\\u{code:04x}" for code in range(0x20)})
        _ESCAPES.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"})
        _ESCAPES.update({code: f"\\u{code:04x}" for code in (0x3C, 0x3E, 0x26, 0x2028, 0x2029)})
    return _ESCAPES


def string(text: str) -> str:
    """`text` as a JSON string literal, as Go's encoder writes it."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (U+D800..U+DFFF): Go has U+FFFD there
            text = "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    return '"' + text.translate(_escapes()) + '"'


def object_of_strings(pairs: Iterable[tuple[str, str]]) -> str:
    """`{"name":"value",...}` of `pairs` in the order given (sort them for a Go map's order)."""
    return "{" + ",".join(string(name) + ":" + string(value) for name, value in pairs) + "}"
