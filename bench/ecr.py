"""ECR scenarios: `get` with a cold cache, a cached token, HTTPS through moto_proxy, many at once.

Our helper mints from moto_server (AWS_ENDPOINT_URL_ECR) or through moto_proxy, the path Go's
docker-credential-ecr-login needs (it has no endpoint override), so the cold rows compare like
with like.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from bench.base import (
    ECR_ACCOUNT,
    ECR_HOST,
    ECR_REGION,
    HELPER,
    MOTO_PASSWORD,
    PYTHON,
    TARGETS,
    Bench,
    Row,
    q,
    run,
)
from bench.go_reference import GO_CACHED_PASSWORD, go_env, write_go_ecr_cache
from bench.timing import Command
from standins.processes import free_loopback_port

LOOP = "i=0; while [ $i -lt {n} ]; do {cmd} > /dev/null & i=$((i+1)); done; wait"


def ecr_cold(bench: Bench) -> None:
    """A `get` that mints, beside Python + boto3 (and botocore) making the one call."""
    direct, _ = bench.ecr_envs()
    cache = bench.settings(direct).token_cache_path
    stdin = bench.stdin(ECR_HOST)
    call = (
        "('ecr', region_name='us-east-1', endpoint_url=os.environ['AWS_ENDPOINT_URL_ECR'])\n"
        "print(client.get_authorization_token()['authorizationData'][0]['authorizationToken'])"
    )
    ours, boto3_floor, botocore_floor = bench.timer.group(
        [
            Command(
                "convox get (ECR, cold)",
                bench.helper("get", stdin),
                direct,
                prepare=f"rm -f {q(cache)}",
                expect=MOTO_PASSWORD,
            ),
            Command(
                "boto3 floor",
                bench.python("import os, boto3\nclient = boto3.client" + call),
                direct,
                expect="QVdT",
            ),
            Command(
                "botocore floor",
                bench.python(
                    "import os, botocore.session\n"
                    "client = botocore.session.Session().create_client" + call
                ),
                direct,
                expect="QVdT",
            ),
        ]
    )
    bench.floor(
        "Python + boto3 client + `get_authorization_token()`",
        boto3_floor,
        "what a cold `get` cannot avoid: boto3 imported, an ECR client created, one call",
    )
    bench.floor(
        "Python + botocore client + `get_authorization_token()`",
        botocore_floor,
        "the same with botocore alone, which is what the helper uses",
    )
    bench.rows.append(
        Row(
            "`get`, ECR, cold cache",
            ours,
            None,
            "",
            boto3_floor,
            "Python + boto3 call",
        )
    )
    bench.verdict("ecr-cold", TARGETS["ecr-cold"][0], ours, boto3_floor)


def ecr_cached(bench: Bench) -> None:
    """A `get` the token cache answers, beside the cache read alone and ecr-login's cached `get`."""
    direct, _ = bench.ecr_envs()
    cache = bench.settings(direct).token_cache_path
    stdin = bench.stdin(ECR_HOST)
    run([str(HELPER), "get"], direct, ECR_HOST)  # one real mint fills the cache
    bench.require_cache_hit(HELPER, direct)
    commands = [
        Command(
            "convox get (ECR, cached)", bench.helper("get", stdin), direct, None, MOTO_PASSWORD
        ),
        Command(
            "cache-read floor", bench.python(f"import json\njson.load(open({cache!r}))"), direct
        ),
        Command("bare interpreter", f"{q(PYTHON)} -S -c pass", direct),
    ]
    if bench.go_ecr_login:
        env = go_env(bench)
        write_go_ecr_cache(Path(env["AWS_ECR_CACHE_DIR"]), ECR_REGION, ECR_ACCOUNT)
        # The proxy is a closed port: nothing but the cache can answer.
        env["HTTPS_PROXY"] = f"http://127.0.0.1:{free_loopback_port()}"
        line = f"{q(bench.go_ecr_login)} get < {q(stdin)}"
        commands.append(Command("ecr-login get (cached)", line, env, None, GO_CACHED_PASSWORD))
    ours, floor, bench.bare, *go = bench.timer.group(commands)
    bench.cache_floor = bench.floor(
        "Python + `json.load()` of the token cache",
        floor,
        "what a cached `get` cannot avoid: the interpreter, `import json`, one read",
    )
    bench.go_cached = go[0] if go else None
    bench.cached_stats = ours
    bench.rows.append(
        Row(
            "`get`, ECR, token cached",
            ours,
            bench.go_cached,
            "ecr-login",
            floor,
            "Python + json read",
        )
    )
    bench.verdict("ecr-cached", TARGETS["ecr-cached"][0], ours, bench.go_cached)


def ecr_proxied(bench: Bench) -> None:
    """A cold `get` over HTTPS through moto_proxy, ours and ecr-login's."""
    _, proxied = bench.ecr_envs()
    stdin = bench.stdin(ECR_HOST)
    cache = bench.settings(proxied).token_cache_path
    commands = [
        Command(
            "convox get (ECR, cold, moto_proxy)",
            bench.helper("get", stdin),
            proxied,
            prepare=f"rm -f {q(cache)}",
            expect=MOTO_PASSWORD,
        )
    ]
    if bench.go_ecr_login:
        env = go_env(bench)
        go_cache = Path(env["AWS_ECR_CACHE_DIR"]) / "cache.json"
        commands.append(
            Command(
                "ecr-login get (cold, moto_proxy)",
                f"{q(bench.go_ecr_login)} get < {q(stdin)}",
                env,
                prepare=f"rm -f {q(go_cache)}",
                expect=MOTO_PASSWORD,
            )
        )
    before = bench.moto_proxy.proxied_token_requests()
    ours, *go = bench.timer.group(commands)
    # Every timed run went through moto_proxy, or it was not a cold get.
    made = bench.moto_proxy.proxied_token_requests() - before
    timed = len(ours.times) + sum(len(g.times) for g in go)
    if made < timed:
        raise RuntimeError(f"moto_proxy saw {made} token requests for {timed} cold runs")
    bench.rows.append(
        Row(
            "`get`, ECR, cold cache, HTTPS through moto_proxy",
            ours,
            go[0] if go else None,
            "ecr-login",
        )
    )


def ecr_concurrent(bench: Bench) -> None:
    """Many `get`s started at once: cold, cold through moto_proxy, cached; wall time."""
    direct, proxied = bench.ecr_envs()
    stdin = bench.stdin(ECR_HOST)
    n = bench.concurrency
    bench.minted = start_at_once(bench, direct, n)
    bench.minted_proxied = start_at_once(bench, proxied, n)
    ours = bench.timer.one(
        Command(
            f"convox {n}x get (ECR, cold)",
            LOOP.format(n=n, cmd=bench.helper("get", stdin)),
            direct,
            prepare=f"rm -f {q(bench.settings(direct).token_cache_path)}",
            runs=bench.concurrent_runs,
        )
    )
    bench.rows.append(Row(f"{n} concurrent `get`s, ECR, cold cache, wall time", ours))
    commands = [
        Command(
            f"convox {n}x get (ECR, cold, moto_proxy)",
            LOOP.format(n=n, cmd=bench.helper("get", stdin)),
            proxied,
            prepare=f"rm -f {q(bench.settings(proxied).token_cache_path)}",
            runs=bench.concurrent_runs,
        )
    ]
    if bench.go_ecr_login:
        env = go_env(bench)
        line = LOOP.format(n=n, cmd=f"{q(bench.go_ecr_login)} get < {q(stdin)}")
        go_cache = Path(env["AWS_ECR_CACHE_DIR"]) / "cache.json"
        commands.append(
            Command(
                f"ecr-login {n}x get (cold, moto_proxy)",
                line,
                env,
                prepare=f"rm -f {q(go_cache)}",
                runs=bench.concurrent_runs,
            )
        )
    ours, *go = bench.timer.group(commands, rounds=3)
    bench.rows.append(
        Row(
            f"{n} concurrent `get`s, ECR, cold cache, through moto_proxy, wall time",
            ours,
            go[0] if go else None,
            "ecr-login",
        )
    )
    # The same start with the token cached: what is left is start-up on this many cores.
    bench.require_cache_hit(HELPER, direct)
    commands = [
        Command(
            f"convox {n}x get (ECR, cached)",
            LOOP.format(n=n, cmd=bench.helper("get", stdin)),
            direct,
            runs=bench.concurrent_runs,
        )
    ]
    if bench.go_ecr_login:
        env = go_env(bench)
        write_go_ecr_cache(Path(env["AWS_ECR_CACHE_DIR"]), ECR_REGION, ECR_ACCOUNT)
        env["HTTPS_PROXY"] = f"http://127.0.0.1:{free_loopback_port()}"  # the cache alone answers
        line = LOOP.format(n=n, cmd=f"{q(bench.go_ecr_login)} get < {q(stdin)}")
        commands.append(
            Command(f"ecr-login {n}x get (cached)", line, env, runs=bench.concurrent_runs)
        )
    ours, *go = bench.timer.group(commands, rounds=3)
    bench.rows.append(
        Row(
            f"{n} concurrent `get`s, ECR, token cached, wall time",
            ours,
            go[0] if go else None,
            "ecr-login",
        )
    )


def start_at_once(bench: Bench, env: Mapping[str, str], n: int) -> str:
    """n cold gets started together; all must succeed. Returns how many minted a token."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(bench.settings(env).token_cache_path)
    processes = [
        subprocess.Popen(
            [str(HELPER), "get"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**env, "DOCKER_CREDENTIAL_CONVOX_DEBUG": "1"},
        )
        for _ in range(n)
    ]
    minted = 0
    for process in processes:
        out, err = process.communicate(ECR_HOST.encode(), timeout=300)
        if process.returncode != 0 or MOTO_PASSWORD.encode() not in out:
            raise RuntimeError(f"a concurrent get failed: {out!r} {err!r}")
        minted += err.count(b"minting a token")
    return f"{minted} of {n}"
