"""The protocol contract on the ECR route: access keys stored, tokens minted against moto.

A `store` for a private ECR registry keeps an IAM user's access keys (the secret in the OS
keyring); `get` answers Username `AWS` and a token minted with them (moto_server behind the
counting proxy of support.aws_emulator). The default chain has no credentials here, so a
registry with nothing stored answers a one-line error naming it, not a token minted from
elsewhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest
from support import keyring_usernames

from docker_credential_convox.server_keys import parse_server

pytest.register_assert_rewrite("conformance")  # before its import: asserts show values
from conformance import (  # noqa: E402
    KEYRING_THEN_INDEX,
    CredentialHelperContract,
    Login,
    Reply,
    Result,
)

if TYPE_CHECKING:
    from support.aws_emulator import AwsProxy

pytest_plugins = ["support.aws_emulator"]  # moto_server, aws_proxy, ecr_env

GET_TOKEN = "ecr:GetAuthorizationToken"  # as the counting proxy names it
MOTO_PASSWORD_PREFIX = "123456789012-auth-token-"
REGION = "us-west-2"


def ecr_host(account: str, region: str = REGION) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


class TestEcrRoute(CredentialHelperContract):
    """Private ECR registries: access keys in, minted tokens out."""

    keeps_any_secret = False  # the secret is an AWS secret access key; `get` answers tokens
    identity_tokens = False  # ECR has no identity tokens
    docker_hub = False
    path_entries = False  # a path on an ECR host is the registry's own entry (test_ecr_alias)
    opaque_keys = False  # an opaque key is never an ECR registry (test_opaque_keys)
    crash_at = KEYRING_THEN_INDEX
    logins = (
        Login("AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"),
        Login("AKIANEWKEYEXAMPLE001", "new-secret-access-key"),
    )

    aws: AwsProxy

    @pytest.fixture
    def route_env(self, ecr_env: dict[str, str], aws_proxy: AwsProxy) -> dict[str, str]:
        self.aws = aws_proxy
        chainless = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        return {name: value for name, value in ecr_env.items() if name not in chainless}

    def new_server(self) -> str:
        # An account of this test's own: the Secret Service and moto are shared by the session.
        return ecr_host(str(10**11 + uuid.uuid4().int % (9 * 10**11)))

    def neighbours(self, server: str) -> Sequence[str]:
        account = server.partition(".")[0]
        other_account = str((int(account) + 1) % 10**12).zfill(12)
        return (ecr_host(account, "eu-west-1"), ecr_host(other_account))

    def check_answer(self, reply: Reply, stored: Login) -> None:
        assert reply["Username"] == "AWS", reply
        assert reply["Secret"].startswith(MOTO_PASSWORD_PREFIX), reply
        signers = {call.access_key_id for call in self.aws.calls_of(GET_TOKEN)}
        assert stored.username in signers, (stored.username, signers)

    def check_nothing_stored(self, result: Result, asked: str) -> None:
        registry = asked.removeprefix("http://").removeprefix("https://").split("/")[0].lower()
        assert result.returncode == 1, result
        assert result.stdout.count("\n") == 1, result
        assert f"cannot get an ECR token for {registry}" in result.stdout, result
        assert "NoCredentials" in result.stdout, result
        assert "Traceback" not in result.stderr, result

    def secrets_filed_under(self, server: str) -> list[str]:
        return keyring_usernames(self.env, parse_server(server).key)
