"""The plain Secret Service read's three D-Bus calls, spoken on the session bus's Unix socket.

jeepney's import (typing, enum, socket, selectors, re) cost more than the rest of a keyring
`get` together. The read needs much less of D-Bus: a Unix socket (`_socket`), the EXTERNAL
authentication, `Hello`, and method calls whose arguments are strings, a dict of strings and a
variant of a string; the replies are read by a small reader of the wire format that knows every
basic type, arrays, structs, dict entries and variants, in either byte order. Specification:
https://dbus.freedesktop.org/doc/dbus-specification.html (message format, authentication).

`Unsupported` means this module cannot tell: an address it does not open (anything but
`unix:path=` and `unix:abstract=`, none set), a refused authentication, a reply it cannot
read. The caller then reads with jeepney as before. `TimeoutError` means the bus or the daemon
did not answer one call within its bound, as jeepney's `send_and_get_reply` says it.
"""

from __future__ import annotations

import _socket
from time import monotonic

from docker_credential_convox import TYPE_CHECKING, minios

if TYPE_CHECKING:
    from typing import Any, Optional

BUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")  # name, path, iface
METHOD_CALL, METHOD_RETURN, ERROR = 1, 2, 3
# Header fields: the code and the type of each field a call sets, and the two a reply is read by.
PATH, INTERFACE, MEMBER, DESTINATION, SIGNATURE = (1, "o"), (2, "s"), (3, "s"), (6, "s"), (8, "g")
REPLY_SERIAL, REPLY_SIGNATURE = 5, 8
MAX_MESSAGE = 1 << 27  # the specification's maximum message length
FIXED = {"y": 1, "b": 4, "n": 2, "q": 2, "i": 4, "u": 4, "x": 8, "t": 8, "h": 4, "d": 8}
SIGNED = "nix"


class Unsupported(Exception):
    """Not read here (see the module's docstring): the caller reads with jeepney."""


class ErrorReply(Exception):
    """The daemon answered a call with an error (no such object, locked, ...)."""


def session_bus_path(address: Optional[str]) -> str:
    """The socket path (abstract ones with their leading NUL) of the first address of
    DBUS_SESSION_BUS_ADDRESS; Unsupported for any other transport, or none."""
    if not address:
        raise Unsupported("no session bus address")
    transport, _, pairs = address.split(";", 1)[0].partition(":")
    if transport != "unix":
        raise Unsupported(f"transport {transport}")
    keys = {}
    for pair in pairs.split(","):
        name, _, value = pair.partition("=")
        keys[name] = _unescape(value)
    if "path" in keys:
        return keys["path"]
    if "abstract" in keys:
        return "\0" + keys["abstract"]
    raise Unsupported("a unix address without path= or abstract=")


def _unescape(value: str) -> str:
    """An address value with its %XX escapes decoded (the specification's only escaping)."""
    if "%" not in value:
        return value
    raw = bytearray()
    index = 0
    while index < len(value):
        if value[index] == "%":
            raw.append(int(value[index + 1 : index + 3], 16))
            index += 3
        else:
            raw.extend(value[index].encode())
            index += 1
    return raw.decode("utf-8", "surrogateescape")


# -- writing a call (little-endian) ----------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self.data = bytearray()

    def pad(self, alignment: int) -> None:
        self.data.extend(b"\0" * (-len(self.data) % alignment))

    def uint32(self, value: int) -> None:
        self.pad(4)
        self.data.extend(value.to_bytes(4, "little"))

    def string(self, value: str) -> None:
        encoded = value.encode("utf-8")
        self.uint32(len(encoded))
        self.data.extend(encoded + b"\0")

    def signature(self, value: str) -> None:
        self.data.append(len(value))
        self.data.extend(value.encode("ascii") + b"\0")

    def string_dict(self, values: dict[str, str]) -> None:
        """a{ss}: the array's byte length excludes the padding to its first entry."""
        self.uint32(0)
        length_at = len(self.data) - 4
        self.pad(8)
        start = len(self.data)
        for key, value in values.items():
            self.pad(8)
            self.string(key)
            self.string(value)
        self.data[length_at : length_at + 4] = (len(self.data) - start).to_bytes(4, "little")


