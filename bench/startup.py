"""Start-up scenarios: `version` beside the interpreter floors, import costs, import profiles."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys

from bench.base import ECR_HOST, HELPER, PYTHON, REGISTRY, Bench, Row, q
from bench.timing import Command

IMPORTS = (
    ("docker_credential_convox.cli", "our start-up: `version`, the first step of every action"),
    ("docker_credential_convox.backends.ecr", "our ECR path up to the token cache read"),
    ("keyring", "the keyring library (`keyring.core` and what it imports)"),
    ("keyring.backends.SecretService", "keyring's Secret Service backend and secretstorage"),
    ("botocore.session", "botocore, as the helper imports it to mint a token"),
    ("boto3", "boto3 (botocore plus its own layer)"),
    ("cachetools", "cachetools (the in-process token cache)"),
)
_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)")


def startup(bench: Bench) -> None:
    """`version` beside `python -c pass` and Go's `version`; each import's cost."""
    env = bench.home("startup")
    commands = [
        Command("python -c pass", bench.python("pass"), env),
        Command("python -S -c pass", f"{q(PYTHON)} -S -c pass", env),
        Command("python -I -S -c pass", f"{q(PYTHON)} -I -S -c pass", env),
        Command("convox version", bench.helper("version"), env, expect="convox"),
    ]
    if bench.go_secretservice:
        commands.append(
            Command("secretservice version", f"{q(bench.go_secretservice)} version", env)
        )
    commands += [
        Command(f"import {module}", bench.python(f"import {module}"), env) for module, _ in IMPORTS
    ]
    stats = bench.timer.group(commands)
    by_name = {s.name: s for s in stats}
    bench.pass_floor = bench.floor(
        "`python -c pass`",
        by_name["python -c pass"],
        "the venv's interpreter with its site-packages (.pth files run)",
    )
    bench.floor(
        "`python -S -c pass`",
        by_name["python -S -c pass"],
        "the interpreter without `site`: no .pth files, no site-packages",
    )
    bench.floor(
        "`python -I -S -c pass`",
        by_name["python -I -S -c pass"],
        "the least a Python process costs: isolated, no `site` (issue 13's floor)",
    )
    go = by_name.get("secretservice version")
    bench.rows.append(
        Row(
            "`version`",
            by_name["convox version"],
            go,
            "secretservice",
            bench.pass_floor,
            "`python -c pass`",
        )
    )
    for module, what in IMPORTS:
        bench.imports.append((f"`import {module}`", by_name[f"import {module}"], what))


def profile(bench: Bench) -> None:
    """`python -X importtime` of each hot path: self time summed per top-level package."""
    direct, _ = bench.ecr_envs()
    bench.require_cache_hit(HELPER, direct)
    paths = {
        "`get`, keyring registry": (bench.home("keyring"), "get", REGISTRY),
        "`get`, ECR, token cached": (direct, "get", ECR_HOST),
        f"`list`, {bench.sizes[-1]:,} registries": (
            bench.home(f"stored-{bench.sizes[-1]}"),
            "list",
            "",
        ),
    }
    repeats = 1 if bench.quick else 7
    for label, (env, action, stdin) in paths.items():
        samples: dict[str, list[float]] = {}
        for _ in range(repeats):
            done = subprocess.run(
                [str(PYTHON), "-X", "importtime", str(HELPER), action],
                input=stdin,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            for package, micros in importtime_by_package(done.stderr).items():
                samples.setdefault(package, []).append(micros)
        medians = {package: statistics.median(values) for package, values in samples.items()}
        bench.importtime[label] = sorted(medians.items(), key=lambda item: -item[1])


def importtime_by_package(stderr: str) -> dict[str, float]:
    """Self import time (µs) per top-level package, from `-X importtime` output."""
    totals: dict[str, float] = {}
    for line in stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            package = match.group(2).split(".")[0]
            if package in sys.stdlib_module_names or package.startswith("_"):
                package = "stdlib"
            totals[package] = totals.get(package, 0.0) + float(match.group(1))
    return totals
