"""The OS keyring as a secret store, through Python `keyring`; its failures become one-line errors.

`keyring` is imported only when a secret is actually read or written, never on start-up. The
keyring cannot list what it holds (`can_enumerate` is False), so the registry index answers
`list`; a secret is filed under the service `docker-credential-convox:KEY` and the username.

Every D-Bus call to the Secret Service is bounded (`bound_dbus_calls`): keyring's Secret Service
backend and our direct read both go through secretstorage, which calls jeepney's blocking
`send_and_get_reply` without a timeout, so a daemon that is alive but stopped (SIGSTOP, a
deadlock) would hang `get`, and `docker pull` with it, forever. jeepney's own per-call
`timeout` is the bound: unlike an alarm around the whole operation, it leaves a person at an
unlock prompt (a wait for a signal, not a call) all the time they need. A read's bound is
short (5 s: `get` must fail fast); a write's (store, erase) is GDBus's 25 s, as gnome-keyring
answers writes one after another, each after writing its file.
"""

from __future__ import annotations

import importlib
import os
import sys

from docker_credential_convox import APP, TYPE_CHECKING, fileio
from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.errors import (
    NO_KEYRING_HINT,
    NO_KEYRING_MESSAGE,
    StateError,
    StoreUnavailable,
    one_line,
)
from docker_credential_convox.settings import DEFAULT_KEYRING_TIMEOUT
from docker_credential_convox.stores import StoreNotAnswering
from docker_credential_convox.stores.secretservice import read_plain

if TYPE_CHECKING:
    from typing import Any, Optional

    from keyring.backend import KeyringBackend

    from docker_credential_convox.settings import Settings

SERVICE_PREFIX = APP + ":"
MESSAGE_LIMIT = 300  # characters of a keyring error kept in the one-line error
PIN_MAX_BYTES = 1024  # the pin is one dotted class path

LOCKED_MESSAGE = (
    "the OS keyring is locked: unlock it (log in to the desktop, or "
    "`gnome-keyring-daemon --replace --unlock` with its password on stdin) and try again"
)

SECRET_SERVICE_NAME = "org.freedesktop.secrets"  # noqa: S105 - a D-Bus name
DEFAULT_DBUS_TIMEOUT = DEFAULT_KEYRING_TIMEOUT
_dbus_timeout = DEFAULT_DBUS_TIMEOUT
# The backend methods that write: their D-Bus calls wait the write bound (settings.py says why).
WRITES = frozenset({"set_password", "delete_password"})


def not_answering(timeout: float) -> StoreNotAnswering:
    """The error for a Secret Service that took a call and did not answer in time."""
    return StoreNotAnswering(
        f"the OS keyring's Secret Service ({SECRET_SERVICE_NAME} on the D-Bus session bus) did "
        f"not answer within {timeout:g} s; restart it (gnome-keyring-daemon --replace, or log "
        "out and in) and try again",
        hint="hint: DOCKER_CREDENTIAL_CONVOX_KEYRING_TIMEOUT sets the bound, in seconds",
    )


def bound_dbus_calls(timeout: float) -> None:
    """Give every blocking jeepney call without a timeout of its own this one (seconds).

    jeepney raises TimeoutError past it. Installed once per process, on jeepney's public
    `send_and_get_reply(message, timeout=...)`; later calls only change the bound.
    """
    global _dbus_timeout  # noqa: PLW0603 - one bound for the whole one-shot process
    _dbus_timeout = timeout
    try:
        from jeepney.io import blocking
    except ImportError:  # no jeepney: no Secret Service through it either
        return
    original = blocking.DBusConnection.send_and_get_reply
    if getattr(original, "dccx_bounded", False):
        return

    def bounded(self: Any, message: Any, *, timeout: Optional[float] = None, **kwargs: Any) -> Any:
        return original(
            self, message, timeout=_dbus_timeout if timeout is None else timeout, **kwargs
        )

    bounded.dccx_bounded = True  # type: ignore[attr-defined]
    blocking.DBusConnection.send_and_get_reply = bounded


def service_name(key: str) -> str:
    """The keyring service under which a registry's secret is filed."""
    return SERVICE_PREFIX + key


def _is_dotted_path(name: str) -> bool:
    return bool(name) and all(part.isidentifier() for part in name.split("."))


