"""The protocol contract on the pass route: registry logins kept in a `pass` store.

DOCKER_CREDENTIAL_CONVOX_SECRET_STORE=pass: the secrets live in a real `pass` store (gpg with a
passphrase-less key, support.pass_store), in docker-credential-pass's layout; the registry index
still holds the entries. No Secret Service is on the bus.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import pytest
from support import NOT_FOUND
from support.pass_store import pass_usernames

from docker_credential_convox.server_keys import parse_server

pytest.register_assert_rewrite("conformance")  # before its import: asserts show values
from conformance import (  # noqa: E402
    CredentialHelperContract,
    Login,
    Reply,
    Result,
)

pytest_plugins = ["support.pass_store"]

# As KEYRING_THEN_INDEX (an erase deletes the secret, then the index entry), with the pass store
# writing the secret.
PASS_THEN_INDEX: Mapping[str, str] = MappingProxyType(
    {
        "store": "docker_credential_convox.registry_index_writer:RegistryIndexWriter.put",
        "store, before its secret": "docker_credential_convox.stores.pass_store:PassStore.put",
        "erase": "docker_credential_convox.registry_index_writer:RegistryIndexWriter.remove",
    }
)


class TestPassRoute(CredentialHelperContract):
    """Ordinary registries: any username and secret, kept verbatim in a `pass` store."""

    crash_at = PASS_THEN_INDEX
    logins = (Login("alice", "s3cret-one"), Login("bob", "s3cret-two"))

    @pytest.fixture
    def route_env(self, pass_env: dict[str, str]) -> dict[str, str]:
        return pass_env

    def new_server(self) -> str:
        return f"r-{uuid.uuid4().hex[:12]}.example.com:5000"

    def neighbours(self, server: str) -> Sequence[str]:
        host = server.rpartition(":")[0]
        return (host, f"{host}:5001", host.partition(".")[2] + ":5000")

    def check_answer(self, reply: Reply, stored: Login) -> None:
        assert (reply["Username"], reply["Secret"]) == stored

    def check_nothing_stored(self, result: Result, asked: str) -> None:
        assert (result.returncode, result.stdout) == (1, NOT_FOUND + "\n"), result

    def secrets_filed_under(self, server: str) -> list[str]:
        return pass_usernames(self.env, parse_server(server).key)
