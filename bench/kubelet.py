#!/usr/bin/env python3
"""`python -m bench.kubelet`: a Kubernetes node pulling through the `kubelet` provider.

Two measures, written to bench/KUBELET.md (or --output), against moto behind the counting proxy
on 127.0.0.1:

- **AWS calls per node per hour.** The kubelet stand-in (standins/kubelet.py, with the provider
  entry `kubelet config` prints) resolves credentials for N pulls spread at random over an
  hour, across one ECR registry and one shared registry, as a node's kubelet does. Time is
  compressed as in bench.fleet: the hour runs `--scale` times faster, and the shared max age
  (which decides the provider's cacheDuration and its own cache) is `--scale` times shorter, so
  every duration that decides a call scales with it. ECR tokens (12 h) outlive any hour, so
  their count does not depend on the compression.
- **Time of one `kubelet` request**, warm (the provider's caches hold the token) and cold (a
  fresh cache: one GetAuthorizationToken), beside `get` of the same ECR host, run interleaved
  (A B B A) in one process tree, with the 25th percentile and the median of each.

    .venv/bin/python -m bench.kubelet                       # `make bench` runs it last
    .venv/bin/python -m bench.kubelet --quick --output /tmp/KUBELET.md
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

from bench.base import BENCH_DIR, HELPER
from bench.timing import Process, interleave, quartile_and_median, time_process
from standins.aws_proxy import AwsProxy
from standins.environment import endpoint_env, hermetic_env
from standins.kubelet import Kubelet
from standins.moto_servers import start_moto_server

ECR_HOST = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
SHARED_REGISTRY = "registry.example.com"
PREFIX = "docker-credential-convox/kubelet-bench"
GET_TOKEN = "ecr:GetAuthorizationToken"  # noqa: S105 - an operation name
GET_SECRET = "secretsmanager:GetSecretValue"  # noqa: S105 - an operation name
REAL_MAX_AGE = 300.0
HOUR = 3600.0
V1 = "credentialprovider.kubelet.k8s.io/v1"


def node_env(root: Path, proxy: AwsProxy, max_age: float) -> dict[str, str]:
    home = root / "node"
    (home / ".docker").mkdir(parents=True, exist_ok=True)
    return hermetic_env(
        home,
        {
            **endpoint_env(proxy.url),
            "DOCKER_CREDENTIAL_CONVOX_SHARED": f"secretsmanager:{PREFIX}",
            "DOCKER_CREDENTIAL_CONVOX_SHARED_MAX_AGE": f"{max_age:g}",
            "DOCKER_CREDENTIAL_CONVOX_RUNTIME_DIR": str(home / "run"),
        },
    )


def share(env: Mapping[str, str]) -> None:
    subprocess.run(
        [
            str(HELPER),
            "registries",
            "add",
            SHARED_REGISTRY,
            "--shared",
            "--no-verify",  # nothing listens at the registry's name: only the secret is needed
            "--username",
            "puller",
            "--password-stdin",
        ],
        input=b"kubelet-bench-Secret-0",
        env=dict(env),
        check=True,
        capture_output=True,
    )


def calls_per_hour(
    root: Path, proxy: AwsProxy, pulls: int, scale: float, seed: int
) -> dict[str, float]:
    """One node's AWS calls over a compressed hour of `pulls` pulls."""
    env = node_env(root / f"calls-{pulls}", proxy, REAL_MAX_AGE / scale)
    bin_dir = root / "bin"
    entry = json.loads(
        subprocess.run(
            [str(HELPER), "kubelet", "config", "--match", SHARED_REGISTRY],
            env=env,
            check=True,
            capture_output=True,
        ).stdout
    )
    config = root / f"config-{pulls}.json"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "kubelet.config.k8s.io/v1",
                "kind": "CredentialProviderConfig",
                "providers": [entry],
            }
        )
    )
    # The stand-in keeps kubelet's real clock: the durations the provider answers with are
    # already compressed (the shared max age is), so they count in real seconds.
    kubelet = Kubelet.from_config(config, bin_dir, environ=env)
    started = time.monotonic()
    rng = random.Random(seed)  # noqa: S311 - a repeatable schedule, not a secret
    moments = sorted(rng.uniform(0, HOUR) for _ in range(pulls))
    proxy.reset()
    images = [f"{ECR_HOST}/app", f"{SHARED_REGISTRY}/team/app"]
    for moment in moments:
        wait = started + moment / scale - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        kubelet.credentials(rng.choice(images))
    [provider] = kubelet.providers
    return {
        "pulls": pulls,
        "execs": provider.execs,
        "GetAuthorizationToken": proxy.count(GET_TOKEN),
        "GetSecretValue": proxy.count(GET_SECRET),
    }