def _keyring_config_exists(path: Optional[str]) -> bool:
    """Whether the user configured keyring in keyringrc.cfg (then keyring decides, not our pin).

    `path`: where keyring reads it (settings.py knows on Linux); None: ask keyring.
    """
    if path is None:
        from keyring.util import platform_

        path = os.path.join(platform_.config_root(), "keyringrc.cfg")
    return os.path.exists(path)


# The class keyring's discovery picks on Linux desktops; for it, `get` reads items directly.
SECRET_SERVICE_CLASS = "keyring.backends.SecretService.Keyring"  # noqa: S105 - a class path


def read_secret_service(
    service: str, username: str, timeout: float = DEFAULT_DBUS_TIMEOUT
) -> Optional[str]:
    """The secret keyring's Secret Service backend filed under (service, username), read directly
    through secretstorage in an encrypted session (DOCKER_CREDENTIAL_CONVOX_SECRET_SERVICE_SESSION
    =encrypted; the default `plain` read is stores/secretservice.py).

    The same item keyring would return (its default attribute scheme: `service`, `username`),
    without importing keyring itself, which costs more than the rest of a `get`. Returns None
    whenever anything is unusual (no bus, a locked collection or item, no item): the caller then
    asks keyring, which handles each case (and reports it) its own way.
    A Secret Service that does not answer in time is an error (StoreNotAnswering): asking
    keyring next would only wait as long again.
    """
    try:
        import secretstorage

        bound_dbus_calls(timeout)
        connection = secretstorage.dbus_init()
    except TimeoutError:
        raise not_answering(timeout) from None
    except Exception:
        return None
    try:
        collection = secretstorage.get_default_collection(connection)
        if collection.is_locked():
            return None
        items = collection.search_items({"service": service, "username": username})
        item = next(iter(items), None)
        if item is None or item.is_locked():
            return None
        secret: bytes = item.get_secret()
        return secret.decode("utf-8")
    except TimeoutError:
        raise not_answering(timeout) from None
    except Exception:
        return None
    finally:
        try:  # noqa: SIM105 - contextlib (and what it imports) stays off a keyring `get`
            connection.close()
        except Exception:  # noqa: S110 - closing what may be broken already
            pass