def method_call(
    serial: int, target: tuple[str, str, str, str], signature: str, body: bytes
) -> bytes:
    """A METHOD_CALL message, little-endian, to `target` (destination, path, interface, member),
    with its body already marshalled from offset 0 (valid: the body starts 8-aligned)."""
    destination, path, interface, member = target
    fields = _Writer()
    for (code, kind), value in (
        (PATH, path),
        (INTERFACE, interface),
        (MEMBER, member),
        (DESTINATION, destination),
        *(((SIGNATURE, signature),) if signature else ()),
    ):
        fields.pad(8)
        fields.data.append(code)
        fields.signature(kind)
        if kind == "g":
            fields.signature(value)
        else:
            fields.string(value)
    header = bytearray(b"l")
    header.extend(bytes((METHOD_CALL, 0, 1)))
    header.extend(len(body).to_bytes(4, "little"))
    header.extend(serial.to_bytes(4, "little"))
    header.extend(len(fields.data).to_bytes(4, "little"))
    header.extend(fields.data)
    header.extend(b"\0" * (-len(header) % 8))
    return bytes(header) + body


def body_of(signature: str, *values: Any) -> bytes:
    """The body of a call with the arguments the read sends: s, o, a{ss}, and v of a string."""
    writer = _Writer()
    for kind, value in zip(_single_types(signature), values):
        if kind in ("s", "o"):
            writer.string(value)
        elif kind == "a{ss}":
            writer.string_dict(value)
        elif kind == "v":
            inner, inner_value = value
            if inner != "s":
                raise ValueError(f"variant of {inner}")
            writer.signature("s")
            writer.string(inner_value)
        else:
            raise ValueError(f"argument type {kind}")
    return bytes(writer.data)


# -- reading a reply (either byte order) ------------------------------------------------------


def _single_types(signature: str) -> list[str]:
    """A signature split into its complete types: "a{ss}sv" -> ["a{ss}", "s", "v"]."""
    types = []
    index = 0
    while index < len(signature):
        end = _type_end(signature, index)
        types.append(signature[index:end])
        index = end
    return types


def _type_end(signature: str, index: int) -> int:
    """The index just past the complete type that starts at `index`."""
    if index >= len(signature):
        raise Unsupported("a truncated signature")
    code = signature[index]
    if code == "a":
        return _type_end(signature, index + 1)
    if code in "({":
        close = ")" if code == "(" else "}"
        index += 1
        while signature[index : index + 1] != close:
            index = _type_end(signature, index)
        return index + 1
    if code in FIXED or code in "sogv":
        return index + 1
    raise Unsupported(f"type {code!r}")


def _alignment(kind: str) -> int:
    code = kind[0]
    if code in "({x" or code in "td":
        return 8
    if code in "sao" or code in "biuh":
        return 4
    if code in "nq":
        return 2
    return 1  # y, g, v


class _Reader:
    def __init__(self, data: bytes, byteorder: str) -> None:
        self.data = data
        self.byteorder = byteorder
        self.offset = 0

    def take(self, size: int) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise Unsupported("a reply shorter than its contents")
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def align(self, alignment: int) -> None:
        self.offset += -self.offset % alignment

    def number(self, kind: str) -> int:
        self.align(FIXED[kind])
        raw = self.take(FIXED[kind])
        return int.from_bytes(raw, self.byteorder, signed=kind in SIGNED)  # type: ignore[arg-type]

    def value(self, kind: str) -> Any:
        code = kind[0]
        if code in "sog":
            return self.text(code)
        if code == "v":
            inner = self.text("g")
            if len(_single_types(inner)) != 1:
                raise Unsupported("a variant of more than one type")
            return (inner, self.value(inner))
        if code == "a":
            return self.array(kind[1:])
        if code in "({":
            self.align(8)
            return tuple(self.value(part) for part in _single_types(kind[1:-1]))
        if code == "d":
            raise Unsupported("a double")
        return self.number(code)

    def text(self, code: str) -> str:
        """A string or object path (u32 length), or a signature (u8 length)."""
        size = self.take(1)[0] if code == "g" else self.number("u")
        return self.take(size + 1)[:-1].decode("utf-8")

    def array(self, element: str) -> Any:
        """An array's elements (bytes for `ay`)."""
        size = self.number("u")
        self.align(_alignment(element))
        end = self.offset + size
        if end > len(self.data):
            raise Unsupported("an array longer than its reply")
        if element == "y":
            return self.take(size)
        items = []
        while self.offset < end:
            items.append(self.value(element))
        if self.offset != end:
            raise Unsupported("an array element past its array's end")
        return items


