"""Helpers shared by the ECR test modules: the AWS operation names, the keys they store, and
how to run the helper's protocol actions and look at its files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support import run_helper_in

GET_TOKEN = "ecr:GetAuthorizationToken"  # operation names as the counting proxy records them
GET_PUBLIC_TOKEN = "ecr-public:GetAuthorizationToken"
ASSUME_ROLE = "sts:AssumeRole"
STORED_KEY = "AKIAI44QH8DHBEXAMPLE"
STORED_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
MOTO_PASSWORD_PREFIX = "123456789012-auth-token-"
HEAVY = ("boto3", "botocore", "keyring", "secretstorage", "cachetools")


def get(env: dict[str, str], server: str) -> subprocess.CompletedProcess[str]:
    return run_helper_in(env, "get", stdin=server)


def get_secret(env: dict[str, str], server: str) -> str:
    result = get(env, server)
    assert result.returncode == 0, result
    reply = json.loads(result.stdout)
    assert reply["Username"] == "AWS"
    assert reply["ServerURL"] == server
    secret: str = reply["Secret"]
    return secret


def store(
    env: dict[str, str], server: str, username: str, secret: str
) -> subprocess.CompletedProcess[str]:
    request = json.dumps({"ServerURL": server, "Username": username, "Secret": secret})
    return run_helper_in(env, "store", stdin=request + "\n")


def cache_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CACHE_HOME"]) / "docker-credential-convox" / "tokens.json"


def index_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "docker-credential-convox" / "registries.json"


def imported_modules(env: dict[str, str], action: str, stdin: str) -> set[str]:
    """Top-level names of every module the installed executable imported (`-X importtime`)."""
    result = run_helper_in({**env, "PYTHONPROFILEIMPORTTIME": "1"}, action, stdin=stdin)
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "docker_credential_convox" in names, result.stderr[-2000:]
    return names
