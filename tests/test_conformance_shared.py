"""The protocol contract on the shared route: registries written once to AWS Secrets Manager.

The operator writes with `registries add SERVER --shared`, removes with `registries remove
SERVER --shared` (protocol `store`/`erase` stay local, so this route declares protocol_writes
False); `get` and `list` answer from the shared scope through the machine's cache. The machine
has a fresh HOME and no Secret Service anywhere: nothing here may need a keyring. moto_server
behind the counting proxy (support.aws_emulator) is Secrets Manager; each test has its own scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from support import NOT_FOUND

pytest.register_assert_rewrite("conformance")  # before its import: asserts show values
from conformance import (  # noqa: E402
    CredentialHelperContract,
    Login,
    Reply,
    Result,
)

pytest_plugins = ["support.aws_emulator", "support.shared"]


class TestSharedRoute(CredentialHelperContract):
    """Ordinary registries shared by a fleet: a login per registry, one secret each."""

    protocol_writes = False
    keeps_any_secret = False  # `registries add` refuses a blank password
    docker_hub = False  # Docker Hub's web-login keeps path entries; add shares registries
    path_entries = False  # `registries add` shares the registry, never a path under it
    opaque_keys = False  # `registries add` reads every key it shares
    logins = (Login("alice", "s3cret-one"), Login("bob", "s3cret-two"))

    @pytest.fixture
    def route_env(self, machine: dict[str, str]) -> dict[str, str]:
        return machine

    def new_server(self) -> str:
        return f"r-{uuid.uuid4().hex[:12]}.example.com:5000"

    def neighbours(self, server: str) -> Sequence[str]:
        host = server.rpartition(":")[0]
        return (host, f"{host}:5001", host.partition(".")[2] + ":5000")

    def store(self, server: str, login: Login) -> None:
        result = self.run(
            "registries",
            "add",
            server,
            "--shared",
            "--no-verify",
            "--username",
            login.username,
            "--password-stdin",
            stdin=login.secret,
        )
        assert (result.returncode, result.stdout) == (0, "Done.\n"), result
        assert login.secret not in result.stderr

    def erase(self, server: str) -> None:
        result = self.run("registries", "remove", server, "--shared")
        if result.returncode != 0:  # nothing shared for it: the contract's erase of nothing
            assert result.stderr.startswith("no such shared registry: "), result
            return
        assert result.stdout == "Done.\n", result

    def check_answer(self, reply: Reply, stored: Login) -> None:
        assert (reply["Username"], reply["Secret"]) == stored

    def check_nothing_stored(self, result: Result, asked: str) -> None:
        assert (result.returncode, result.stdout) == (1, NOT_FOUND + "\n"), result
