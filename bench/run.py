#!/usr/bin/env python3
"""`make bench`: whole-process timings of docker-credential-convox beside the Go helpers.

Everything runs on 127.0.0.1 from a temporary directory, and every process this script starts
is stopped by it (by process id) before it exits:
- a private D-Bus session bus with gnome-keyring's Secret Service on it, unlocked; its default
  alias points at the in-memory `session` collection, so that seeding a thousand items takes
  seconds instead of minutes (gnome-keyring rewrites the whole `login` keyring file on every
  change; reads are served from memory either way);
- moto_server, for our helper and the boto3/botocore floors (AWS_ENDPOINT_URL_ECR);
- moto_proxy, moto's HTTPS-intercepting proxy, for docker-credential-ecr-login 0.6.0, which has
  no endpoint override (HTTPS_PROXY plus AWS_CA_BUNDLE set to moto's CA), and for our helper on
  the same path so that the cold rows compare like with like.
Both moto processes run through standins/moto_patched.py, which gives ECR tokens a 12-hour expiry
(moto's own is fixed at 2015-01-01, which neither helper would cache).

Whole processes are timed with hyperfine: warm-ups discarded, medians reported, the cost of the
shell hyperfine starts each command in subtracted. Commands that are compared with each other
form a group, and a group's commands are timed in alternating rounds, so that a change in the
machine's load hits all of them alike. Every command is run once and its output checked before
it is timed, so no error path is ever timed. Each command has an environment of its own (fresh
HOME and XDG directories, fake AWS keys, instance metadata disabled).

The results go to bench/RESULTS.md (or --output), with the machine and versions at the top, and
the headline rows to docs/performance.md (or --section); a --quick run writes both under
bench/work/quick/ instead, so a smoke test never replaces the committed figures. hyperfine's JSON
exports and a summary go to bench/work/json/ (or --json-dir).

    .venv/bin/python -m bench.run                      # the full run (`make bench`)
    .venv/bin/python -m bench.run --quick --runs 2 --warmup 0 --output /tmp/RESULTS.md

Without hyperfine (a machine set up by `make test` alone) a plain timer stands in and the
results say so; without the Go helpers their cells read "not installed".
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from bench.base import BENCH_DIR, HELPER, Bench
from bench.report import Report
from bench.scenarios import SCENARIOS
from bench.timing import log

PERFORMANCE_PAGE = BENCH_DIR.parent / "docs" / "performance.md"
QUICK_DIR = BENCH_DIR / "work" / "quick"  # bench/work/ is not committed


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--runs", type=int, default=30, help="timed runs per command (default 30)")
    add("--warmup", type=int, default=3, help="discarded runs before the first round (3)")
    add("--rounds", type=int, default=10, help="alternating rounds per group of commands (10)")
    add("--concurrency", type=int, default=32, help="processes in the concurrent rows (32)")
    add("--concurrent-runs", type=int, default=6, help="timed runs of concurrent rows (6)")
    add("--quick", action="store_true", help="tiny settings for a smoke test (lists of 1 and 10)")
    add("--output", type=Path, help="the Markdown report (default bench/RESULTS.md)")
    add(
        "--section",
        type=Path,
        help="the performance page, written from this run (default docs/performance.md)",
    )
    add("--json-dir", type=Path, default=BENCH_DIR / "work" / "json", help="hyperfine exports")
    add("--workdir", type=Path, help="where services keep their files (default: a temp dir)")
    add("--quiet", action="store_true", help="no hyperfine progress output")
    args = parser.parse_args(argv)
    if args.runs < 2 or args.warmup < 0 or args.rounds < 1:
        parser.error("--runs must be at least 2, --warmup at least 0, --rounds at least 1")
    # A smoke test is no measurement: it never replaces the committed figures unless asked to.
    defaults = QUICK_DIR if args.quick else None
    args.output = args.output or (defaults or BENCH_DIR) / "RESULTS.md"
    args.section = args.section or (defaults / "performance.md" if defaults else PERFORMANCE_PAGE)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    for tool in ("dbus-daemon", "dbus-send", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            log(f"{tool} is missing: run `make deps` (scripts/install-system-deps.sh)")
            return 2
    if not HELPER.exists():
        log(f"{HELPER} is missing: run `make venv`")
        return 2
    started = time.monotonic()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="dccx-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind through `finally`
    try:
        with contextlib.ExitStack() as services:  # stops every service, newest first
            bench = Bench(args, root, services)
            bench.start()
            for scenario in SCENARIOS:
                scenario(bench)
            bench.finish()
        report = Report(bench)
        text, section = report.report(), report.performance_section()
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)
    for path, content in ((args.output, text), (args.section, section)):
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_text(content)
        temp.replace(path)
    print(text)
    log(f"wrote {args.output} and {args.section} in {math.ceil(time.monotonic() - started)} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