class KeyringStore:
    """Put, get and delete secrets by (registry key, username) in one keyring backend.

    Which backend: PYTHON_KEYRING_BACKEND if set; else keyring's own choice (its keyringrc.cfg,
    or discovery through entry points, which costs tens of milliseconds). The discovered choice
    is remembered in `pin_path` and loaded directly next time; a remembered backend that stops
    working is forgotten and discovery runs again.
    """

    name = "the OS keyring"
    can_enumerate = False

    def __init__(
        self,
        backend_name: Optional[str] = None,
        pin_path: Optional[str] = None,
        timeout: float = DEFAULT_DBUS_TIMEOUT,
        config_path: Optional[str] = None,
        properties_set: bool = False,
        *,
        write_timeout: Optional[float] = None,
        session: str = "plain",
        diagnostics: Optional[Diagnostics] = None,
    ) -> None:
        self._timeout = timeout
        self._write_timeout = timeout if write_timeout is None else write_timeout
        self._session = session
        self._backend_name = backend_name
        self._pin_path = pin_path
        self._config_path = config_path
        self._properties_set = properties_set
        self._backend: Optional[KeyringBackend] = None
        self._pinned = False
        self._diagnostics = diagnostics  # None: warnings go straight to stderr

    @classmethod
    def from_settings(
        cls, settings: Settings, diagnostics: Optional[Diagnostics] = None
    ) -> KeyringStore:
        """The store the environment chooses (nothing is opened until a secret is needed)."""
        return cls(
            settings.keyring_backend,
            pin_path=settings.keyring_pin_path,
            timeout=settings.keyring_timeout,
            write_timeout=settings.keyring_write_timeout,
            config_path=settings.keyring_config_path,
            properties_set=settings.keyring_properties_set,
            session=settings.secret_service_session,
            diagnostics=diagnostics,
        )

    def _keyring(self) -> KeyringBackend:
        if self._backend is not None:
            return self._backend
        try:
            import keyring.core
        except ImportError:  # pragma: no cover - keyring is a hard dependency
            raise StoreUnavailable(
                f"the Python keyring library is not installed: reinstall {APP}"
            ) from None
        backend: Optional[KeyringBackend]
        if self._backend_name:
            backend = self._load(self._backend_name)
        else:
            pinned = self._read_pin()
            backend = self._load(pinned, quiet=True) if pinned else None
            self._pinned = backend is not None
            if backend is None:
                try:
                    backend = keyring.core.get_keyring()
                except TimeoutError:
                    raise  # the caller names the daemon that did not answer
                except Exception:  # a backend's priority raised (its daemon went away meanwhile)
                    raise StoreUnavailable(NO_KEYRING_MESSAGE, NO_KEYRING_HINT) from None
                self._write_pin(backend)
        from keyring.backends import fail

        if backend is None or isinstance(backend, fail.Keyring):
            raise StoreUnavailable(NO_KEYRING_MESSAGE, NO_KEYRING_HINT)
        self._backend = backend
        return backend

    def _load(self, name: str, quiet: bool = False) -> Optional[KeyringBackend]:
        """Instantiate a backend class by dotted path, without keyring's viability probe."""
        module_name, _, class_name = name.rpartition(".")
        try:
            backend_class = getattr(importlib.import_module(module_name), class_name)
            backend: KeyringBackend = backend_class()
        except Exception as exc:  # a misnamed or broken backend class
            if quiet:
                return None
            raise StoreUnavailable(
                f"cannot load keyring backend {name}: "
                f"{one_line(str(exc), MESSAGE_LIMIT) or type(exc).__name__}; "
                "check PYTHON_KEYRING_BACKEND"
            ) from None
        return backend

    def _trusted_pin_path(self) -> Optional[str]:
        """Where the pin is, by fileio's rule for the cache directory; None: no pin to read
        (none yet, or a directory others may write, which one warning line names)."""
        if not self._pin_path:
            return None
        directory, name = os.path.split(self._pin_path)
        try:
            found = fileio.trusted_dir(directory)
        except fileio.Untrusted as exc:
            self._refuse_pin(exc)
            return None
        except StateError:
            return None
        return os.path.join(found, name) if found is not None else None

    def _refuse_pin(self, refusal: Any) -> None:
        """Ignore the pin (keyring chooses, as without one), saying why in one warning line."""
        if self._diagnostics is None:
            self._diagnostics = Diagnostics(sys.stderr)
        fileio.report_untrusted(self._diagnostics, refusal, "keyring backend pin ignored")

    def _read_pin(self) -> Optional[str]:
        if not self._pin_path or _keyring_config_exists(self._config_path):
            return None
        path = self._trusted_pin_path()
        if path is None:
            return None
        try:  # only a speed-up: anything odd in its place (a FIFO, say) is ignored, never waited on
            data = fileio.read_regular(path, PIN_MAX_BYTES, private=True)
        except fileio.Untrusted as exc:  # a pin naming the null backend would lose every secret
            self._refuse_pin(exc)
            return None
        except StateError:
            return None
        name = (data or b"").decode("utf-8", "replace").strip()
        return name if _is_dotted_path(name) else None

    def _write_pin(self, backend: Any) -> None:
        from keyring.backends import chainer, fail

        if not self._pin_path or isinstance(backend, (fail.Keyring, chainer.ChainerBackend)):
            return
        if _keyring_config_exists(self._config_path):
            return
        name = f"{type(backend).__module__}.{type(backend).__qualname__}"
        directory, file_name = os.path.split(self._pin_path)
        try:  # only a speed-up: never fail a request over it
            from docker_credential_convox import file_writes  # a read of the pin writes nothing

            found = file_writes.ensure_private_dir(directory)  # refuses what others may write
            file_writes.atomic_write(os.path.join(found, file_name), name + "\n")
        except Exception:  # noqa: S110
            pass

    def _forget_pin(self) -> None:
        path = self._trusted_pin_path()
        if path:
            try:  # noqa: SIM105
                os.unlink(path)
            except OSError:
                pass
        self._backend = None
        self._pinned = False

    def _call(self, what: str, method: str, *args: Optional[str]) -> Any:
        timeout = self._write_timeout if method in WRITES else self._timeout
        bound_dbus_calls(timeout)
        try:
            return self._call_once(what, method, timeout, *args)
        except StoreNotAnswering:
            raise  # the backend is right, its daemon is hung: another try would hang as long
        except StoreUnavailable:
            if not self._pinned:
                raise
            # The remembered backend no longer works here: choose afresh, once.
            self._forget_pin()
            return self._call_once(what, method, timeout, *args)

    def _call_once(self, what: str, method: str, timeout: float, *args: Optional[str]) -> Any:
        from keyring import errors as kerrors

        try:
            backend = self._keyring()
        except TimeoutError:  # keyring's discovery asks D-Bus too
            raise not_answering(timeout) from None
        try:
            return getattr(backend, method)(*args)
        except TimeoutError:
            raise not_answering(timeout) from None
        except kerrors.KeyringLocked:
            raise StoreUnavailable(LOCKED_MESSAGE) from None
        except kerrors.NoKeyringError:
            raise StoreUnavailable(NO_KEYRING_MESSAGE, NO_KEYRING_HINT) from None
        except kerrors.PasswordDeleteError:
            raise
        except Exception as exc:
            # A UnicodeError's text quotes a character of what it could not encode, and a
            # backend's may echo the secret it was given: the type alone, or the text masked.
            secret = [arg or "" for arg in args[-1:]] if method == "set_password" else []
            text = "" if isinstance(exc, UnicodeError) else str(exc)
            text = one_line(text, MESSAGE_LIMIT, secret) or type(exc).__name__
            if "locked" in text.lower() or "prompt" in text.lower():
                raise StoreUnavailable(f"{LOCKED_MESSAGE} ({text})") from None
            if type(exc).__name__ == "SecretServiceNotAvailableException":
                raise StoreUnavailable(NO_KEYRING_MESSAGE, NO_KEYRING_HINT) from None
            raise StoreUnavailable(
                f"the OS keyring ({type(backend).__module__}) failed to {what}: {text}"
            ) from None

    def _direct_read_allowed(self) -> bool:
        """Whether keyring would use its Secret Service backend with default properties."""
        if self._backend is not None or self._backend_name:
            return False
        if self._properties_set:
            return False
        return self._read_pin() == SECRET_SERVICE_CLASS

    def _read_directly(self, service: str, username: str) -> Optional[str]:
        """The item keyring would return, read without keyring; None: ask keyring."""
        if self._session == "encrypted":
            return read_secret_service(service, username, self._timeout)
        try:
            secret = read_plain({"service": service, "username": username}, self._timeout)
        except TimeoutError:
            raise not_answering(self._timeout) from None
        try:
            return secret.decode("utf-8") if secret is not None else None
        except UnicodeDecodeError:  # as the encrypted read: keyring decides (and reports)
            return None

    def get(self, key: str, username: str) -> Optional[str]:
        """The secret filed for (key, username), or None."""
        if self._direct_read_allowed():
            found = self._read_directly(service_name(key), username)
            if found is not None:
                return found
        secret = self._call("read a secret", "get_password", service_name(key), username)
        return secret if isinstance(secret, str) else None

    def put(self, key: str, username: str, secret: str) -> None:
        """File `secret` under (key, username), replacing any earlier one."""
        self._call("store a secret", "set_password", service_name(key), username, secret)

    def delete(self, key: str, username: str) -> None:
        """Remove the secret for (key, username); a missing one is not an error."""
        from keyring import errors as kerrors

        try:  # noqa: SIM105
            self._call("delete a secret", "delete_password", service_name(key), username)
        except kerrors.PasswordDeleteError:
            pass

    def location(self, key: str) -> str:
        """Where the secrets of `key` live, in words."""
        return f"the OS keyring, service {service_name(key)}"

    def describe(self) -> str:
        """The dotted class path of the keyring backend in use, choosing it if need be."""
        backend = self._keyring()
        return f"{type(backend).__module__}.{type(backend).__qualname__}"

    def find_username(self, key: str) -> Optional[str]:
        """Some username with a secret filed under `key`, or None (backends that can search)."""
        credential = self._call("search for a secret", "get_credential", service_name(key), None)
        username = getattr(credential, "username", None)
        return username if isinstance(username, str) else None
