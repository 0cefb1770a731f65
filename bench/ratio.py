"""`python -m bench.ratio`: issue 19 item 8, the hot paths of a pip-installed copy beside Python.

The tree's wheel is installed by pip (not editable) into a venv of its own (installed.
pip_installed), so `docker-credential-convox` is the launcher users get. A moto server on
127.0.0.1 mints one ECR token through the helper's own first `get`; every later `get` of that
host is a cache hit (checked). Each hot path and the floor, `printf HOST | PY -I -S -c pass`
with PY the real interpreter behind the venv (symlinks resolved), run interleaved A B B A in
this one process tree, `--runs` each, and their 25th percentiles compared: the quartile is
what a process costs when the machine leaves it alone, and the interleave makes a change of
load hit both sides alike. Run it inside the loopback namespace:

    scripts/isolated.sh .venv/bin/python -m bench.ratio --label before --output bench/RATIO.md
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from bench.base import ECR_HOST, MOTO_PASSWORD, NOT_FOUND, UNKNOWN_REGISTRY
from bench.installed import pip_installed
from bench.timing import Process, instructions, interleave, quartile_and_median, time_process
from standins.environment import hermetic_env
from standins.moto_servers import start_moto_server

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.5  # issue 19 item 8: each hot path's p25 <= 1.5x the floor's


def mint(helper: Path, env: dict[str, str]) -> None:
    """The first `get` mints and caches the token; the next one must be a cache hit."""
    for debug in ("", "1"):
        done = subprocess.run(
            [str(helper), "get"],
            input=ECR_HOST,
            env={**env, "DOCKER_CREDENTIAL_CONVOX_DEBUG": debug},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or MOTO_PASSWORD not in done.stdout:
            raise RuntimeError(f"ECR get failed: {done.stderr.strip()[-400:]}")
    if "cache hit" not in done.stderr:
        raise RuntimeError(f"the second ECR get did not hit the cache: {done.stderr[-400:]}")


def modules_loaded(process: Process) -> list[str]:
    """The modules one run of `process` imports beyond the floor's, in order (-X importtime)."""
    done = subprocess.run(
        list(process.argv),
        input=process.stdin,
        env={**process.env, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True,
        check=False,
    )
    lines = done.stderr.decode(errors="replace").splitlines()
    names = [line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")]
    first = names.index("docker_credential_convox") if "docker_credential_convox" in names else 0
    return [name.replace("docker_credential_convox", "dcc") for name in names[first:]]


def measure(
    python: Path, helper: Path, env: dict[str, str], runs: int
) -> tuple[list[list[str]], list[str]]:
    """One row per hot path (its p25 and median, the floor's, the ratio of the p25s), and the
    modules each path loads."""
    floor_argv = [str(python.resolve()), "-I", "-S", "-c", "pass"]
    paths = [
        (Process("`get`, ECR, cached", [str(helper), "get"], ECR_HOST.encode(), env), ECR_HOST),
        (
            Process("`get`, unknown", [str(helper), "get"], UNKNOWN_REGISTRY.encode(), env, 1),
            UNKNOWN_REGISTRY,
        ),
    ]
    check = subprocess.run(
        [str(helper), "get"],
        input=UNKNOWN_REGISTRY,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if NOT_FOUND not in check.stdout:
        raise RuntimeError(f"unknown get answered {check.stdout!r} {check.stderr[-300:]!r}")
    rows, loaded = [], []
    for path, host in paths:
        modules = modules_loaded(path)
        loaded.append(f"- {path.name}, {len(modules)} modules: {', '.join(modules)}")
        floor = Process(f"floor for {path.name}", floor_argv, host.encode(), env)
        for process in (path, floor):  # warm the page cache; never timed
            time_process(process)
        samples = interleave(path, floor, runs)
        p25, median = quartile_and_median(samples[path.name])
        floor_p25, floor_median = quartile_and_median(samples[floor.name])
        value = p25 / floor_p25
        counts = "—"
        if shutil.which("valgrind"):
            ours, theirs = (instructions(run.argv, run.stdin, run.env) for run in (path, floor))
            counts = f"{ours / 1e6:.1f} M / {theirs / 1e6:.1f} M = {ours / theirs:.2f}x"
        rows.append(
            [
                path.name,
                f"{p25 * 1000:.1f} ms",
                f"{median * 1000:.1f} ms",
                f"{floor_p25 * 1000:.1f} ms",
                f"{floor_median * 1000:.1f} ms",
                f"{value:.2f}x",
                "yes" if value <= TARGET else "**no**",
                counts,
            ]
        )
    return rows, loaded


def git_head(tree: Path) -> str:
    """HEAD of `tree`, with "+changes" when its package or launchers differ from it."""
    git = ["git", "-C", str(tree)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "docker_credential_convox", "packaging"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (head or "?") + ("+changes" if dirty else "")


def render(
    label: str,
    tree: str,
    rows: list[list[str]],
    loaded: list[str],
    *,
    runs: int,
    loads: Sequence[float],
) -> str:
    lines = [
        f"## {label}",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, tree {tree}, Python "
        f"{platform.python_version()}, {runs} runs of each side, load average "
        f"{loads[0]:.2f} before, {loads[1]:.2f} after (`uptime`; 2 cores shared).",
        "",
        "| hot path | p25 | median | floor p25 | floor median | p25 / floor p25 "
        f"| ≤ {TARGET}x | instructions, path / floor (callgrind) |",
        "|---|--:|--:|--:|--:|--:|---|--:|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "Modules loaded after the interpreter's own (`dcc` is the package), in order:"]
    lines += ["", *loaded]
    return "\n".join(lines) + "\n\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ratio", description=__doc__)
    parser.add_argument("--runs", type=int, default=40, help="runs of each side (default 40)")
    parser.add_argument("--label", default="measured", help="the section's heading")
    parser.add_argument("--output", type=Path, help="append the section here (default: none)")
    parser.add_argument(
        "--tree", type=Path, default=ROOT, help="the checkout to install (default: this one)"
    )
    args = parser.parse_args(argv)
    loads = [os.getloadavg()[0]]
    root = Path(tempfile.mkdtemp(prefix="dccx-ratio-"))
    moto = start_moto_server(root / "moto", expiring_tokens=True)
    try:
        python, helper = pip_installed(root / "installed", args.tree)
        env = hermetic_env(root / "home", {"AWS_ENDPOINT_URL_ECR": moto.url})
        mint(helper, env)
        rows, loaded = measure(python, helper, env, args.runs)
    finally:
        moto.stop()
        shutil.rmtree(root, ignore_errors=True)
    loads.append(os.getloadavg()[0])
    section = render(args.label, git_head(args.tree), rows, loaded, runs=args.runs, loads=loads)
    if args.output:
        with args.output.open("a") as output:
            output.write(section)
    sys.stdout.write(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
