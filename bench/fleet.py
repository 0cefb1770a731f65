#!/usr/bin/env python3
"""`python -m bench.fleet`: a fleet of machines reading one shared registry, against moto.

Issue 12 promises that a fleet sharing registries through AWS Secrets Manager costs a bounded
number of calls per machine, not one per pull. This measures it. N machines are N separate
homes and runtime directories (the per-machine cache), each running the installed helper's
`get` (and now and then `list`) at random times over a simulated hour, against moto_server
behind the counting proxy (standins/aws_proxy.py), which counts every Secrets Manager call.

Time is compressed, honestly: the helper has no clock to inject, so the simulated hour runs
`--scale` times faster and the cache's max age is set `--scale` times shorter
(DOCKER_CREDENTIAL_CONVOX_SHARED_MAX_AGE); every other duration that decides a call (the jitter
is a fraction of the max age) scales with it, so a call count over the compressed hour is the
count over a real one. What does not scale is a process's own run time: each `get` is scheduled
at its simulated time, and the report gives how late the starts were, in simulated seconds.

Then hyperfine (or the plain timer) times one machine's `get` of the shared entry, cached and
cold, beside an ECR `get`, token cached and cold, through the same proxy. Everything is written
to bench/FLEET.md (or --output). Runs on 127.0.0.1 only; stops every process it started.

    .venv/bin/python -m bench.fleet                 # `make bench` runs this after bench.run
    .venv/bin/python -m bench.fleet --quick --output /tmp/FLEET.md
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

from bench.base import BENCH_DIR, ECR_HOST, HELPER, q
from bench.fleet_report import (
    SIMULATED_HOUR,
    Event,
    FleetResult,
    Outcome,
    Plan,
    render,
)
from bench.timing import Command, Stats, Timer, log
from standins.aws_proxy import AwsProxy
from standins.environment import endpoint_env, hermetic_env
from standins.moto_servers import start_moto_server

SHARED_REGISTRY = "registry.example.com"
SHARED_USERNAME = "fleet-puller"
SHARED_PASSWORD = "fleet-bench-Secret-0"  # noqa: S105 - a throw-away emulator's content
PREFIX = "docker-credential-convox/bench"
SCOPE = f"secretsmanager:{PREFIX}"
ENV_SHARED = "DOCKER_CREDENTIAL_CONVOX_SHARED"
ENV_MAX_AGE = "DOCKER_CREDENTIAL_CONVOX_SHARED_MAX_AGE"
ENV_RUNTIME_DIR = "DOCKER_CREDENTIAL_CONVOX_RUNTIME_DIR"
# How the counting proxy names the calls a cold row must make.
GET_SECRET = "secretsmanager:GetSecretValue"  # noqa: S105 - an operation name
GET_TOKEN = "ecr:GetAuthorizationToken"  # noqa: S105 - an operation name


def schedule(plan: Plan) -> list[Event]:
    """Every machine's `get`s and `list`s at uniformly random times in the window, in order."""
    rng = random.Random(plan.seed)  # noqa: S311 - a reproducible schedule, not a secret
    events = [
        Event(rng.uniform(0, plan.window), machine, action)
        for machine in range(plan.machines)
        for action, count in (("get", plan.gets_per_hour), ("list", plan.lists_per_hour))
        for _ in range(count)
    ]
    return sorted(events, key=lambda event: event.at)


