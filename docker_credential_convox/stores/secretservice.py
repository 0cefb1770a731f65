"""One Secret Service item read over D-Bus without keyring or secretstorage, in a `plain` session.

The direct read of stores/keyring.py (the item keyring's Secret Service backend filed, read
without keyring) went through secretstorage, which imports cryptography to open an encrypted
session: about half of a keyring `get`. An encrypted session protects the secret on the way
from the keyring daemon to us, over the user's own session bus; but any process that can talk
to that bus can ask the unlocked keyring for the same secret itself, so encryption there adds
no protection. This module asks for a `plain` session (the Secret Service specification's
other algorithm), and needs no cryptography.
DOCKER_CREDENTIAL_CONVOX_SECRET_SERVICE_SESSION=encrypted goes back to secretstorage.

The calls: `SearchItems` with keyring's attributes on the default collection (its alias), as
secretstorage searches for keyring, then the first item's secret in a plain session. Three round
trips where secretstorage makes five: it asks first whether the collection and the item are
locked, and a locked one gives an error reply to `GetSecret` all the same. Anything unusual (no
bus, no such collection, a locked collection or item, no item, an error reply) returns None, and
the caller asks keyring, which handles and reports each case its own way.

The calls go over the bus's socket through stores/dbus_wire.py, which imports nothing but
`_socket`; jeepney (whose import costs more than the rest of a `get`) reads only where that
module cannot (another transport, an unexpected reply).
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING, minios
from docker_credential_convox.stores import dbus_wire

if TYPE_CHECKING:
    from typing import Any, Optional

BUS_NAME = "org.freedesktop.secrets"
SERVICE_PATH = "/org/freedesktop/secrets"
DEFAULT_COLLECTION = "/org/freedesktop/secrets/aliases/default"
SERVICE_INTERFACE = "org.freedesktop.Secret.Service"
COLLECTION_INTERFACE = "org.freedesktop.Secret.Collection"
ITEM_INTERFACE = "org.freedesktop.Secret.Item"
PLAIN = "plain"


class Unusual(Exception):
    """The read cannot answer (an error reply, a locked collection or item, no item)."""


def read_plain(attributes: dict[str, str], timeout: float) -> Optional[bytes]:
    """The secret of the first item of the default collection matching `attributes`, or None.

    TimeoutError (a call unanswered within `timeout` seconds) propagates: the caller reports
    a Secret Service that does not answer, as asking keyring next would only wait as long.
    """
    try:
        return _read_on_the_wire(attributes, timeout)
    except dbus_wire.Unsupported:
        return _read_with_jeepney(attributes, timeout)


def _read_on_the_wire(attributes: dict[str, str], timeout: float) -> Optional[bytes]:
    """read_plain through dbus_wire; Unsupported where it cannot tell."""
    path = dbus_wire.session_bus_path(minios.environ().get("DBUS_SESSION_BUS_ADDRESS"))
    connection = dbus_wire.Connection(path, timeout)
    try:
        (paths,) = connection.call(
            BUS_NAME,
            DEFAULT_COLLECTION,
            COLLECTION_INTERFACE,
            "SearchItems",
            "a{ss}",
            attributes,
            timeout=timeout,
        )
        if not paths:
            return None
        _, session = connection.call(
            BUS_NAME,
            SERVICE_PATH,
            SERVICE_INTERFACE,
            "OpenSession",
            "sv",
            PLAIN,
            ("s", ""),
            timeout=timeout,
        )
        ((_, _, value, _),) = connection.call(
            BUS_NAME, paths[0], ITEM_INTERFACE, "GetSecret", "o", session, timeout=timeout
        )
        return bytes(value)
    except dbus_wire.ErrorReply:  # no such collection, a locked item, ...: keyring says which
        return None
    finally:
        connection.close()


def _read_with_jeepney(attributes: dict[str, str], timeout: float) -> Optional[bytes]:
    """read_plain through jeepney."""
    try:
        from jeepney.io.blocking import open_dbus_connection
    except ImportError:  # no jeepney: no Secret Service through it either
        return None
    try:
        connection = open_dbus_connection(bus="SESSION")
    except TimeoutError:
        raise
    except Exception:  # no bus address, nothing listening, refused
        return None
    try:
        return _read(connection, attributes, timeout)
    except Unusual:
        return None
    finally:
        connection.close()


def _read(connection: Any, attributes: dict[str, str], timeout: float) -> bytes:
    from jeepney import DBusAddress, MessageType, new_method_call

    def call(message: Any) -> tuple[Any, ...]:
        reply = connection.send_and_get_reply(message, timeout=timeout)
        if reply.header.message_type != MessageType.method_return:  # an error reply
            raise Unusual()
        body: tuple[Any, ...] = reply.body
        return body

    collection = DBusAddress(DEFAULT_COLLECTION, bus_name=BUS_NAME, interface=COLLECTION_INTERFACE)
    (paths,) = call(new_method_call(collection, "SearchItems", "a{ss}", (attributes,)))
    if not paths:
        raise Unusual()
    service = DBusAddress(SERVICE_PATH, bus_name=BUS_NAME, interface=SERVICE_INTERFACE)
    _, session = call(new_method_call(service, "OpenSession", "sv", (PLAIN, ("s", ""))))
    item = DBusAddress(paths[0], bus_name=BUS_NAME, interface=ITEM_INTERFACE)
    ((_, _, value, _),) = call(new_method_call(item, "GetSecret", "o", (session,)))
    return bytes(value)