def _byteorder(fixed: bytes) -> str:
    byteorder = {ord("l"): "little", ord("B"): "big"}.get(fixed[0])
    if byteorder is None or fixed[3] != 1:
        raise Unsupported("a message in another byte order or protocol version")
    return byteorder


def bytes_after(fixed: bytes) -> int:
    """How many bytes of a message follow its first 16 (`fixed`): header fields, padding, body."""
    byteorder = _byteorder(fixed)
    body_length = int.from_bytes(fixed[4:8], byteorder)  # type: ignore[arg-type]
    fields_length = int.from_bytes(fixed[12:16], byteorder)  # type: ignore[arg-type]
    after = fields_length + (-fields_length % 8) + body_length
    if 16 + after > MAX_MESSAGE:
        raise Unsupported("a message over the maximum length")
    return after


def parse_message(data: bytes) -> tuple[int, dict[int, Any], bytes, str]:
    """A whole message: its type, header fields by code, body, and byte order."""
    byteorder = _byteorder(data)
    fields_length = int.from_bytes(data[12:16], byteorder)  # type: ignore[arg-type]
    body_start = 16 + fields_length + (-fields_length % 8)
    reader = _Reader(data[:body_start], byteorder)
    reader.offset = 12
    fields = {code: value[1] for code, value in reader.value("a(yv)")}
    return data[1], fields, data[body_start:], byteorder


# -- the connection ----------------------------------------------------------------------------


class Connection:
    """One authenticated connection to the session bus, closed by `close`."""

    def __init__(self, path: str, timeout: float) -> None:
        self.serial = 0
        self.buffer = b""
        self.socket = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            self.socket.settimeout(timeout)
            self._connect(path, timeout)
        except BaseException:
            self.socket.close()
            raise

    def _connect(self, path: str, timeout: float) -> None:
        try:
            self.socket.connect(path)
        except OSError as exc:  # nothing listening, refused: as jeepney's open fails
            if isinstance(exc, TimeoutError):
                raise
            raise Unsupported("cannot connect") from None
        uid = str(minios.getuid()).encode("ascii").hex().encode("ascii")
        self.socket.sendall(b"\0AUTH EXTERNAL " + uid + b"\r\n")
        deadline = monotonic() + timeout
        while b"\r\n" not in self.buffer:
            self._receive(deadline)
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        if not line.startswith(b"OK "):
            raise Unsupported("authentication refused")
        self.socket.sendall(b"BEGIN\r\n")
        self.call(*BUS, "Hello", timeout=timeout)

    def _receive(self, deadline: float) -> None:
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise TimeoutError()
        self.socket.settimeout(remaining)
        try:
            chunk = self.socket.recv(65536)
        except _socket.timeout:  # TimeoutError itself from Python 3.10
            raise TimeoutError() from None
        if not chunk:
            raise Unsupported("the bus closed the connection")
        self.buffer += chunk

    def _read(self, size: int, deadline: float) -> bytes:
        while len(self.buffer) < size:
            self._receive(deadline)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def call(
        self,
        destination: str,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        *args: Any,
        timeout: float,
    ) -> tuple[Any, ...]:
        """The reply's values; ErrorReply for an error reply; TimeoutError past `timeout`."""
        self.serial += 1
        body = body_of(signature, *args) if signature else b""
        self.socket.settimeout(timeout)
        try:
            target = (destination, path, interface, member)
            self.socket.sendall(method_call(self.serial, target, signature, body))
        except _socket.timeout:
            raise TimeoutError() from None
        deadline = monotonic() + timeout
        while True:
            kind, fields, reply_body, byteorder = self._message(deadline)
            if fields.get(REPLY_SERIAL) != self.serial:
                continue  # a signal (NameAcquired), or a reply to nothing we await
            if kind == ERROR:
                raise ErrorReply()
            if kind != METHOD_RETURN:
                raise Unsupported(f"message type {kind} in reply")
            reader = _Reader(reply_body, byteorder)
            values = tuple(reader.value(t) for t in _single_types(fields.get(REPLY_SIGNATURE, "")))
            if reader.offset != len(reply_body):
                raise Unsupported("a reply longer than its signature")
            return values

    def _message(self, deadline: float) -> tuple[int, dict[int, Any], bytes, str]:
        fixed = self._read(16, deadline)
        return parse_message(fixed + self._read(bytes_after(fixed), deadline))

    def close(self) -> None:
        self.socket.close()
