"""`json.loads` and `json.dumps` for the hot paths, without importing `json`.

`import json` imports `re`, and with it `enum`, `functools` and `collections`: more than the
rest of a cached ECR `get` costs. CPython's `json` does its work in the `_json` extension
anyway (the scanner and the string encoder); this module calls it directly and renders the few
shapes the helper writes (strings, lists, objects), giving byte for byte what `json` gives.
Anything else, an error, or a Python without `_json` goes through `json` itself.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, Callable

_WHITESPACE = " \t\n\r"


class _Context:
    """What `_json.make_scanner` reads from a JSONDecoder: its defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity, as json reads them


_scanner: Callable[[str, int], tuple[Any, int]] | None = None


def _scan() -> Callable[[str, int], tuple[Any, int]] | None:
    global _scanner  # noqa: PLW0603 - made once per process
    if _scanner is None:
        try:
            from _json import make_scanner
        except ImportError:  # not CPython: json's own
            return None
        _scanner = make_scanner(_Context())  # type: ignore[arg-type]
    return _scanner


def loads(text: str) -> Any:
    """As `json.loads(text)`; a ValueError (json.JSONDecodeError) for what is not JSON."""
    scan = _scan()
    start = len(text) - len(text.lstrip(_WHITESPACE))
    if scan is not None and start < len(text):
        try:
            value, end = scan(text, start)
        except Exception:  # noqa: S110 - not JSON: json says what (the scanner raises its error
            pass  # class only once json.decoder is loaded, a SystemError before)
        else:
            if not text[end:].strip(_WHITESPACE):
                return value
    import json  # the error, worded by json itself

    return json.loads(text)


def dumps(
    value: object, *, sort_keys: bool = False, separators: tuple[str, str] = (", ", ": ")
) -> str:
    """As `json.dumps(value, sort_keys=..., separators=...)` (ASCII, as json's default)."""
    try:
        from _json import encode_basestring_ascii
    except ImportError:  # not CPython
        pass
    else:
        parts: list[str] = []
        if _render(value, parts, encode_basestring_ascii, sort_keys, separators):
            return "".join(parts)
    import json

    return json.dumps(value, sort_keys=sort_keys, separators=separators)


def _render(  # noqa: PLR0911 - one return per JSON shape
    value: object,
    parts: list[str],
    quote: Callable[[str], str],
    sort_keys: bool,
    separators: tuple[str, str],
) -> bool:
    """Append the JSON of `value` to `parts`; False for a shape left to json."""
    if isinstance(value, str):
        parts.append(quote(value))
        return True
    item, key = separators
    if isinstance(value, (list, tuple)):
        parts.append("[")
        for index, element in enumerate(value):
            if index:
                parts.append(item)
            if not _render(element, parts, quote, sort_keys, separators):
                return False
        parts.append("]")
        return True
    if isinstance(value, dict):
        if not all(isinstance(name, str) for name in value):
            return False
        parts.append("{")
        for index, name in enumerate(sorted(value) if sort_keys else value):
            if index:
                parts.append(item)
            parts.append(quote(name))
            parts.append(key)
            if not _render(value[name], parts, quote, sort_keys, separators):
                return False
        parts.append("}")
        return True
    if value is None or isinstance(value, bool):
        parts.append({None: "null", True: "true", False: "false"}[value])
        return True
    if type(value) is int:
        parts.append(int.__repr__(value))
        return True
    return False  # floats (nan, inf, repr) and everything else: json's own
