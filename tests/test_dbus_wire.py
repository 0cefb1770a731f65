"""stores/dbus_wire.py against jeepney, the D-Bus library it replaces on the read path.

jeepney is the oracle for the wire format: every call we write is byte for byte the message
jeepney writes for it, and every reply jeepney writes (in both byte orders) reads back as the
values it was made from. The calls themselves meet a real gnome-keyring in the keyring route's
contract tests (tests/test_conformance_keyring.py) and tests/test_keyring_store.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jeepney import DBusAddress, new_method_call
from jeepney.low_level import Endianness, Header, Message, MessageType

from docker_credential_convox.stores import dbus_wire
from docker_credential_convox.stores.secretservice import (
    BUS_NAME,
    COLLECTION_INTERFACE,
    DEFAULT_COLLECTION,
    ITEM_INTERFACE,
    PLAIN,
    SERVICE_INTERFACE,
    SERVICE_PATH,
)

# D-Bus strings are UTF-8 without NUL; object paths are /-separated [A-Za-z0-9_] elements.
TEXT = st.text(st.characters(exclude_characters="\0", exclude_categories=["Cs"]), max_size=40)
PATHS = st.lists(st.from_regex(r"[A-Za-z0-9_]{1,12}", fullmatch=True), min_size=1, max_size=5).map(
    lambda parts: "/" + "/".join(parts)
)


@pytest.mark.parametrize(
    ("address", "path"),
    [
        ("unix:path=/run/user/1000/bus", "/run/user/1000/bus"),
        ("unix:path=/tmp/bus,guid=0123456789abcdef", "/tmp/bus"),
        ("unix:abstract=/tmp/dbus-AbCd,guid=0123456789abcdef", "\0/tmp/dbus-AbCd"),
        ("unix:path=/tmp/a%2cb%3Bc%20d", "/tmp/a,b;c d"),  # the address format's %XX escapes
        ("unix:path=/first;unix:path=/second", "/first"),  # the first address is the one used
    ],
)
def test_session_bus_addresses_that_name_a_unix_socket_give_its_path(
    address: str, path: str
) -> None:
    assert dbus_wire.session_bus_path(address) == path


@pytest.mark.parametrize(
    "address",
    [None, "", "tcp:host=127.0.0.1,port=12345", "unix:tmpdir=/tmp", "unixexec:path=/bin/x"],
)
def test_other_addresses_are_left_to_jeepney(address: str | None) -> None:
    with pytest.raises(dbus_wire.Unsupported):
        dbus_wire.session_bus_path(address)


def written(serial: int, target: tuple[str, str, str, str], signature: str, *args: object) -> bytes:
    body = dbus_wire.body_of(signature, *args) if signature else b""
    return dbus_wire.method_call(serial, target, signature, body)


@given(st.dictionaries(TEXT, TEXT, max_size=4), st.integers(1, 2**32 - 1))
def test_search_items_is_written_as_jeepney_writes_it(
    attributes: dict[str, str], serial: int
) -> None:
    target = (BUS_NAME, DEFAULT_COLLECTION, COLLECTION_INTERFACE, "SearchItems")
    expected = new_method_call(
        DBusAddress(DEFAULT_COLLECTION, bus_name=BUS_NAME, interface=COLLECTION_INTERFACE),
        "SearchItems",
        "a{ss}",
        (attributes,),
    ).serialise(serial)
    assert written(serial, target, "a{ss}", attributes) == expected


@given(TEXT, PATHS, st.integers(1, 2**32 - 1))
def test_open_session_and_get_secret_are_written_as_jeepney_writes_them(
    argument: str, item: str, serial: int
) -> None:
    service = DBusAddress(SERVICE_PATH, bus_name=BUS_NAME, interface=SERVICE_INTERFACE)
    expected = new_method_call(service, "OpenSession", "sv", (PLAIN, ("s", argument)))
    target = (BUS_NAME, SERVICE_PATH, SERVICE_INTERFACE, "OpenSession")
    ours = written(serial, target, "sv", PLAIN, ("s", argument))
    assert ours == expected.serialise(serial)

    address = DBusAddress(item, bus_name=BUS_NAME, interface=ITEM_INTERFACE)
    expected = new_method_call(address, "GetSecret", "o", (item,))
    target = (BUS_NAME, item, ITEM_INTERFACE, "GetSecret")
    assert written(serial, target, "o", item) == expected.serialise(serial)


def test_hello_is_written_as_jeepney_writes_it() -> None:
    from jeepney.bus_messages import message_bus

    assert written(1, (*dbus_wire.BUS, "Hello"), "") == message_bus.Hello().serialise(1)


def reply(signature: str, body: tuple[object, ...], endian: Endianness, serial: int) -> bytes:
    """A METHOD_RETURN to call `serial` as jeepney writes it, in `endian` byte order."""
    fields = {5: serial, 6: ":1.1", 7: BUS_NAME, 8: signature}  # keyed as jeepney names them
    from jeepney.low_level import HeaderFields

    header = Header(
        endian,
        MessageType.method_return,
        0,
        1,
        0,
        -1,
        {HeaderFields(code): value for code, value in fields.items()},
    )
    data: bytes = Message(header, body).serialise(serial=serial + 100)
    return data


ENDIANS = st.sampled_from([Endianness.little, Endianness.big])


@given(st.lists(PATHS, max_size=6), ENDIANS, st.integers(1, 2**31))
def test_a_search_reply_reads_back_as_the_paths_it_holds(
    paths: list[str], endian: Endianness, serial: int
) -> None:
    kind, fields, body, order = dbus_wire.parse_message(reply("ao", (paths,), endian, serial))
    assert (kind, fields[dbus_wire.REPLY_SERIAL]) == (dbus_wire.METHOD_RETURN, serial)
    assert dbus_wire._Reader(body, order).value("ao") == paths


SECRETS = st.tuples(PATHS, st.binary(max_size=64), st.binary(max_size=300), TEXT)


@given(SECRETS, TEXT, ENDIANS)
def test_open_session_and_get_secret_replies_read_back_as_written(
    secret_reply: tuple[str, bytes, bytes, str], output: str, endian: Endianness
) -> None:
    session, parameters, secret, content = secret_reply
    data = reply("vo", (("s", output), session), endian, 7)
    _, fields, body, order = dbus_wire.parse_message(data)
    assert fields[dbus_wire.REPLY_SIGNATURE] == "vo"
    reader = dbus_wire._Reader(body, order)
    assert (reader.value("v"), reader.value("o")) == (("s", output), session)

    data = reply("(oayays)", ((session, parameters, secret, content),), endian, 8)
    _, fields, body, order = dbus_wire.parse_message(data)
    assert dbus_wire._Reader(body, order).value("(oayays)") == (
        session,
        parameters,
        secret,
        content,
    )


def test_a_reply_shorter_than_it_says_is_unsupported_not_misread() -> None:
    data = reply("(oayays)", (("/s", b"", b"secret", "text/plain"),), Endianness.little, 1)
    _, _, body, order = dbus_wire.parse_message(data)
    with pytest.raises(dbus_wire.Unsupported):
        dbus_wire._Reader(body[:-3], order).value("(oayays)")


def test_an_array_whose_length_cuts_an_element_is_unsupported_not_misread() -> None:
    data = reply("ao", (["/a/b", "/c"],), Endianness.little, 1)
    _, _, body, order = dbus_wire.parse_message(data)
    shortened = (int.from_bytes(body[:4], "little") - 3).to_bytes(4, "little") + body[4:]
    with pytest.raises(dbus_wire.Unsupported):
        dbus_wire._Reader(shortened, order).value("ao")