class Fleet:
    """The emulator, the proxy, the operator's shared entry and one environment per machine."""

    def __init__(self, root: Path, plan: Plan, started: contextlib.ExitStack) -> None:
        self.root = root
        self.plan = plan
        moto = start_moto_server(root / "moto")
        started.callback(moto.stop)
        self.proxy = AwsProxy(moto.url).start()
        started.callback(self.proxy.stop)

    def env(self, name: str, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
        """A home of its own, no D-Bus (no keyring), every AWS endpoint on the proxy."""
        home = self.root / "homes" / name
        return hermetic_env(home, {**endpoint_env(self.proxy.url), **(extra or {})})

    def machine(self, index: int, max_age: float) -> dict[str, str]:
        name = f"machine-{index:03d}"
        runtime = self.root / "homes" / name / "run"
        return self.env(
            name, {ENV_SHARED: SCOPE, ENV_MAX_AGE: f"{max_age:g}", ENV_RUNTIME_DIR: str(runtime)}
        )

    def share(self) -> None:
        """The operator adds the registry once (no registry to verify against: --no-verify)."""
        operator = self.env("operator", {ENV_SHARED: SCOPE})
        argv = [str(HELPER), "registries", "add", SHARED_REGISTRY, "--shared", "--no-verify"]
        argv += ["--username", SHARED_USERNAME, "--password-stdin"]
        done = subprocess.run(
            argv, input=SHARED_PASSWORD, env=operator, capture_output=True, text=True, check=False
        )
        if done.returncode != 0 or "Done." not in done.stdout + done.stderr:
            raise RuntimeError(f"registries add --shared failed: {done.stdout}{done.stderr}")

    def calls(self) -> dict[str, int]:
        """Calls per operation the proxy has seen since its last reset."""
        counted: dict[str, int] = {}
        for call in self.proxy.calls:
            counted[call.operation] = counted.get(call.operation, 0) + 1
        return counted

    def simulate(self) -> FleetResult:
        """Run the simulated hour; count the Secrets Manager calls it made."""
        plan = self.plan
        envs = [self.machine(index, plan.max_age) for index in range(plan.machines)]
        events = schedule(plan)
        self.proxy.reset()
        begin = time.monotonic()
        lock = threading.Lock()
        outcomes: list[Outcome] = []

        def run(event: Event) -> None:
            delay = begin + event.at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            started = time.monotonic() - begin
            outcome = Outcome(event, started, *act(envs[event.machine], event.action))
            with lock:
                outcomes.append(outcome)

        with ThreadPoolExecutor(max_workers=plan.workers) as pool:
            for _ in pool.map(run, events):
                pass
        elapsed = time.monotonic() - begin
        return FleetResult(plan, self.calls(), outcomes, elapsed)


def act(env: Mapping[str, str], action: str) -> tuple[bool, str]:
    """One helper process on a machine; whether it answered the shared entry."""
    stdin = SHARED_REGISTRY if action == "get" else "unused"
    done = subprocess.run(
        [str(HELPER), action],
        input=stdin,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        reply = json.loads(done.stdout) if done.returncode == 0 else None
    except ValueError:
        reply = None
    if action == "get":
        ok = isinstance(reply, dict) and reply.get("Secret") == SHARED_PASSWORD
    else:
        ok = isinstance(reply, dict) and reply.get(SHARED_REGISTRY) == SHARED_USERNAME
    return ok, "" if ok else f"rc {done.returncode}: {done.stdout.strip()[:200]}"


def latency(fleet: Fleet, timer: Timer) -> list[tuple[str, Stats, str]]:
    """One machine's `get`: the shared entry cached and cold, an ECR token cached and cold."""
    from docker_credential_convox.settings import Settings

    stdin = fleet.root / "stdin"
    stdin.mkdir(exist_ok=True)
    (stdin / "shared").write_text(SHARED_REGISTRY)
    (stdin / "ecr").write_text(ECR_HOST)
    # The cached rows must not expire while they are timed: an hour's max age.
    cached = fleet.machine(900, SIMULATED_HOUR)
    cold = fleet.machine(901, SIMULATED_HOUR)
    ecr = fleet.env("ecr")
    for env, server in ((cached, SHARED_REGISTRY), (ecr, ECR_HOST)):  # fill both caches once
        subprocess.run(
            [str(HELPER), "get"], input=server, env=env, text=True, check=True, capture_output=True
        )
    ecr_cache = Settings(ecr).token_cache_path

    def get(which: str) -> str:
        return f"{q(HELPER)} get < {q(stdin / which)}"

    commands = [
        Command("shared get (cached)", get("shared"), cached, expect=SHARED_USERNAME),
        Command(
            "shared get (cold)",
            get("shared"),
            cold,
            prepare=f"rm -rf {q(cold[ENV_RUNTIME_DIR])}",
            expect=SHARED_USERNAME,
        ),
        Command("ECR get (cached)", get("ecr"), ecr, expect='"AWS"'),
        Command("ECR get (cold)", get("ecr"), ecr, prepare=f"rm -f {q(ecr_cache)}", expect='"AWS"'),
    ]
    fleet.proxy.reset()
    stats = timer.group(commands)
    asked = fleet.calls()
    cold_runs = len(stats[1].times), len(stats[3].times)
    # Every cold run made its call, or it was not cold (the check runs count too).
    if asked.get(GET_SECRET, 0) < cold_runs[0] or asked.get(GET_TOKEN, 0) < cold_runs[1]:
        raise RuntimeError(f"cold rows made fewer calls than runs: {asked} for {cold_runs}")
    what = (
        "the runtime directory's cache answers; no AWS call",
        "the runtime directory removed before each run: one `GetSecretValue`",
        "the token cache answers; no AWS call",
        "the token cache removed before each run: one `GetAuthorizationToken`",
    )
    names = (
        "`get`, shared entry, cached",
        "`get`, shared entry, cold",
        "`get`, ECR, token cached",
        "`get`, ECR, cold",
    )
    return list(zip(names, stats, what))


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--machines", type=int, default=20, help="machines in the fleet (20)")
    add("--gets", type=int, default=60, help="`get`s per machine per hour (60)")
    add("--lists", type=int, default=4, help="`list`s per machine per hour (4)")
    add("--scale", type=float, default=15.0, help="time compression: the hour runs 15x faster")
    add("--runs", type=int, default=20, help="timed runs per latency row (20)")
    add("--warmup", type=int, default=2, help="discarded runs before the first round (2)")
    add("--rounds", type=int, default=5, help="alternating rounds of the latency rows (5)")
    add("--quick", action="store_true", help="a tiny fleet and hour, for a smoke test")
    add("--output", type=Path, default=BENCH_DIR / "FLEET.md", help="the Markdown report")
    add("--json-dir", type=Path, default=BENCH_DIR / "work" / "fleet", help="hyperfine exports")
    add("--workdir", type=Path, help="where the machines and moto keep files (default: temp)")
    add("--quiet", action="store_true", help="no hyperfine progress output")
    args = parser.parse_args(argv)
    if args.quick:
        args.machines, args.gets, args.lists, args.scale = 3, 20, 2, 600.0
        args.runs, args.warmup, args.rounds = 2, 0, 1
    if min(args.machines, args.gets) < 1 or args.lists < 0 or args.scale < 1 or args.runs < 2:
        parser.error(
            "--machines, --gets at least 1, --lists 0 or more, --scale 1 or more, --runs at least 2"
        )
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if not HELPER.exists():
        log(f"{HELPER} is missing: run `make venv`")
        return 2
    plan = Plan(args.machines, args.gets, args.lists, args.scale)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="dccx-fleet-"))
    root.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind through `finally`
    try:
        with contextlib.ExitStack() as started:  # stops moto and the proxy, newest first
            load = os.getloadavg()[0]
            fleet = Fleet(root, plan, started)
            fleet.share()
            log(
                f"{plan.machines} machines, one simulated hour in {plan.window:g} s "
                f"(max age {plan.max_age:g} s)"
            )
            result = fleet.simulate()
            log(f"simulated hour done in {result.elapsed:.0f} s: {result.calls}")
            timer = Timer(args)
            result.latency = latency(fleet, timer)
            result.timer = timer.description
            result.load = [load, os.getloadavg()[0]]
            timer.write_summary()
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)
    text = render(result, quick=args.quick)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.output.with_name(f".{args.output.name}.tmp")
    temporary.write_text(text)
    temporary.replace(args.output)
    print(text)
    if result.failures:
        log(f"{len(result.failures)} helper runs did not answer: {result.failures[0].detail}")
        return 1
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
