"""Helpers for the shared-store tests: share a registry, look at Secrets Manager directly."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from typing import Any

from support import run_helper_in

from standins.environment import FAKE_AWS_ENV

SHARED = "DOCKER_CREDENTIAL_CONVOX_SHARED"
MAX_AGE = "DOCKER_CREDENTIAL_CONVOX_SHARED_MAX_AGE"
STALE_FOR = "DOCKER_CREDENTIAL_CONVOX_SHARED_STALE_FOR"
RUNTIME_DIR = "DOCKER_CREDENTIAL_CONVOX_RUNTIME_DIR"
GET_SECRET = "secretsmanager:GetSecretValue"  # as the counting proxy names it
LIST_SECRETS = "secretsmanager:ListSecrets"


def share(
    env: Mapping[str, str], server: str, username: str, secret: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """`registries add SERVER --shared --username U --password-stdin [extra...]`."""
    return run_helper_in(
        env,
        "registries",
        "add",
        server,
        "--shared",
        "--username",
        username,
        "--password-stdin",
        *extra,
        stdin=secret,
    )


def unshare(env: Mapping[str, str], server: str) -> subprocess.CompletedProcess[str]:
    return run_helper_in(env, "registries", "remove", server, "--shared")


def prefix_of(env: Mapping[str, str]) -> str:
    return env[SHARED].partition(":")[2]


def aws_client(service: str, url: str) -> Any:
    """A boto3 client for moto at `url` (the test's own look, not the helper's)."""
    import boto3

    make: Any = boto3.client  # its overloads want a literal service name
    return make(
        service,
        endpoint_url=url,
        region_name=FAKE_AWS_ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )
