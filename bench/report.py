"""bench/RESULTS.md and docs/performance.md, rendered from a finished `Bench`."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from bench import forms
from bench.base import HELPER, PYTHON, TARGETS, Bench, Row, run
from bench.timing import SLOW_COMMAND, ms, ratio, times
from standins.environment import scrubbed_environ

# `make bench` runs bench.fleet after this report is written; its report has a file of its own.
FLEET_LINK = (
    "A fleet of machines sharing one registry through AWS Secrets Manager (calls per machine "
    "per hour, cost, shared `get` latency) has its own report: [FLEET.md](FLEET.md), written by "
    "`python -m bench.fleet`, which `make bench` runs next."
)

FLEET_SECTION_LINE = (
    "A fleet of machines sharing one registry through AWS Secrets Manager (calls per machine "
    "per hour, cost per machine per day, shared `get` latency) is measured by `python -m "
    "bench.fleet`, which `make bench` runs too: [bench/FLEET.md](../bench/FLEET.md), explained "
    "in [What a fleet costs](fleets.md#what-a-fleet-costs)."
)


class Report:
    """The Markdown a finished run writes."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench

    def performance_section(self) -> str:
        """docs/performance.md: the headline rows of this run, in words (the one page of them)."""
        bench = self.bench
        rows = {row.scenario: row for row in bench.rows}
        installed = {row.scenario: row for row in bench.installed_rows}
        big, n = bench.sizes[-1], bench.concurrency
        cached, cold = rows["`get`, ECR, token cached"], rows["`get`, ECR, cold cache"]
        unknown = rows["`get`, registry not stored (podman asks every helper)"]
        keyring, installed_cached = (
            rows["`get`, keyring registry"],
            installed["`get`, ECR, token cached"],
        )
        list_one, list_big = (
            rows["`list`, 1 registry stored"],
            rows[f"`list`, {big:,} registries stored"],
        )
        proxied = rows["`get`, ECR, cold cache, HTTPS through moto_proxy"]
        many = rows[f"{n} concurrent `get`s, ECR, cold cache, through moto_proxy, wall time"]

        def go(row: Row) -> str:
            return f"{ms(row.go.median)} ({row.go_label})" if row.go else "not measured"

        def floor(row: Row) -> str:
            return f"{ms(row.floor.median)}" if row.floor else "—"

        table = [
            "| Whole process, median | docker-credential-convox | Go helper | Python floor |",
            "|---|---:|---:|---:|",
            f"| `get`, ECR, token cached | {ms(cached.ours.median)} "
            f"({ms(installed_cached.ours.median)} installed without the dev venv's hook) | "
            f"{go(cached)} | {floor(cached)}: Python + reading the cache file |",
            f"| `get`, ECR, cold cache: one `GetAuthorizationToken` | {ms(cold.ours.median)} | "
            f"— | {floor(cold)}: Python + boto3 making the call |",
            f"| `get`, ECR, cold cache, HTTPS through moto's proxy | "
            f"{ms(proxied.ours.median)} | {go(proxied)} | — |",
            f"| `get`, registry in the OS keyring | {ms(keyring.ours.median)} | {go(keyring)} | "
            f"{floor(keyring)}: Python + keyring fetching the secret |",
            f"| `get`, registry not stored (podman asks every helper) | "
            f"{ms(unknown.ours.median)} | {go(unknown)} | {floor(unknown)}: `python -c pass` |",
            f"| `list`, 1 / {big:,} registries | {ms(list_one.ours.median)} / "
            f"{ms(list_big.ours.median)} | {ms(list_one.go.median if list_one.go else None)} / "
            f"{ms(list_big.go.median if list_big.go else None)} (secretservice) | — |",
            f"| {n} `get`s at once, cold cache, HTTPS | {ms(many.ours.median)}, "
            f"{bench.minted_proxied.split()[0]} minted | "
            f"{go(many)}{f', {n} minted' if many.go else ''} | — |",
        ]
        bare = bench.bare.median if bench.bare else None
        text = [
            "# Performance",
            "",
            "<!-- Written by `make bench` (bench/run.py); edit bench/report.py, not this page. -->",
            "",
            "Docker starts the helper once for every `get`, so what counts is a whole process. "
            "`make bench` times whole processes of this helper and of the Go helpers people "
            "would otherwise install (`docker-credential-ecr-login`, "
            "`docker-credential-secretservice`) side by side, against local stand-ins (moto, a "
            "private gnome-keyring), and writes [bench/RESULTS.md](../bench/RESULTS.md) with every "
            f"row, the floors, the machine and the method. Headline rows of the last run "
            f"({self.cpu_summary()}):",
            "",
            *table,
            "",
            f"- A cached ECR `get` is Python start-up, reading two small files and printing: "
            f"{times(ratio(cached.ours, cached.floor))} the cost of a Python process that only "
            "reads the cache file."
            + (
                " Go's whole cached call is shorter than the bare Python interpreter's start-up "
                f"({ms(bare)}), so the Go helper stays {times(ratio(cached.ours, cached.go))} "
                "faster there, however lean the Python side."
                if cached.go
                else ""
            ),
            f"- A cold `get` costs {times(ratio(cold.ours, cold.floor))} a Python process that "
            "imports boto3, creates an ECR client and makes the one call: nearly all of it is "
            "botocore. Concurrent cold `get`s share one token through the cache lock.",
            f"- A keyring `get` costs {times(ratio(keyring.ours, keyring.floor))} Python plus the "
            "keyring library fetching the same secret: when keyring would use its Secret Service "
            "backend, the helper reads that item directly on the session bus's socket, in a plain "
            "session, and skips keyring's own start-up and secretstorage's cryptography (Python + "
            "secretstorage alone: "
            f"{ms(bench.secretstorage_floor.median if bench.secretstorage_floor else None)}).",
            f"- `list` reads one index file and never the keyring: {big:,} registries cost "
            f"{times(ratio(list_big.ours, list_one.ours))} one registry.",
            "- Each install form (wheel in a venv, .deb, single file) beside the floor of its own "
            'interpreter: the table "Install forms beside the floor of their interpreter" in '
            "[bench/RESULTS.md](../bench/RESULTS.md).",
            "- A pip-installed copy's cached ECR `get` and `get` of a registry nobody stored "
            "beside `python -I -S -c pass` (callgrind instructions, and 25th percentiles of 40 "
            "interleaved runs): [bench/RATIO.md](../bench/RATIO.md), written by "
            "`python -m bench.ratio`.",
            "",
            "Reproduce with `make bench` (a few minutes; it installs `hyperfine` and the Go "
            "helpers from Debian and runs loopback-only). To compare this tree with an earlier "
            "revision on every hot path (callgrind instructions, CPU time, wall time, modules "
            "loaded), run `scripts/isolated.sh .venv/bin/python -m bench.compare --base REV`; "
            "[bench/REDESIGN.md](../bench/REDESIGN.md) is its run against the commit before the "
            "redesign, [bench/COMPARE.md](../bench/COMPARE.md) against the one before its second "
            "step.",
            "",
            FLEET_SECTION_LINE,
            "",
        ]
        return "\n".join(text)

    def cpu_summary(self) -> str:
        values = dict(machine_and_versions(self.bench, light=True))
        return f"{values['CPU']}, Python {platform.python_version()}"

    def out_of_reach(self) -> list[str]:
        """Why the cached-ECR target cannot be met by a Python process, and the next best."""
        bench = self.bench
        if bench.go_cached is None:
            return []
        bare = ratio(bench.bare, bench.go_cached)
        if bare is None or bare <= TARGETS["ecr-cached"][1]:
            return []
        return [
            "The cached-ECR target is out of reach for any Python process: in the same runs, "
            f"the bare interpreter (`python -S -c pass`: no `site`, no imports) took "
            f"{ms(bench.bare.median)}, {times(bare)} the Go helper's whole cached `get` "
            f"({ms(bench.go_cached.median)}). The next best is a cached `get` that costs little "
            "more than Python plus one `json.load()` of the cache file: "
            f"{times(ratio(bench.cached_stats, bench.cache_floor))} of it from the development "
            f"venv, {times(ratio(bench.installed_cached, bench.installed_cache_floor))} installed "
            "without the editable hook.",
        ]

    def table(self, rows: Sequence[Row]) -> list[str]:
        lines = [
            "| Scenario | convox | Go helper | convox ÷ Go | Floor | convox ÷ floor |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in rows:
            if row.go is not None:
                go = f"{ms(row.go.median)} ({row.go_label})"
            else:
                go = "not installed" if row.go_label else "—"
            floor = f"{ms(row.floor.median)} ({row.floor_label})" if row.floor else "—"
            by_go, by_floor = times(ratio(row.ours, row.go)), times(ratio(row.ours, row.floor))
            cells = [row.scenario, ms(row.ours.median), go, by_go, floor, by_floor]
            lines.append("| " + " | ".join(cells) + " |")
        return lines

    def report(self) -> str:
        bench = self.bench
        now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        settings = (
            "quick settings (a smoke test, not a measurement)" if bench.quick else "full settings"
        )
        lines = [
            "# Benchmarks",
            "",
            f"Written by `make bench` (`bench/run.py`, {settings}) on {now}. Whole processes, "
            f"timed with {bench.timer.description}: {bench.args.runs} runs per command "
            f"({bench.concurrent_runs} for the concurrent rows, fewer for commands slower than "
            f"{SLOW_COMMAND} s), in up to {bench.args.rounds} alternating rounds per group of "
            f"compared commands, after {bench.args.warmup} discarded warm-up runs; **medians**.",
            "",
            FLEET_LINK,
            "",
            "## Machine and versions",
            "",
            "| | |",
            "|---|---|",
        ]
        lines += [f"| {key} | {value} |" for key, value in machine_and_versions(self.bench)]
        lines += [
            "",
            "## Results",
            "",
            *self.table(bench.rows),
            "",
            "### The helper installed without the editable-install hook",
            "",
            "The development venv runs a `pip install -e` hook on every interpreter start-up; a "
            "user's install (wheel, .deb) has none. The same interpreter and libraries, laid out "
            "as a regular install:",
            "",
            *self.table(bench.installed_rows),
            "",
            *forms.report(bench.forms),
            "",
            "## Targets (issue 6)",
            "",
            "| Target | Measured | Met |",
            "|---|---|---|",
        ]
        for description, measured, met in bench.verdicts:
            verdict = "n/a" if met is None else "yes" if met else "**no**"
            lines.append(f"| {description} | {measured} | {verdict} |")
        lines += ["", *self.out_of_reach()]
        lines += [
            "",
            "## Floors and import costs",
            "",
            'Whole `python` processes from the venv. "Over `python -c pass`" is the median '
            "minus that of `python -c pass` in the same group of runs.",
            "",
            "| Command | Median | Over `python -c pass` | What it stands for |",
            "|---|---:|---:|---|",
        ]
        for label, stats, what in bench.floors + bench.imports:
            over = stats.median - bench.pass_floor.median
            shown = "—" if stats is bench.pass_floor else f"{over * 1000:+.1f} ms"
            lines.append(f"| {label} | {ms(stats.median)} | {shown} | {what} |")
        lines += [
            "",
            "## Where a hot path's imports go",
            "",
            f"`python -X importtime` of one helper process (median of {1 if bench.quick else 7} "
            "runs), self time summed per top-level package (`stdlib` for the standard library); "
            "packages under 0.5 ms left out.",
            "",
        ]
        for label, packages in bench.importtime.items():
            total = sum(micros for _, micros in packages) / 1000
            shown = ", ".join(f"{p} {m / 1000:.1f}" for p, m in packages if m >= 500)
            lines.append(f"- {label}: {total:.1f} ms importing: {shown} (ms)")
        lines += ["", "## How it was measured", "", *self.method(), ""]
        return "\n".join(lines)

    def method(self) -> list[str]:
        bench = self.bench
        return [
            "- Every command runs in a HOME of its own with its own XDG directories, fake AWS "
            "keys, empty AWS config files and `AWS_EC2_METADATA_DISABLED=true`; nothing leaves "
            "127.0.0.1 (`make bench` runs inside a loopback-only network namespace).",
            "- Secret Service: a private `dbus-daemon` and `gnome-keyring-daemon --unlock "
            "--components=secrets`, its default alias pointed at the in-memory `session` "
            "collection so that seeding a thousand items takes seconds. Our secrets are filed as "
            "the keyring library files them, the Go helper's as `docker-credential-secretservice` "
            'does (schema `io.docker.Credentials`). "N stored" means N secrets of each helper '
            "in the keyring and N entries in our registry index.",
            "- AWS: moto_server and moto_proxy run through `standins/moto_patched.py`, which only "
            "moves the fixed 2015 `expiresAt` of moto's ECR tokens to 12 hours ahead. Our helper "
            "and the floors reach moto_server through `AWS_ENDPOINT_URL_ECR`. "
            "docker-credential-ecr-login 0.6.0 has no endpoint override and goes through "
            "moto_proxy (`HTTPS_PROXY`, `AWS_CA_BUNDLE`); the moto_proxy rows run our helper "
            "the same way. moto_proxy is Python, and its TLS termination and proxying are part "
            "of those rows.",
            "- Cold rows delete the token cache file before every run (hyperfine `--prepare`); "
            "moto_proxy's log confirms a token request for every cold run through it. Our cached "
            "rows read the entry one real `get` wrote (a debug run confirms the hit). The Go "
            "helper's cached row reads an entry written into its `cache.json` in ecr-login "
            "0.6.0's format, with `HTTPS_PROXY` pointing at a closed port, so only the cache can "
            "answer.",
            f"- Concurrent rows start {bench.concurrency} `get` processes at once from one shell "
            "and wait for all of them. Before timing, the same start with debug output showed "
            f"{bench.minted} of our processes minting a token; the others waited on the cache "
            "lock and read it. The Go helper has no such lock: each of its processes calls ECR. "
            "The token-cached concurrent row shows what start-up alone costs on this machine's "
            "cores.",
            "- Every command ran once before timing and its output was checked, so no error "
            "path was timed.",
        ]


def debian_version(package: str) -> str:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else "not installed"


def machine_and_versions(bench: Bench, light: bool = False) -> list[tuple[str, str]]:
    cpu = platform.machine()
    with contextlib.suppress(OSError):
        names = [
            line
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0].split(":", 1)[1].strip() if names else cpu
    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        total = [
            line
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        ]
        memory = f"{int(total[0].split()[1]) / 1024 / 1024:.0f} GiB"
    if light:
        return [("CPU", f"{cpu}, {os.cpu_count()} cores")]
    system = platform.system()
    with contextlib.suppress(OSError):
        system = "Debian " + Path("/etc/debian_version").read_text().strip()

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    go = [
        f"docker-credential-secretservice {debian_version('golang-docker-credential-helpers')}"
        if bench.go_secretservice
        else "docker-credential-secretservice not installed",
        f"docker-credential-ecr-login {debian_version('amazon-ecr-credential-helper')}"
        if bench.go_ecr_login
        else "docker-credential-ecr-login not installed",
    ]
    libraries = ("keyring", "SecretStorage", "jeepney", "botocore", "boto3", "cachetools", "moto")
    return [
        ("CPU", f"{cpu}, {os.cpu_count()} cores"),
        ("Memory", memory),
        ("OS", f"{system}, Linux {platform.release()}"),
        ("Python", f"{platform.python_version()} (`{PYTHON}`)"),
        ("docker-credential-convox", run([str(HELPER), "version"], scrubbed_environ()).strip()),
        ("Python libraries", ", ".join(f"{name} {version(name)}" for name in libraries)),
        ("Go helpers (Debian)", "; ".join(go)),
        (
            "Secret Service",
            f"gnome-keyring {debian_version('gnome-keyring')}, dbus {debian_version('dbus')}",
        ),
        ("Timer", bench.timer.description),
        ("Load average (1 min), start / end", " / ".join(f"{value:.2f}" for value in bench.load)),
    ]
