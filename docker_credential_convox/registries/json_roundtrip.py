"""JSON that remembers how it was written: parse a document, edit it, render it back.

Another program's file (Docker's config.json, say) must come back from our edits with every
key and value we did not touch exactly as it was: numbers keep their spelling (`1.50`, `1e3`,
`-0.0`, integers past 2**53), strings their escapes (Go writes `<` as `\\u003c`), objects their
key order and repeated keys. `json.loads` keeps none of that, so a document is read into nodes
that keep each token's text. Only the whitespace between tokens is renewed on rendering
(indented by the unit the file used). This module knows nothing of Docker: a text that is not
the JSON asked for is a ValueError with a one-line description for the caller to place.
"""

from __future__ import annotations

import json
import re
from typing import Optional, Union

DEFAULT_INDENT = "\t"  # what Docker writes


class Scalar:
    """A string, number, true, false or null exactly as the file spells it."""

    __slots__ = ("text", "value")

    def __init__(self, text: str, value: object) -> None:
        self.text = text
        self.value = value

    @classmethod
    def of(cls, value: Union[str, int, bool, None]) -> Scalar:
        """A new scalar, spelled as json.dumps spells it."""
        return cls(json.dumps(value), value)

    def __repr__(self) -> str:
        return f"Scalar({self.text})"


class JsonArray:
    """A JSON array of nodes."""

    __slots__ = ("items",)

    def __init__(self, items: Optional[list[Node]] = None) -> None:
        self.items: list[Node] = items or []


class JsonObject:
    """A JSON object: members in file order, each key with its original spelling."""

    __slots__ = ("members",)

    def __init__(self, members: Optional[list[tuple[Scalar, Node]]] = None) -> None:
        self.members: list[tuple[Scalar, Node]] = members or []

    def names(self) -> list[str]:
        """The decoded keys, in file order (a duplicated key once, at its last place)."""
        seen: dict[str, None] = {}
        for key, _ in self.members:
            name = str(key.value)
            seen.pop(name, None)
            seen[name] = None
        return list(seen)

    def get(self, name: str) -> Optional[Node]:
        """The value of `name` (the last one, as Go and Python decoders take), or None."""
        found: Optional[Node] = None
        for key, value in self.members:
            if key.value == name:
                found = value
        return found

    def set(self, name: str, value: Node) -> None:
        """Replace the value of `name` where it stands, or append it."""
        for position in range(len(self.members) - 1, -1, -1):
            key, _ = self.members[position]
            if key.value == name:
                self.members[position] = (key, value)
                return
        self.members.append((Scalar.of(name), value))

    def every(self, name: str) -> list[Node]:
        """Every value of `name`, in file order: a key written twice has two (the last wins)."""
        return [value for key, value in self.members if key.value == name]

    def delete(self, name: str) -> bool:
        """Remove every member named `name`; whether there was one."""
        kept = [(key, value) for key, value in self.members if key.value != name]
        removed = len(kept) != len(self.members)
        self.members = kept
        return removed


Node = Union[Scalar, JsonArray, JsonObject]


def kind(node: Node) -> str:
    """What `node` is, as a sentence says it: "an array", "a string", "null"..."""
    if isinstance(node, JsonArray):
        return "an array"
    if isinstance(node, JsonObject):
        return "an object"
    if isinstance(node.value, str):
        return "a string"
    if node.value is None:
        return "null"
    if isinstance(node.value, bool):
        return "a boolean"
    return "a number"


def string_value(node: Optional[Node]) -> str:
    """The text of a string node; "" for anything else (missing, null, a number...)."""
    if isinstance(node, Scalar) and isinstance(node.value, str):
        return node.value
    return ""


def is_null(node: Optional[Node]) -> bool:
    """Whether `node` is missing or a JSON null."""
    return node is None or (isinstance(node, Scalar) and node.value is None)


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}


