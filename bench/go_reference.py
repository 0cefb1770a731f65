"""The Go reference helpers' side of the scenarios: their homes, their caches, their items.

docker-credential-secretservice and docker-credential-ecr-login (Debian's packages) are timed
beside ours in the same groups; what they need set up first is here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.base import Bench, synthetic_registry, synthetic_username
from standins.environment import FAKE_AWS_ENV

GO_CACHED_PASSWORD = "bench-go-cached-token"  # noqa: S105 - written into ecr-login's cache


def go_env(bench: Bench) -> dict[str, str]:
    """ecr-login's home: HTTPS through moto_proxy, its cache in a directory of its own."""
    env = bench.home(
        "go-ecr",
        {"HTTPS_PROXY": bench.moto_proxy.url, "AWS_CA_BUNDLE": bench.moto_proxy.ca_bundle},
    )
    env["AWS_ECR_CACHE_DIR"] = str(Path(env["HOME"]) / "ecr-cache")
    return env


def seed_go(bench: Bench, total: int) -> None:
    """Registries as docker-credential-secretservice stores them."""
    items = []
    for i in range(bench.go_items + 1, total):
        server = synthetic_registry(i)
        attributes = {
            "xdg:schema": "io.docker.Credentials",
            "label": "Docker Credentials",
            "server": server,
            "username": synthetic_username(i),
            "docker_cli": "1",
        }
        items.append((server, attributes, f"secret-{i}"))
    bench.secrets.add_items(items)
    bench.go_items = max(bench.go_items, total - 1)


def write_go_ecr_cache(directory: Path, region: str, account: str) -> None:
    """A valid entry in docker-credential-ecr-login 0.6.0's cache file, `cache.json`.

    Format (ecr-login/cache/file.go, build.go, credentials.go in 0.6.0): {"Registries":
    {KEY: entry}, "Version": "1.0"} with KEY "<region>-<checksum(access key ID)>-<registry
    ID>", where the checksum is base64 of the key ID's bytes followed by the MD5 digest of
    nothing (Go's `md5.New().Sum(b)` appends the digest to b). An entry is used until half its
    lifetime, (ExpiresAt - RequestedAt) / 2, has passed.
    """
    key_id = FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"].encode()
    checksum = base64.b64encode(key_id + hashlib.md5().digest()).decode()  # noqa: S324
    now = datetime.now(timezone.utc)
    stamp = "%Y-%m-%dT%H:%M:%S.%fZ"
    entry = {
        "AuthorizationToken": base64.b64encode(f"AWS:{GO_CACHED_PASSWORD}".encode()).decode(),
        "RequestedAt": now.strftime(stamp),
        "ExpiresAt": (now + timedelta(hours=12)).strftime(stamp),
        "ProxyEndpoint": f"https://{account}.dkr.ecr.{region}.amazonaws.com",
        "Service": "ecr",
    }
    document = {"Registries": {f"{region}-{checksum}-{account}": entry}, "Version": "1.0"}
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    (directory / "cache.json").write_text(json.dumps(document, indent=2))
