"""The SecretStore contract (stores/__init__.py), and an in-memory store that keeps it.

`SecretStoreContract` states once what every secret store promises the backends above it, as
tests/conformance.py does for routes and tests/cache_contract.py for the file caches; a
subclass provides `store` (a fixture) and runs it unchanged against one store: the in-memory
fake, the OS keyring over the session's Secret Service, the pass store (test_secret_stores.py).
Its values keep to what every store can hold: the pass store files a username as a file name
(no `/`) and, as docker-credential-pass, drops a secret's trailing newline.
Not collected by itself: neither this module's name nor the class's starts with test/Test.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Optional

import pytest

from docker_credential_convox.server_keys import parse_key

if TYPE_CHECKING:
    from docker_credential_convox.stores import SecretStore


class InMemoryStore:
    """A FAKE SecretStore: secrets in a dict, for in-process tests of the router and backends.

    Not a part the helper ships: it stands in for the OS keyring where a test is about routing
    decisions, not about where secrets live. test_secret_stores.py runs the same contract
    against it and against the real stores, so what it answers is what they answer.
    """

    name = "the in-memory test store"
    can_enumerate = False  # as the keyring: `get` and `list` read the registry index

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], str] = {}
        self.calls: list[tuple[str, str, str]] = []  # (method, key, username), in order

    def put(self, key: str, username: str, secret: str) -> None:
        self.calls.append(("put", key, username))
        self.secrets[key, username] = secret

    def get(self, key: str, username: str) -> Optional[str]:
        self.calls.append(("get", key, username))
        return self.secrets.get((key, username))

    def delete(self, key: str, username: str) -> None:
        self.calls.append(("delete", key, username))
        self.secrets.pop((key, username), None)

    def find_username(self, key: str) -> Optional[str]:
        return next((user for stored, user in sorted(self.secrets) if stored == key), None)

    def location(self, key: str) -> str:
        return f"the in-memory test store, key {key}"

    def describe(self) -> str:
        return "InMemoryStore (tests only)"


def fresh_key(path: str = "") -> str:
    """A registry key no other test uses (the Secret Service is shared by the session)."""
    return parse_key(f"r{uuid.uuid4().hex[:12]}.example.com{path}").key


# Secrets every store keeps byte for byte (none ends in a newline: see the module's docstring).
SECRETS = (
    "s3cret-Pa55word",
    "with spaces and \"quotes\" and 'apostrophes'",
    "line one\nline two",
    "caf\u00e9 \u2603 \U0001f600",
    "x" * 4096,
)


class SecretStoreContract:
    """What every SecretStore promises; subclasses provide the `store` fixture."""

    @pytest.fixture
    def store(self) -> SecretStore:
        raise NotImplementedError

    def test_it_names_itself_and_says_whether_it_can_enumerate(self, store: SecretStore) -> None:
        assert store.name
        assert isinstance(store.can_enumerate, bool)
        assert store.describe()

    def test_nothing_filed_is_none(self, store: SecretStore) -> None:
        key = fresh_key()
        assert store.get(key, "alice") is None
        assert store.find_username(key) is None

    @pytest.mark.parametrize("secret", SECRETS, ids=range(len(SECRETS)))
    def test_a_secret_comes_back_as_it_was_put(self, store: SecretStore, secret: str) -> None:
        key = fresh_key()
        store.put(key, "alice", secret)
        assert store.get(key, "alice") == secret

    def test_put_replaces_the_earlier_secret(self, store: SecretStore) -> None:
        key = fresh_key()
        store.put(key, "alice", "first")
        store.put(key, "alice", "second")
        assert store.get(key, "alice") == "second"

    def test_usernames_and_keys_are_kept_apart(self, store: SecretStore) -> None:
        key, other_key, path_key = fresh_key(), fresh_key(), fresh_key("/team")
        store.put(key, "alice", "alice-secret")
        store.put(key, "bob", "bob-secret")
        store.put(other_key, "alice", "other-secret")
        assert store.get(key, "alice") == "alice-secret"
        assert store.get(key, "bob") == "bob-secret"
        assert store.get(other_key, "alice") == "other-secret"
        assert store.get(key, "carol") is None
        assert store.get(path_key, "alice") is None  # a path is a key of its own

    def test_delete_removes_one_username_only(self, store: SecretStore) -> None:
        key = fresh_key()
        store.put(key, "alice", "alice-secret")
        store.put(key, "bob", "bob-secret")
        store.delete(key, "alice")
        assert store.get(key, "alice") is None
        assert store.get(key, "bob") == "bob-secret"

    def test_deleting_what_is_not_there_is_not_an_error(self, store: SecretStore) -> None:
        key = fresh_key()
        store.delete(key, "alice")
        store.put(key, "alice", "secret")
        store.delete(key, "alice")
        store.delete(key, "alice")
        assert store.get(key, "alice") is None

    def test_find_username_finds_a_filed_username_until_it_is_deleted(
        self, store: SecretStore
    ) -> None:
        key = fresh_key()
        store.put(key, "alice", "secret")
        assert store.find_username(key) == "alice"
        assert store.find_username(fresh_key()) is None
        store.delete(key, "alice")
        assert store.find_username(key) is None

    def test_location_starts_with_the_stores_name_and_holds_no_secret(
        self, store: SecretStore
    ) -> None:
        key = fresh_key()
        store.put(key, "alice", "s3cret-never-shown")
        where = store.location(key)
        assert where.startswith(store.name)
        assert "s3cret-never-shown" not in where
