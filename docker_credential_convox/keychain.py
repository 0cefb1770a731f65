"""Secrets in the OS keyring through Python `keyring`; its failures become one-line errors.

`keyring` is imported only when a secret is actually read or written, never on start-up.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Optional

from docker_credential_convox.errors import StoreUnavailable

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE_PREFIX = "docker-credential-convox:"

NO_KEYRING_MESSAGE = (
    "no usable OS keyring: no Secret Service answers on the D-Bus session bus; "
    "start one (gnome-keyring-daemon or KeePassXC) or choose a backend with PYTHON_KEYRING_BACKEND"
)
NO_KEYRING_HINT = (
    "hint: on a headless machine run the client inside a D-Bus session with an unlocked keyring:\n"
    '  dbus-run-session -- sh -c \'printf %s "$KEYRING_PASSWORD" | '
    "gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec docker login ...'\n"
    "or pick any keyring backend explicitly, e.g. "
    "PYTHON_KEYRING_BACKEND=keyrings.alt.file.EncryptedKeyring (pip install keyrings.alt)."
)
LOCKED_MESSAGE = (
    "the OS keyring is locked: unlock it (log in to the desktop, or "
    "`gnome-keyring-daemon --replace --unlock` with its password on stdin) and try again"
)


def service_name(key: str) -> str:
    """The keyring service under which a registry's secret is filed."""
    return SERVICE_PREFIX + key


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:300]


class Keychain:
    """Get, set and delete secrets by (registry key, username) in one keyring backend."""

    def __init__(self, backend_name: Optional[str] = None, backend: Any = None) -> None:
        self._backend_name = backend_name
        self._backend: Optional[KeyringBackend] = backend

    def _keyring(self) -> KeyringBackend:
        if self._backend is not None:
            return self._backend
        try:
            import keyring
            import keyring.core
            from keyring.backends import fail
        except ImportError:  # pragma: no cover - keyring is a hard dependency
            raise StoreUnavailable(
                "the Python keyring library is not installed: reinstall docker-credential-convox"
            ) from None
        try:
            if self._backend_name:
                backend = keyring.core.load_keyring(self._backend_name)
            else:
                backend = keyring.get_keyring()
        except Exception as exc:  # a misnamed or broken backend class
            raise StoreUnavailable(
                f"cannot load keyring backend {self._backend_name or '(default)'}: "
                f"{_one_line(str(exc)) or type(exc).__name__}; "
                "check PYTHON_KEYRING_BACKEND or ~/.config/python_keyring/keyringrc.cfg"
            ) from None
        if isinstance(backend, fail.Keyring):
            raise StoreUnavailable(NO_KEYRING_MESSAGE, NO_KEYRING_HINT)
        self._backend = backend
        return backend

    def _call(self, what: str, method: str, *args: Optional[str]) -> Any:
        from keyring import errors as kerrors

        backend = self._keyring()
        try:
            return getattr(backend, method)(*args)
        except kerrors.KeyringLocked:
            raise StoreUnavailable(LOCKED_MESSAGE) from None
        except kerrors.NoKeyringError:
            raise StoreUnavailable(NO_KEYRING_MESSAGE, NO_KEYRING_HINT) from None
        except kerrors.PasswordDeleteError:
            raise
        except Exception as exc:
            text = _one_line(str(exc)) or type(exc).__name__
            if "locked" in text.lower() or "prompt" in text.lower():
                raise StoreUnavailable(f"{LOCKED_MESSAGE} ({text})") from None
            raise StoreUnavailable(
                f"the OS keyring ({type(backend).__module__}) failed to {what}: {text}"
            ) from None

    def get(self, key: str, username: str) -> Optional[str]:
        """The secret filed for (key, username), or None."""
        secret = self._call("read a secret", "get_password", service_name(key), username)
        return secret if isinstance(secret, str) else None

    def set(self, key: str, username: str, secret: str) -> None:
        """File `secret` under (key, username), replacing any earlier one."""
        self._call("store a secret", "set_password", service_name(key), username, secret)

    def delete(self, key: str, username: str) -> None:
        """Remove the secret for (key, username); a missing one is not an error."""
        from keyring import errors as kerrors

        with contextlib.suppress(kerrors.PasswordDeleteError):
            self._call("delete a secret", "delete_password", service_name(key), username)

    def find_username(self, key: str) -> Optional[str]:
        """Some username with a secret filed under `key`, or None (backends that can search)."""
        credential = self._call("search for a secret", "get_credential", service_name(key), None)
        username = getattr(credential, "username", None)
        return username if isinstance(username, str) else None
