"""The protocol contract on the keyring route: a registry login kept in the OS keyring.

A real Secret Service (the session's) holds the secrets; each test has its own HOME and registry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from support import NOT_FOUND, keyring_usernames

from docker_credential_convox.server_keys import parse_server

pytest.register_assert_rewrite("conformance")  # before its import: asserts show values
from conformance import (  # noqa: E402
    KEYRING_THEN_INDEX,
    CredentialHelperContract,
    Login,
    Reply,
    Result,
)


class TestKeyringRoute(CredentialHelperContract):
    """Ordinary registries: any username and secret, kept verbatim in the OS keyring."""

    crash_at = KEYRING_THEN_INDEX
    logins = (Login("alice", "s3cret-one"), Login("bob", "s3cret-two"))

    @pytest.fixture
    def route_env(self, helper_env: dict[str, str]) -> dict[str, str]:
        return helper_env

    def new_server(self) -> str:
        # Of this test's own: the Secret Service is shared by the whole session.
        return f"r-{uuid.uuid4().hex[:12]}.example.com:5000"

    def neighbours(self, server: str) -> Sequence[str]:
        host = server.rpartition(":")[0]
        return (host, f"{host}:5001", host.partition(".")[2] + ":5000")

    def check_answer(self, reply: Reply, stored: Login) -> None:
        assert (reply["Username"], reply["Secret"]) == stored

    def check_nothing_stored(self, result: Result, asked: str) -> None:
        assert (result.returncode, result.stdout) == (1, NOT_FOUND + "\n"), result

    def secrets_filed_under(self, server: str) -> list[str]:
        return keyring_usernames(self.env, parse_server(server).key)


class TestKeyringRouteEncryptedSession(TestKeyringRoute):
    """The same contract with the direct Secret Service read in an encrypted session
    (secretstorage) instead of the default plain one (jeepney alone)."""

    @pytest.fixture
    def route_env(self, helper_env: dict[str, str]) -> dict[str, str]:
        return {**helper_env, "DOCKER_CREDENTIAL_CONVOX_SECRET_SERVICE_SESSION": "encrypted"}