class _Reader:
    """Reads text that json.loads has already accepted, keeping every token's spelling."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def _skip(self) -> None:
        match = _WHITESPACE.match(self.text, self.position)
        assert match is not None  # the pattern matches the empty string
        self.position = match.end()

    def _peek(self) -> str:
        self._skip()
        return self.text[self.position : self.position + 1]

    def _expect(self, char: str) -> None:
        if self._peek() != char:  # unreachable for text json.loads accepted
            raise ValueError(f"expected {char!r} at offset {self.position}")
        self.position += 1

    def _scalar(self, pattern: re.Pattern[str]) -> Scalar:
        match = pattern.match(self.text, self.position)
        if match is None:
            raise ValueError(f"unexpected character at offset {self.position}")
        self.position = match.end()
        return Scalar(match.group(), json.loads(match.group()))

    def document(self) -> Node:
        value = self.value()
        if self._peek():
            raise ValueError(f"extra data at offset {self.position}")
        return value

    def value(self) -> Node:
        char = self._peek()
        if char == "{":
            return self._object()
        if char == "[":
            return self._array()
        if char == '"':
            return self._scalar(_STRING)
        for literal, value in _LITERALS.items():
            if self.text.startswith(literal, self.position):
                self.position += len(literal)
                return Scalar(literal, value)
        return self._scalar(_NUMBER)

    def _object(self) -> JsonObject:
        self._expect("{")
        result = JsonObject()
        if self._peek() == "}":
            self.position += 1
            return result
        while True:
            self._skip()
            key = self._scalar(_STRING)
            self._expect(":")
            result.members.append((key, self.value()))
            if self._peek() == ",":
                self.position += 1
                continue
            self._expect("}")
            return result

    def _array(self) -> JsonArray:
        self._expect("[")
        result = JsonArray()
        if self._peek() == "]":
            self.position += 1
            return result
        while True:
            result.items.append(self.value())
            if self._peek() == ",":
                self.position += 1
                continue
            self._expect("]")
            return result


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def parse(text: str) -> Node:
    """The document in `text`, every token as spelled.

    ValueError, one line, when `text` is not strict JSON (NaN and Infinity are not); a
    document nested deeper than the interpreter's recursion limit raises RecursionError.
    """
    try:
        json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise ValueError(f"{exc.msg}: line {exc.lineno} column {exc.colno}") from None
        raise ValueError(str(exc)) from None
    return _Reader(text).document()


def render(document: Node, indent: str = DEFAULT_INDENT) -> str:
    """The document as text: every token as it was read, `indent` per level, a final newline."""
    parts: list[str] = []
    _render(document, indent, 0, parts)
    parts.append("\n")
    return "".join(parts)


def _render(node: Node, indent: str, level: int, parts: list[str]) -> None:
    if isinstance(node, Scalar):
        parts.append(node.text)
        return
    inner = "\n" + indent * (level + 1)
    if isinstance(node, JsonObject):
        if not node.members:
            parts.append("{}")
            return
        parts.append("{")
        for position, (key, value) in enumerate(node.members):
            parts.append(("," if position else "") + inner + key.text + ": ")
            _render(value, indent, level + 1, parts)
        parts.append("\n" + indent * level + "}")
        return
    if not node.items:
        parts.append("[]")
        return
    parts.append("[")
    for position, item in enumerate(node.items):
        parts.append(("," if position else "") + inner)
        _render(item, indent, level + 1, parts)
    parts.append("\n" + indent * level + "]")


def detect_indent(text: str) -> str:
    """The indentation unit of a text's first indented line (tab, or N spaces); tab if none."""
    match = re.search(r"\n([ \t]+)\S", text)
    if match is None:
        return DEFAULT_INDENT
    unit = match.group(1)
    return "\t" if "\t" in unit else unit


def tokens(text: str) -> str:
    """`text` without the whitespace between JSON tokens (strings kept exactly)."""
    return re.sub(r'("(?:[^"\\]|\\.)*")|[ \t\n\r]+', lambda m: m.group(1) or "", text)
