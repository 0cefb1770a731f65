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
