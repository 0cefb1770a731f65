"""Shared documents the helper did not write: planted in Secrets Manager by anyone who may write
one secret under the prefix, they must never produce a credential (issue 17, item 4).

A shared value is read only if it is exactly what `registries add --shared` writes: the exact
field set, the types, a source allowed for that kind of host (a login for an ordinary registry;
access keys or a role for an ECR host), the registry the secret's name is for, no control
characters in names or usernames. Anything else makes `get` fail with one line naming the
registry and the secret, never the value, and nothing is asked of STS or ECR for it.

The documents are written straight into moto's Secrets Manager with boto3, as an attacker with
secretsmanager:CreateSecret on `PREFIX/*` would; the fleet machine reads through the counting
proxy, which shows whether it assumed a role or minted a token.
"""

from __future__ import annotations

import json

import pytest
from support import run_helper_in
from support.shared import aws_client, prefix_of

from standins.aws_proxy import AwsProxy
from standins.moto_servers import MotoProcess

pytest_plugins = ["support.aws_emulator", "support.shared"]

SERVER = "registry.example.com:5000"
SERVER_TAIL = "registry.example.com+5000"
ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ROLE_ARN = "arn:aws:iam::123456789012:role/fleet-puller"
PLANTED = "planted-value-5e0c91"  # the value an error must never show
AKID = "AKIAIOSFODNN7EXAMPLE"


def document(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "version": 1,
        "ServerURL": SERVER,
        "Username": "fleet",
        "Secret": PLANTED,
        "Source": "keyring",
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def ecr_document(**fields: object) -> dict[str, object]:
    return document(ServerURL=ECR_HOST, **fields)


ROLE = {"Username": f"role:{ROLE_ARN}", "Source": "ecr-role", "Secret": ""}

# (what is planted, for which host, a few words the error line holds)
PLANTED_DOCUMENTS = {
    # A role or keys for an ordinary registry: the fleet machine would mint an ECR token with
    # its own (or the planted) AWS credentials and hand it to the planter's host.
    "role-for-a-registry": (
        document(**ROLE, Options={"role_arn": ROLE_ARN}),
        SERVER,
        "not one shared for an ordinary registry",
    ),
    "keys-for-a-registry": (
        document(Username=AKID, Source="ecr-keys"),
        SERVER,
        "not one shared for an ordinary registry",
    ),
    # A login for an ECR host: the helper shares keys or a role there, never a password.
    "login-for-ecr": (ecr_document(), ECR_HOST, "not one shared for an ECR registry"),
    # A role without its ARN: the reader would fall back to the machine's default chain.
    "role-without-arn": (ecr_document(**ROLE), ECR_HOST, "Options"),
    # A role assumed from one machine's profile: `add --shared` refuses --profile.
    "role-from-a-profile": (
        ecr_document(**ROLE, Options={"role_arn": ROLE_ARN, "profile": "prod"}),
        ECR_HOST,
        "Options",
    ),
    "role-username-not-its-arn": (
        ecr_document(
            **{**ROLE, "Username": "role:arn:aws:iam::999999999999:role/other"},
            Options={"role_arn": ROLE_ARN},
        ),
        ECR_HOST,
        "Username",
    ),
    "role-with-a-secret": (
        ecr_document(**{**ROLE, "Secret": PLANTED}, Options={"role_arn": ROLE_ARN}),
        ECR_HOST,
        "Secret",
    ),
    "keys-with-options": (
        ecr_document(Username=AKID, Source="ecr-keys", Options={"profile": "prod"}),
        ECR_HOST,
        "Options",
    ),
    "a-field-of-its-own": (document(Extra="x"), SERVER, "Extra"),
    "version-true": (document(version=True), SERVER, "version"),
    "version-float": (document(version=1.0), SERVER, "version"),
    "control-in-username": (document(Username="fleet\x1b[2K"), SERVER, "Username"),
    "newline-in-username": (document(Username="fleet\nadmin"), SERVER, "Username"),
    "userinfo-in-server-url": (
        document(ServerURL=f"https://x:{PLANTED}@{SERVER}"),
        SERVER,
        "ServerURL",
    ),
    "userinfo-without-scheme": (
        document(ServerURL=f"x:{PLANTED}@{SERVER}"),
        SERVER,
        "ServerURL",
    ),
    "login-with-options": (document(Options={"target": ECR_HOST}), SERVER, "Options"),
    "blank-password": (document(Secret=""), SERVER, "Secret"),
}


@pytest.mark.parametrize("case", sorted(PLANTED_DOCUMENTS))
def test_a_planted_document_never_produces_a_credential(
    machine: dict[str, str], moto_server: MotoProcess, aws_proxy: AwsProxy, case: str
) -> None:
    planted, asked, why = PLANTED_DOCUMENTS[case]
    tail = SERVER_TAIL if asked == SERVER else ECR_HOST
    name = f"{prefix_of(machine)}/{tail}"
    sm = aws_client("secretsmanager", moto_server.url)
    sm.create_secret(Name=name, SecretString=json.dumps(planted))
    aws_proxy.reset()

    result = run_helper_in(machine, "get", stdin=asked)

    assert result.returncode == 1, result
    assert result.stdout.count("\n") == 1, result  # one protocol line, no credential
    line = result.stdout
    for part in (name, asked, "is not in the helper's format", why):
        assert part in line, line
    assert result.stderr.count("\n") == 1, result  # the hint: what to do
    assert "Traceback" not in result.stderr
    assert PLANTED not in result.stdout + result.stderr
    # Nothing was done with it: no role assumed, no token minted.
    assert [call.operation for call in aws_proxy.calls] == ["secretsmanager:GetSecretValue"]


def test_a_planted_document_is_skipped_by_list_with_one_line(
    machine: dict[str, str], moto_server: MotoProcess
) -> None:
    planted, _, _ = PLANTED_DOCUMENTS["role-for-a-registry"]
    name = f"{prefix_of(machine)}/{SERVER_TAIL}"
    sm = aws_client("secretsmanager", moto_server.url)
    sm.create_secret(Name=name, SecretString=json.dumps(planted))

    result = run_helper_in(machine, "list")

    assert (result.returncode, json.loads(result.stdout)) == (0, {}), result
    assert result.stderr.count("\n") == 1, result
    assert name in result.stderr, result
    assert PLANTED not in result.stderr


@pytest.mark.parametrize(
    ("planted", "asked"),
    [
        (ecr_document(Username=AKID, Source="ecr-keys"), ECR_HOST),
        (ecr_document(**ROLE, Options={"role_arn": ROLE_ARN}), ECR_HOST),
        (ecr_document(**ROLE, Options={"role_arn": ROLE_ARN, "external_id": "ext-1"}), ECR_HOST),
        (document(), SERVER),
    ],
    ids=["keys", "role", "role-external-id", "login"],
)
def test_what_add_shared_writes_is_still_read(
    machine: dict[str, str],
    moto_server: MotoProcess,
    planted: dict[str, object],
    asked: str,
) -> None:
    """The strict reader accepts every form `registries add --shared` writes (its tests in
    test_shared.py write them through the helper; here each is written by hand)."""
    tail = SERVER_TAIL if asked == SERVER else ECR_HOST
    sm = aws_client("secretsmanager", moto_server.url)
    sm.create_secret(
        Name=f"{prefix_of(machine)}/{tail}", SecretString=json.dumps(planted, sort_keys=True)
    )

    result = run_helper_in(machine, "get", stdin=asked)

    assert result.returncode == 0, result
    reply = json.loads(result.stdout)
    assert reply["ServerURL"] == asked
