"""The SecretStore contract (support/secret_stores.py) against every store a test may use.

The in-memory store is the fake that test_routing.py routes over: running the same contract
against it and against the real stores (the OS keyring over the session's real Secret Service,
a real `pass` store with real gpg) is what makes its answers worth trusting.
"""

from __future__ import annotations

import pytest
from support import set_environ
from support.secret_stores import InMemoryStore, SecretStoreContract

from docker_credential_convox.settings import Settings
from docker_credential_convox.stores.keyring import KeyringStore
from docker_credential_convox.stores.pass_store import PassStore

pytest_plugins = ["support.pass_store"]


class TestInMemoryStore(SecretStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryStore:
        return InMemoryStore()


class TestKeyringStore(SecretStoreContract):
    @pytest.fixture
    def store(self, helper_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> KeyringStore:
        set_environ(monkeypatch, helper_env)  # keyring and jeepney find the bus in os.environ
        return KeyringStore.from_settings(Settings(helper_env))


class TestPassStore(SecretStoreContract):
    @pytest.fixture
    def store(self, pass_env: dict[str, str]) -> PassStore:
        return PassStore.from_settings(Settings(pass_env))


def test_a_secret_service_gone_while_keyring_chooses_its_backend_is_no_keyring(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """keyring asks each backend's priority twice while it chooses (viable? then which is best),
    and SecretService's second answer raises RuntimeError when the daemon went away in between
    (seen when gnome-keyring was killed during twelve concurrent stores): that is no keyring, in
    one line, never an internal error. FAULT INJECTION: that window is microseconds wide, so
    keyring's choice is replaced by one that raises what the real one raised then."""
    import keyring.core

    from docker_credential_convox.errors import StoreUnavailable

    def gone() -> None:
        raise RuntimeError(
            "The Secret Service daemon is neither running nor activatable through D-Bus"
        )

    monkeypatch.setattr(keyring.core, "get_keyring", gone)
    store = KeyringStore(pin_path=None)  # no pin: keyring chooses
    with pytest.raises(StoreUnavailable, match=r"^no usable OS keyring") as refused:
        store.put("registry.example", "alice", "pw")
    assert refused.value.hint is not None