def latencies(root: Path, proxy: AwsProxy, runs: int) -> list[tuple[str, float, float]]:
    """(name, p25 ms, median ms) for warm and cold `kubelet` beside `get`, interleaved ABBA."""
    env = node_env(root / "latency", proxy, REAL_MAX_AGE)
    cache = Path(env["DOCKER_CREDENTIAL_CONVOX_RUNTIME_DIR"]) / "cache"
    request = json.dumps(
        {"kind": "CredentialProviderRequest", "apiVersion": V1, "image": f"{ECR_HOST}/app"}
    ).encode()
    kubelet_argv = [str(HELPER), "kubelet"]
    get_argv = [str(HELPER), "get"]
    # `get` with the cache the provider keeps on a node (see docs/kubernetes.md).
    get_env = {**env, "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR": str(cache)}
    time_process(Process("warm the cache", kubelet_argv, request, env))
    samples: dict[str, list[float]] = {}
    interleave(
        Process("get, cached", get_argv, ECR_HOST.encode(), get_env),
        Process("kubelet, warm", kubelet_argv, request, env),
        runs,
        samples,
    )
    interleave(
        Process("get, cold", get_argv, ECR_HOST.encode(), get_env),
        Process("kubelet, cold", kubelet_argv, request, env),
        max(4, runs // 4),
        samples,
        before=lambda: shutil.rmtree(cache, ignore_errors=True),
    )
    rows = []
    for name, values in samples.items():
        p25, median = quartile_and_median(values)
        rows.append((name, p25 * 1000, median * 1000))
    return rows


def render(
    calls: list[dict[str, float]], rows: list[tuple[str, float, float]], scale: float
) -> str:
    lines = [
        "# A Kubernetes node: the `kubelet` provider (bench.kubelet)",
        "",
        f"Generated by `python -m bench.kubelet` on {time.strftime('%Y-%m-%d')}, load average "
        f"{os.getloadavg()[0]:.2f} at the end. One node, one ECR registry and one shared "
        f"registry, pulls at random over an hour compressed {scale:g}x (shared max age 300 s, "
        "scaled the same).",
        "",
        "## AWS calls per node per hour",
        "",
        "| pulls an hour | provider execs | GetAuthorizationToken | GetSecretValue |",
        "|--:|--:|--:|--:|",
    ]
    for row in calls:
        lines.append(
            f"| {row['pulls']:.0f} | {row['execs']:.0f} | {row['GetAuthorizationToken']:.0f} "
            f"| {row['GetSecretValue']:.0f} |"
        )
    lines += [
        "",
        "kubelet keeps an ECR answer for half the token's life and a shared one for the shared",
        "max age; behind it the provider's own caches answer a new exec without AWS.",
        "",
        "## One request, interleaved with `get` of the same ECR host",
        "",
        "| | 25th percentile | median |",
        "|---|--:|--:|",
    ]
    for name, p25, median in rows:
        lines.append(f"| {name} | {p25:.1f} ms | {median:.1f} ms |")
    by_name = {name: p25 for name, p25, _ in rows}
    lines += [
        "",
        f"Warm `kubelet` / cached `get` (25th percentiles): "
        f"{by_name['kubelet, warm'] / by_name['get, cached']:.2f}x.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kubelet", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs, a faster hour")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "KUBELET.md")
    args = parser.parse_args(argv)
    scale = 120.0 if args.quick else 60.0
    runs = 10 if args.quick else 40
    root = Path(tempfile.mkdtemp(prefix="dccx-kubelet-bench-"))
    moto = start_moto_server(root / "moto", expiring_tokens=True)
    proxy = AwsProxy(moto.url).start()
    try:
        bin_dir = root / "bin"
        bin_dir.mkdir()
        (bin_dir / "docker-credential-convox").symlink_to(HELPER)
        share(node_env(root / "operator", proxy, REAL_MAX_AGE))
        calls = [calls_per_hour(root, proxy, pulls, scale, seed=20) for pulls in (60, 600)]
        rows = latencies(root, proxy, runs)
    finally:
        proxy.stop()
        moto.stop()
        shutil.rmtree(root, ignore_errors=True)
    report = render(calls, rows, scale)
    args.output.write_text(report)
    sys.stdout.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
