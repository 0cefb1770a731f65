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
Both moto processes run through bench/moto_patched.py, which gives ECR tokens a 12-hour expiry
(moto's own is fixed at 2015-01-01, which neither helper would cache).

Whole processes are timed with hyperfine: warm-ups discarded, medians reported, the cost of the
shell hyperfine starts each command in subtracted. Commands that are compared with each other
form a group, and a group's commands are timed in alternating rounds, so that a change in the
machine's load hits all of them alike. Every command is run once and its output checked before
it is timed, so no error path is ever timed. Each command has an environment of its own (fresh
HOME and XDG directories, fake AWS keys, instance metadata disabled).

The results go to bench/RESULTS.md (or --output), with the machine and versions at the top;
hyperfine's JSON exports and a summary go to bench/work/json/ (or --json-dir).

    .venv/bin/python bench/run.py                      # the full run (`make bench`)
    .venv/bin/python bench/run.py --quick --runs 2 --warmup 0 --output /tmp/RESULTS.md

Without hyperfine (a machine set up by `make test` alone) a plain timer stands in and the
results say so; without the Go helpers their cells read "not installed".
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Optional

BENCH_DIR = Path(__file__).resolve().parent
PYTHON = Path(sys.executable)
HELPER = Path(os.environ.get("DCCX_HELPER") or PYTHON.parent / "docker-credential-convox")
MOTO_PATCHED = BENCH_DIR / "moto_patched.py"

REGISTRY = "registry.example.com"
REGISTRY_USERNAME = "alice"
UNKNOWN_REGISTRY = "unknown.example.org"
NOT_FOUND = "credentials not found in native keychain"
REGISTRY_SECRET = "bench-Secret-0"  # noqa: S105 - a throw-away keyring's content
KEYRING_PASSWORD = "bench-keyring-password"  # noqa: S105
ECR_ACCOUNT = "123456789012"
ECR_REGION = "us-east-1"
ECR_HOST = f"{ECR_ACCOUNT}.dkr.ecr.{ECR_REGION}.amazonaws.com"
MOTO_PASSWORD = f"{ECR_ACCOUNT}-auth-token"  # moto's token is base64 "AWS:<account>-auth-token"
GO_CACHED_PASSWORD = "bench-go-cached-token"  # noqa: S105 - written into ecr-login's cache
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_DEFAULT_REGION": ECR_REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}
# PYTHON* too: a development shell's PYTHONDONTWRITEBYTECODE would leave stale bytecode stale, so
# that every run compiled the modules edited since; no user's install runs like that.
SCRUBBED_PREFIXES = ("AWS_", "DOCKER_", "XDG_", "PYTHON", "DBUS_", "REGISTRY_AUTH_FILE")
SCRUBBED = frozenset(
    {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"}
    | {"http_proxy", "https_proxy", "no_proxy", "all_proxy"}
)
KEYRING_APPID = "Python keyring library"  # on every item the keyring library files
SERVICE_PREFIX = "docker-credential-convox:"  # keychain.py files secrets under this + key
SESSION_COLLECTION = "/org/freedesktop/secrets/collection/session"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
SLOW_COMMAND = 0.5  # seconds: slower commands get fewer runs (at most SLOW_BUDGET s each)
SLOW_BUDGET = 20.0
# The item keyring's Secret Service backend reads, fetched with secretstorage alone.
SECRETSTORAGE_GET = f"""\
import secretstorage
connection = secretstorage.dbus_init()
collection = secretstorage.get_default_collection(connection)
query = {{"service": {SERVICE_PREFIX + REGISTRY!r}, "username": {REGISTRY_USERNAME!r}}}
print(next(collection.search_items(query)).get_secret().decode())
"""
LOOP = "i=0; while [ $i -lt {n} ]; do {cmd} > /dev/null & i=$((i+1)); done; wait"

# Issue 6's targets.
TARGETS = {
    "ecr-cached": ("cached ECR `get` ≤ 1.5× the Go helper's cached `get`", 1.5),  # noqa: RUF001
    "keyring": ("keyring `get` ≤ 1.15× Python + keyring fetching one secret", 1.15),  # noqa: RUF001
    "list": ("`list` with {n} registries ≤ 2× `list` with 1", 2.0),  # noqa: RUF001
    "ecr-cold": ("cold ECR `get` ≤ 1.2× Python + a boto3 client making the call", 1.2),  # noqa: RUF001
}


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def q(value: object) -> str:
    return shlex.quote(str(value))


def scrubbed_environ() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(SCRUBBED_PREFIXES) and key not in SCRUBBED
    }


def run(argv: Sequence[str], env: Mapping[str, str], stdin: str = "") -> str:
    """Run a command to completion; its stdout, or RuntimeError with what it said."""
    done = subprocess.run(
        list(argv), input=stdin, env=dict(env), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({done.returncode}): {done.stdout}{done.stderr}"
        )
    return done.stdout


# -- the processes this script starts ------------------------------------------------------


class Processes:
    """Every long-running process the bench starts; `stop_all` ends exactly those, newest first."""

    def __init__(self) -> None:
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def spawn(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Optional[Path]
    ) -> subprocess.Popen[bytes]:
        out = log_path.open("wb") if log_path else subprocess.DEVNULL
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C at the terminal reaches us, and we stop them
        )
        self.started.append((name, process))
        return process

    def stop_all(self) -> None:
        while self.started:
            name, process = self.started.pop()
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    log(f"{name} (pid {process.pid}) ignored SIGTERM; killing it")
                    process.kill()
                    process.wait(STOP_TIMEOUT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if ready():
            return
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} while starting")
        time.sleep(0.05)
    raise RuntimeError(f"{what} was not ready after {STARTUP_TIMEOUT:.0f} s")


def answers_http(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class SecretService:
    """A private session bus with gnome-keyring's Secret Service on it (the tests' recipe)."""

    def __init__(self, processes: Processes, root: Path) -> None:
        self.processes = processes
        self.root = root
        self.address = f"unix:path={root / 'bus'}"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        bus = self.processes.spawn(
            "dbus-daemon",
            ["dbus-daemon", "--session", f"--address={self.address}", "--nofork", "--nopidfile"],
            scrubbed_environ(),
            None,
        )
        wait_until("dbus-daemon", (self.root / "bus").exists, bus)
        home = self.root / "home"
        env = {
            **scrubbed_environ(),
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_RUNTIME_DIR": str(self.root),
            "DBUS_SESSION_BUS_ADDRESS": self.address,
        }
        argv = ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"]
        keyring = self.processes.spawn("gnome-keyring-daemon", argv, env, None)
        assert keyring.stdin is not None
        keyring.stdin.write(KEYRING_PASSWORD.encode())  # creates and unlocks `login`
        keyring.stdin.close()
        wait_until("gnome-keyring-daemon", self._owned, keyring)
        from secretstorage.defines import SS_PATH, SS_PREFIX
        from secretstorage.util import DBusAddressWrapper

        with self.connection() as connection:
            service = DBusAddressWrapper(SS_PATH, SS_PREFIX + "Service", connection)
            service.call("SetAlias", "so", "default", SESSION_COLLECTION)

    def _owned(self) -> bool:
        done = subprocess.run(
            [
                "dbus-send",
                f"--bus={self.address}",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        return "boolean true" in done.stdout

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        from jeepney.io.blocking import open_dbus_connection

        connection = open_dbus_connection(bus=self.address)
        try:
            yield connection
        finally:
            connection.close()

    def add_items(self, items: Sequence[tuple[str, dict[str, str], str]]) -> None:
        """(label, attributes, secret) items into the default collection, over one connection."""
        if not items:
            return
        import secretstorage

        with self.connection() as connection:
            collection = secretstorage.get_default_collection(connection)
            for label, attributes, secret in items:
                collection.create_item(label, attributes, secret.encode(), replace=False)


class Moto:
    """moto_server (plain HTTP, for AWS_ENDPOINT_URL_ECR) and moto_proxy (HTTPS interception)."""

    def __init__(self, processes: Processes, root: Path) -> None:
        self.processes = processes
        self.root = root
        self.url = self.proxy_url = self.ca_bundle = ""

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        server_port, proxy_port = free_port(), free_port()
        server = self.processes.spawn(
            "moto_server",
            [str(PYTHON), str(MOTO_PATCHED), "server", "-H", "127.0.0.1", "-p", str(server_port)],
            scrubbed_environ(),
            self.root / "moto_server.log",
        )
        proxy = self.processes.spawn(
            "moto_proxy",
            [
                str(PYTHON),
                str(MOTO_PATCHED),
                "proxy",
                "--certdir",
                str(self.root / "certs"),
                "-H",
                "127.0.0.1",
                "-p",
                str(proxy_port),
            ],
            scrubbed_environ(),
            self.root / "moto_proxy.log",
        )
        self.url = f"http://127.0.0.1:{server_port}"
        self.proxy_url = f"http://127.0.0.1:{proxy_port}"
        wait_until("moto_server", lambda: answers_http(self.url + "/"), server)
        wait_until("moto_proxy", lambda: accepts_connections(proxy_port), proxy)
        from moto.moto_proxy.certificate_creator import CertificateCreator

        self.ca_bundle = CertificateCreator.cacert

    def proxied_token_requests(self) -> int:
        """How many ECR API requests moto_proxy has logged so far."""
        with contextlib.suppress(FileNotFoundError):
            return (self.root / "moto_proxy.log").read_text(errors="replace").count("api.ecr.")
        return 0


# -- timing --------------------------------------------------------------------------------


@dataclass
class Command:
    """A command to time: the shell line, its environment, a prepare step, what it prints."""

    name: str
    line: str
    env: dict[str, str]
    prepare: Optional[str] = None
    expect: Optional[str] = None  # stdout must contain this when it is run once before timing
    runs: Optional[int] = None


@dataclass
class Stats:
    """One command's timed runs, in seconds."""

    name: str
    line: str
    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def to_json(self) -> dict[str, object]:
        return {
            "command": self.line,
            "runs": len(self.times),
            "median": self.median,
            "mean": statistics.fmean(self.times),
            "stddev": statistics.stdev(self.times) if len(self.times) > 1 else 0.0,
            "min": min(self.times),
            "max": max(self.times),
            "times": self.times,
        }


class Timer:
    """hyperfine in alternating rounds, or a plain subprocess loop when hyperfine is missing."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.runs: int = args.runs
        self.warmup: int = args.warmup
        self.rounds: int = args.rounds
        self.json_dir: Path = args.json_dir
        self.verbose = not args.quiet
        self.hyperfine = shutil.which("hyperfine")
        self.results: dict[str, Stats] = {}

    @property
    def description(self) -> str:
        if self.hyperfine:
            version = subprocess.run(
                [self.hyperfine, "--version"], capture_output=True, text=True, check=False
            ).stdout.split()
            return f"hyperfine {version[-1] if version else '?'}"
        return "a plain timer (hyperfine missing: `WITH_BENCH=1 scripts/install-system-deps.sh`)"

    def group(self, commands: Sequence[Command], rounds: Optional[int] = None) -> list[Stats]:
        """Time `commands` in alternating rounds; one Stats each, in order."""
        plans = []
        for command in commands:
            took = check_once(command)
            runs = command.runs or self.runs
            if took > SLOW_COMMAND:
                runs = max(3, min(runs, int(SLOW_BUDGET / took)))
            plans.append((command, runs))
        count = max(1, min(rounds or self.rounds, *(runs for _, runs in plans)))
        times: dict[str, list[float]] = {command.name: [] for command in commands}
        for index in range(count):
            for command, runs in plans:
                share = runs // count + (1 if index < runs % count else 0)
                warmup = self.warmup if index == 0 else min(self.warmup, 1)
                times[command.name] += self._time(command, share, warmup, index)
        stats = []
        for command, _ in plans:
            result = Stats(command.name, command.line, times[command.name])
            self.results[command.name] = result
            log(f"{command.name}: median {ms(result.median)} ({len(result.times)} runs)")
            stats.append(result)
        return stats

    def one(self, command: Command) -> Stats:
        return self.group([command])[0]

    def _time(self, command: Command, runs: int, warmup: int, index: int) -> list[float]:
        if runs <= 0:
            return []
        if not self.hyperfine:
            return self._plain(command, runs, warmup)
        raw = self.json_dir / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        export = raw / f"{slug(command.name)}-round{index + 1}.json"
        argv = [self.hyperfine, "--runs", str(runs), "--warmup", str(warmup)]
        argv += ["--export-json", str(export), "--style", "basic" if self.verbose else "none"]
        argv += ["--command-name", command.name]
        if command.prepare:
            argv += ["--prepare", command.prepare]
        argv.append(command.line)
        done = subprocess.run(
            argv,
            env=command.env,
            stdout=None if self.verbose else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"hyperfine failed on {command.name}: {done.stderr.strip()}")
        return [float(t) for t in json.loads(export.read_text())["results"][0]["times"]]

    @staticmethod
    def _plain(command: Command, runs: int, warmup: int) -> list[float]:
        times = []
        for index in range(warmup + runs):
            if command.prepare:
                subprocess.run(["sh", "-c", command.prepare], env=command.env, check=True)
            started = time.perf_counter()
            subprocess.run(
                ["sh", "-c", command.line],
                env=command.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            if index >= warmup:
                times.append(time.perf_counter() - started)
        return times

    def write_summary(self) -> None:
        self.json_dir.mkdir(parents=True, exist_ok=True)
        summary = {name: stats.to_json() for name, stats in self.results.items()}
        (self.json_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def check_once(command: Command) -> float:
    """Run `command` once after its prepare step; it must succeed and print what is expected."""
    if command.prepare:
        subprocess.run(["sh", "-c", command.prepare], env=command.env, check=True)
    started = time.perf_counter()
    done = subprocess.run(
        ["sh", "-c", command.line],
        env=command.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    took = time.perf_counter() - started
    if done.returncode != 0 or (command.expect and command.expect not in done.stdout):
        raise RuntimeError(
            f"{command.name}: `{command.line}` exited {done.returncode}; "
            f"stdout {done.stdout.strip()[:400]!r}; stderr {done.stderr.strip()[:400]!r}"
        )
    return took


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def ms(seconds: Optional[float]) -> str:
    if seconds is None:
        return "—"
    value = seconds * 1000
    return (
        f"{value:.0f} ms"
        if value >= 100
        else f"{value:.1f} ms"
        if value >= 10
        else f"{value:.2f} ms"
    )


def ratio(numerator: Optional[Stats], denominator: Optional[Stats]) -> Optional[float]:
    if numerator is None or denominator is None or denominator.median <= 0:
        return None
    return numerator.median / denominator.median


def times(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.2f}×"  # noqa: RUF001


# -- what is measured ----------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    ours: Stats
    go: Optional[Stats] = None
    go_label: str = ""  # which Go helper; empty when there is none to compare with
    floor: Optional[Stats] = None
    floor_label: str = ""


def synthetic_registry(i: int) -> str:
    return f"registry-{i:04d}.example.com"


def synthetic_username(i: int) -> str:
    return f"user-{i:04d}"


class Bench:
    """Starts the services, seeds the stores, times the commands, writes the report."""

    IMPORTS = (
        ("docker_credential_convox.cli", "our start-up: `version`, the first step of every action"),
        ("docker_credential_convox.backends.ecr", "our ECR path up to the token cache read"),
        ("keyring", "the keyring library (`keyring.core` and what it imports)"),
        ("keyring.backends.SecretService", "keyring's Secret Service backend and secretstorage"),
        ("botocore.session", "botocore, as the helper imports it to mint a token"),
        ("boto3", "boto3 (botocore plus its own layer)"),
        ("cachetools", "cachetools (the in-process token cache)"),
    )

    def __init__(self, args: argparse.Namespace, root: Path, processes: Processes) -> None:
        self.args = args
        self.root = root
        self.timer = Timer(args)
        self.quick: bool = args.quick
        self.sizes: tuple[int, ...] = (1, 10) if args.quick else (1, 100, 1000)
        self.concurrency: int = 4 if args.quick else args.concurrency
        self.concurrent_runs: int = min(args.runs, 4) if args.quick else args.concurrent_runs
        self.go_secretservice = shutil.which("docker-credential-secretservice")
        self.go_ecr_login = shutil.which("docker-credential-ecr-login")
        self.secrets = SecretService(processes, root / "secret-service")
        self.moto = Moto(processes, root / "moto")
        self.rows: list[Row] = []
        self.installed_rows: list[Row] = []
        self.floors: list[tuple[str, Stats, str]] = []
        self.imports: list[tuple[str, Stats, str]] = []
        self.verdicts: list[tuple[str, str, Optional[bool]]] = []
        self.importtime: dict[str, list[tuple[str, float]]] = {}
        self.minted = self.minted_proxied = "?"
        self.secretstorage_floor: Optional[Stats] = None
        self.ours_items = self.go_items = 0
        self.load = [os.getloadavg()[0]]

    # -- environments and commands --------------------------------------------------------

    def home(self, name: str, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
        """A HOME of its own with XDG dirs, fake AWS keys, empty AWS config files, our bus."""
        home = self.root / "homes" / name
        aws = home / ".aws"
        aws.mkdir(parents=True, exist_ok=True)
        (aws / "config").touch()
        (aws / "credentials").touch()
        return {
            **scrubbed_environ(),
            **FAKE_AWS,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "DOCKER_CONFIG": str(home / ".docker"),
            "AWS_CONFIG_FILE": str(aws / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
            "DBUS_SESSION_BUS_ADDRESS": self.secrets.address,
            **(extra or {}),
        }

    @staticmethod
    def settings(env: Mapping[str, str]) -> Any:
        from docker_credential_convox.settings import Settings

        return Settings(env)

    def stdin(self, text: str) -> Path:
        path = self.root / "stdin" / f"{slug(text)}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    @staticmethod
    def helper(action: str, stdin: Optional[Path] = None, helper: Path = HELPER) -> str:
        return f"{q(helper)} {action} < {q(stdin) if stdin else '/dev/null'}"

    @staticmethod
    def python(code: str, python: Path = PYTHON) -> str:
        return f"{q(python)} -c {q(code)}"

    def floor(self, label: str, stats: Stats, what: str) -> Stats:
        self.floors.append((label, stats, what))
        return stats

    # -- the run --------------------------------------------------------------------------

    def run_all(self) -> None:
        log(f"working in {self.root}")
        # Fresh bytecode for our package, as an install has (pip and py3compile compile it).
        import docker_credential_convox

        package = Path(docker_credential_convox.__file__).parent
        subprocess.run([str(PYTHON), "-m", "compileall", "-q", str(package)], check=True)
        self.secrets.start()
        self.moto.start()
        log(
            f"Secret Service at {self.secrets.address}; moto {self.moto.url}, {self.moto.proxy_url}"
        )
        self.startup()
        self.keyring_get()
        self.ecr_cold()
        self.ecr_cached()
        self.ecr_proxied()
        self.ecr_concurrent()
        self.lists()
        self.installed_layout()
        self.profile()
        self.load.append(os.getloadavg()[0])
        self.timer.write_summary()

    def startup(self) -> None:
        env = self.home("startup")
        commands = [
            Command("python -c pass", self.python("pass"), env),
            Command("python -S -c pass", f"{q(PYTHON)} -S -c pass", env),
            Command("convox version", self.helper("version"), env, expect="convox"),
        ]
        if self.go_secretservice:
            commands.append(
                Command("secretservice version", f"{q(self.go_secretservice)} version", env)
            )
        commands += [
            Command(f"import {module}", self.python(f"import {module}"), env)
            for module, _ in self.IMPORTS
        ]
        stats = self.timer.group(commands)
        by_name = {s.name: s for s in stats}
        self.pass_floor = self.floor(
            "`python -c pass`",
            by_name["python -c pass"],
            "the venv's interpreter with its site-packages (.pth files run)",
        )
        self.floor(
            "`python -S -c pass`",
            by_name["python -S -c pass"],
            "the interpreter without `site`: no .pth files, no site-packages",
        )
        go = by_name.get("secretservice version")
        self.rows.append(
            Row(
                "`version`",
                by_name["convox version"],
                go,
                "secretservice",
                self.pass_floor,
                "`python -c pass`",
            )
        )
        for module, what in self.IMPORTS:
            self.imports.append((f"`import {module}`", by_name[f"import {module}"], what))

    def keyring_get(self) -> None:
        env = self.home("keyring")
        credentials = json.dumps(
            {"ServerURL": REGISTRY, "Username": REGISTRY_USERNAME, "Secret": REGISTRY_SECRET}
        )
        run([str(HELPER), "store"], env, credentials)  # discovers the backend and pins it
        stdin = self.stdin(REGISTRY)
        floor_code = (
            "import keyring\n"
            "from keyring.backends.SecretService import Keyring\n"
            f"print(Keyring().get_password({SERVICE_PREFIX + REGISTRY!r}, {REGISTRY_USERNAME!r}))"
        )
        commands = [
            Command("convox get (keyring)", self.helper("get", stdin), env, expect=REGISTRY_SECRET),
            Command("keyring floor", self.python(floor_code), env, expect=REGISTRY_SECRET),
            Command(
                "secretstorage floor", self.python(SECRETSTORAGE_GET), env, expect=REGISTRY_SECRET
            ),
        ]
        # podman runs every helper of registries.conf's `credential-helpers` on every pull:
        # `get` of a registry the helper does not know must stay cheap. Exit 1 is its answer.
        unknown = self.stdin(UNKNOWN_REGISTRY)
        commands.append(
            Command(
                "convox get (not stored)",
                f"{self.helper('get', unknown)}; [ $? -eq 1 ]",
                env,
                expect=NOT_FOUND,
            )
        )
        # Its floor, timed in the same rounds: a Python process that does nothing at all.
        commands.append(Command("python -c pass (beside not stored)", self.python("pass"), env))
        if self.go_secretservice:
            run([self.go_secretservice, "store"], env, credentials)
            line = f"{q(self.go_secretservice)} get < {q(stdin)}"
            commands.append(Command("secretservice get", line, env, expect=REGISTRY_SECRET))
            line = f"{q(self.go_secretservice)} get < {q(unknown)}; [ $? -eq 1 ]"
            commands.append(Command("secretservice get (not stored)", line, env, expect=NOT_FOUND))
        ours, floor, secretstorage, not_stored, bare_python, *go = self.timer.group(commands)
        self.keyring_floor = self.floor(
            "Python + keyring `get_password()`",
            floor,
            "`import keyring`, then `keyring.backends.SecretService.Keyring().get_password()`: "
            "the backend class loaded directly, no entry-point discovery",
        )
        self.secretstorage_floor = self.floor(
            "Python + secretstorage, no keyring",
            secretstorage,
            "the same item read with secretstorage alone (what keyring's backend calls): the "
            "least a Secret Service `get` costs in Python without the keyring library",
        )
        self.rows.append(
            Row(
                "`get`, keyring registry",
                ours,
                go[0] if go else None,
                "secretservice",
                floor,
                "Python + keyring",
            )
        )
        self.verdict("keyring", TARGETS["keyring"][0], ours, floor)
        self.rows.append(
            Row(
                "`get`, registry not stored (podman asks every helper)",
                not_stored,
                go[1] if go else None,
                "secretservice",
                bare_python,
                "`python -c pass`",
            )
        )

    def ecr_envs(self) -> tuple[dict[str, str], dict[str, str]]:
        direct = self.home("ecr-direct", {"AWS_ENDPOINT_URL_ECR": self.moto.url})
        proxied = self.home(
            "ecr-proxy", {"HTTPS_PROXY": self.moto.proxy_url, "AWS_CA_BUNDLE": self.moto.ca_bundle}
        )
        return direct, proxied

    def ecr_cold(self) -> None:
        direct, _ = self.ecr_envs()
        cache = self.settings(direct).token_cache_path
        stdin = self.stdin(ECR_HOST)
        call = (
            "('ecr', region_name='us-east-1', endpoint_url=os.environ['AWS_ENDPOINT_URL_ECR'])\n"
            "print(client.get_authorization_token()['authorizationData'][0]['authorizationToken'])"
        )
        ours, boto3_floor, botocore_floor = self.timer.group(
            [
                Command(
                    "convox get (ECR, cold)",
                    self.helper("get", stdin),
                    direct,
                    prepare=f"rm -f {q(cache)}",
                    expect=MOTO_PASSWORD,
                ),
                Command(
                    "boto3 floor",
                    self.python("import os, boto3\nclient = boto3.client" + call),
                    direct,
                    expect="QVdT",
                ),
                Command(
                    "botocore floor",
                    self.python(
                        "import os, botocore.session\n"
                        "client = botocore.session.Session().create_client" + call
                    ),
                    direct,
                    expect="QVdT",
                ),
            ]
        )
        self.floor(
            "Python + boto3 client + `get_authorization_token()`",
            boto3_floor,
            "what a cold `get` cannot avoid: boto3 imported, an ECR client created, one call",
        )
        self.floor(
            "Python + botocore client + `get_authorization_token()`",
            botocore_floor,
            "the same with botocore alone, which is what the helper uses",
        )
        self.rows.append(
            Row(
                "`get`, ECR, cold cache",
                ours,
                None,
                "",
                boto3_floor,
                "Python + boto3 call",
            )
        )
        self.verdict("ecr-cold", TARGETS["ecr-cold"][0], ours, boto3_floor)

    def ecr_cached(self) -> None:
        direct, _ = self.ecr_envs()
        cache = self.settings(direct).token_cache_path
        stdin = self.stdin(ECR_HOST)
        run([str(HELPER), "get"], direct, ECR_HOST)  # one real mint fills the cache
        self.require_cache_hit(HELPER, direct)
        commands = [
            Command(
                "convox get (ECR, cached)", self.helper("get", stdin), direct, None, MOTO_PASSWORD
            ),
            Command(
                "cache-read floor", self.python(f"import json\njson.load(open({cache!r}))"), direct
            ),
            Command("bare interpreter", f"{q(PYTHON)} -S -c pass", direct),
        ]
        if self.go_ecr_login:
            env = self.go_env()
            write_go_ecr_cache(Path(env["AWS_ECR_CACHE_DIR"]), ECR_REGION, ECR_ACCOUNT)
            # The proxy is a closed port: nothing but the cache can answer.
            env["HTTPS_PROXY"] = f"http://127.0.0.1:{free_port()}"
            line = f"{q(self.go_ecr_login)} get < {q(stdin)}"
            commands.append(Command("ecr-login get (cached)", line, env, None, GO_CACHED_PASSWORD))
        ours, floor, self.bare, *go = self.timer.group(commands)
        self.cache_floor = self.floor(
            "Python + `json.load()` of the token cache",
            floor,
            "what a cached `get` cannot avoid: the interpreter, `import json`, one read",
        )
        self.go_cached = go[0] if go else None
        self.cached_stats = ours
        self.rows.append(
            Row(
                "`get`, ECR, token cached",
                ours,
                self.go_cached,
                "ecr-login",
                floor,
                "Python + json read",
            )
        )
        self.verdict("ecr-cached", TARGETS["ecr-cached"][0], ours, self.go_cached)

    def go_env(self) -> dict[str, str]:
        env = self.home(
            "go-ecr", {"HTTPS_PROXY": self.moto.proxy_url, "AWS_CA_BUNDLE": self.moto.ca_bundle}
        )
        env["AWS_ECR_CACHE_DIR"] = str(Path(env["HOME"]) / "ecr-cache")
        return env

    def require_cache_hit(self, helper: Path, env: Mapping[str, str]) -> None:
        done = subprocess.run(
            [str(helper), "get"],
            input=ECR_HOST,
            env={**env, "DOCKER_CREDENTIAL_CONVOX_DEBUG": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or "cache hit" not in done.stderr:
            raise RuntimeError(f"an ECR get meant to hit the token cache did not: {done.stderr}")

    def ecr_proxied(self) -> None:
        _, proxied = self.ecr_envs()
        stdin = self.stdin(ECR_HOST)
        cache = self.settings(proxied).token_cache_path
        commands = [
            Command(
                "convox get (ECR, cold, moto_proxy)",
                self.helper("get", stdin),
                proxied,
                prepare=f"rm -f {q(cache)}",
                expect=MOTO_PASSWORD,
            )
        ]
        if self.go_ecr_login:
            env = self.go_env()
            go_cache = Path(env["AWS_ECR_CACHE_DIR"]) / "cache.json"
            commands.append(
                Command(
                    "ecr-login get (cold, moto_proxy)",
                    f"{q(self.go_ecr_login)} get < {q(stdin)}",
                    env,
                    prepare=f"rm -f {q(go_cache)}",
                    expect=MOTO_PASSWORD,
                )
            )
        before = self.moto.proxied_token_requests()
        ours, *go = self.timer.group(commands)
        # Every timed run went through moto_proxy, or it was not a cold get.
        made = self.moto.proxied_token_requests() - before
        timed = len(ours.times) + sum(len(g.times) for g in go)
        if made < timed:
            raise RuntimeError(f"moto_proxy saw {made} token requests for {timed} cold runs")
        self.rows.append(
            Row(
                "`get`, ECR, cold cache, HTTPS through moto_proxy",
                ours,
                go[0] if go else None,
                "ecr-login",
            )
        )

    def ecr_concurrent(self) -> None:
        direct, proxied = self.ecr_envs()
        stdin = self.stdin(ECR_HOST)
        n = self.concurrency
        self.minted = self.start_at_once(direct, n)
        self.minted_proxied = self.start_at_once(proxied, n)
        ours = self.timer.one(
            Command(
                f"convox {n}x get (ECR, cold)",
                LOOP.format(n=n, cmd=self.helper("get", stdin)),
                direct,
                prepare=f"rm -f {q(self.settings(direct).token_cache_path)}",
                runs=self.concurrent_runs,
            )
        )
        self.rows.append(Row(f"{n} concurrent `get`s, ECR, cold cache, wall time", ours))
        commands = [
            Command(
                f"convox {n}x get (ECR, cold, moto_proxy)",
                LOOP.format(n=n, cmd=self.helper("get", stdin)),
                proxied,
                prepare=f"rm -f {q(self.settings(proxied).token_cache_path)}",
                runs=self.concurrent_runs,
            )
        ]
        if self.go_ecr_login:
            env = self.go_env()
            line = LOOP.format(n=n, cmd=f"{q(self.go_ecr_login)} get < {q(stdin)}")
            go_cache = Path(env["AWS_ECR_CACHE_DIR"]) / "cache.json"
            commands.append(
                Command(
                    f"ecr-login {n}x get (cold, moto_proxy)",
                    line,
                    env,
                    prepare=f"rm -f {q(go_cache)}",
                    runs=self.concurrent_runs,
                )
            )
        ours, *go = self.timer.group(commands, rounds=3)
        self.rows.append(
            Row(
                f"{n} concurrent `get`s, ECR, cold cache, through moto_proxy, wall time",
                ours,
                go[0] if go else None,
                "ecr-login",
            )
        )
        # The same start with the token cached: what is left is start-up on this many cores.
        self.require_cache_hit(HELPER, direct)
        commands = [
            Command(
                f"convox {n}x get (ECR, cached)",
                LOOP.format(n=n, cmd=self.helper("get", stdin)),
                direct,
                runs=self.concurrent_runs,
            )
        ]
        if self.go_ecr_login:
            env = self.go_env()
            write_go_ecr_cache(Path(env["AWS_ECR_CACHE_DIR"]), ECR_REGION, ECR_ACCOUNT)
            env["HTTPS_PROXY"] = f"http://127.0.0.1:{free_port()}"  # the cache alone answers
            line = LOOP.format(n=n, cmd=f"{q(self.go_ecr_login)} get < {q(stdin)}")
            commands.append(
                Command(f"ecr-login {n}x get (cached)", line, env, runs=self.concurrent_runs)
            )
        ours, *go = self.timer.group(commands, rounds=3)
        self.rows.append(
            Row(
                f"{n} concurrent `get`s, ECR, token cached, wall time",
                ours,
                go[0] if go else None,
                "ecr-login",
            )
        )

    def start_at_once(self, env: Mapping[str, str], n: int) -> str:
        """n cold gets started together; all must succeed. Returns how many minted a token."""
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.settings(env).token_cache_path)
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

    # -- list, and get with many stored --------------------------------------------------

    def seed_ours(self, total: int) -> None:
        """Secrets for our synthetic registries, filed as the keyring library files them."""
        items = []
        for i in range(self.ours_items + 1, total):
            service = SERVICE_PREFIX + synthetic_registry(i)
            user = synthetic_username(i)
            attributes = {"service": service, "username": user, "application": KEYRING_APPID}
            items.append((f"Password for '{user}' on '{service}'", attributes, f"secret-{i}"))
        self.secrets.add_items(items)
        self.ours_items = max(self.ours_items, total - 1)

    def seed_go(self, total: int) -> None:
        """Registries as docker-credential-secretservice stores them."""
        items = []
        for i in range(self.go_items + 1, total):
            server = synthetic_registry(i)
            attributes = {
                "xdg:schema": "io.docker.Credentials",
                "label": "Docker Credentials",
                "server": server,
                "username": synthetic_username(i),
                "docker_cli": "1",
            }
            items.append((server, attributes, f"secret-{i}"))
        self.secrets.add_items(items)
        self.go_items = max(self.go_items, total - 1)

    def index_home(self, size: int) -> dict[str, str]:
        """A home whose registry index lists `size` registries: ours first, then synthetic."""
        from docker_credential_convox.registry_index import FORMAT_VERSION, Entry
        from docker_credential_convox.servers import parse_server

        env = self.home(f"stored-{size}")
        entries = {}
        for i in range(size):
            url = REGISTRY if i == 0 else synthetic_registry(i)
            key = parse_server(url).key
            user = REGISTRY_USERNAME if i == 0 else synthetic_username(i)
            entries[key] = Entry(key, url, user)  # a stored login
        document = {
            "version": FORMAT_VERSION,
            "registries": {key: entries[key].to_json() for key in sorted(entries)},
        }
        index = Path(self.settings(env).index_path)
        index.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        index.write_text(json.dumps(document, indent=2) + "\n")
        index.chmod(0o600)
        listed = json.loads(run([str(HELPER), "list"], env))
        if len(listed) != size:
            raise RuntimeError(f"`list` with {size} registries in the index printed {len(listed)}")
        return env

    def lists(self) -> None:
        biggest = self.sizes[-1]
        self.seed_ours(biggest)  # every "N stored" has N of our secrets in the keyring
        envs = {size: self.index_home(size) for size in self.sizes}
        commands = []
        for size, env in envs.items():
            index = self.settings(env).index_path
            commands.append(
                Command(f"convox list ({size})", self.helper("list"), env, None, REGISTRY)
            )
            commands.append(
                Command(
                    f"index-read floor ({size})",
                    self.python(f"import json\njson.load(open({index!r}))"),
                    env,
                )
            )
        stats = iter(self.timer.group(commands))
        ours_by_size = {}
        for size in self.sizes:
            ours, floor = next(stats), next(stats)
            ours_by_size[size] = ours
            self.floor(
                f"Python + `json.load()` of a {size:,}-registry index",
                floor,
                "the least a `list` can cost: the interpreter, `import json`, one read",
            )
            go = None
            if self.go_secretservice:
                self.seed_go(size)  # Go's list reads every item: time it with exactly `size`
                go = self.timer.one(
                    Command(
                        f"secretservice list ({size})",
                        f"{q(self.go_secretservice)} list < /dev/null",
                        envs[size],
                        expect=REGISTRY,
                    )
                )
            noun = "registry" if size == 1 else "registries"
            self.rows.append(
                Row(
                    f"`list`, {size:,} {noun} stored",
                    ours,
                    go,
                    "secretservice",
                    floor,
                    "Python + json read",
                )
            )
        description = TARGETS["list"][0].format(n=f"{biggest:,}")
        self.verdict("list", description, ours_by_size[biggest], ours_by_size[1])

        env, stdin = envs[biggest], self.stdin(REGISTRY)
        commands = [
            Command(
                f"convox get (keyring, {biggest} stored)",
                self.helper("get", stdin),
                env,
                expect=REGISTRY_SECRET,
            )
        ]
        if self.go_secretservice:
            line = f"{q(self.go_secretservice)} get < {q(stdin)}"
            commands.append(
                Command(f"secretservice get ({biggest} stored)", line, env, None, REGISTRY_SECRET)
            )
        ours_get, *go_get = self.timer.group(commands)
        self.rows.append(
            Row(
                f"`get`, keyring registry, {biggest:,} stored",
                ours_get,
                go_get[0] if go_get else None,
                "secretservice",
                self.keyring_floor,
                "Python + keyring",
            )
        )

    # -- the helper as installed, without the development venv's editable-install hook ----

    def installed_layout(self) -> None:
        """Time the hot paths again in a venv laid out like a regular (non-editable) install.

        `pip install -e` leaves a .pth hook in .venv that runs on every interpreter start-up
        (pathlib, re, urllib.parse and importlib.util imported for it); a user's install has
        none. This venv uses the same interpreter and the same libraries (.venv's site-packages
        on its path), our package as a plain directory, and the console script pip writes.
        """
        python, helper = make_installed_layout(self.root / "installed")
        direct, _ = self.ecr_envs()
        run([str(helper), "get"], direct, ECR_HOST)
        self.require_cache_hit(helper, direct)
        keyring_env = self.home("keyring")
        cache = self.settings(direct).token_cache_path
        keyring_code = (
            "import keyring\n"
            "from keyring.backends.SecretService import Keyring\n"
            f"print(Keyring().get_password({SERVICE_PREFIX + REGISTRY!r}, {REGISTRY_USERNAME!r}))"
        )
        commands = [
            Command("installed: python -c pass", self.python("pass", python), direct),
            Command(
                "installed: convox version",
                self.helper("version", None, helper),
                direct,
                None,
                "convox",
            ),
            Command(
                "installed: convox get (ECR, cached)",
                self.helper("get", self.stdin(ECR_HOST), helper),
                direct,
                expect=MOTO_PASSWORD,
            ),
            Command(
                "installed: convox get (keyring)",
                self.helper("get", self.stdin(REGISTRY), helper),
                keyring_env,
                expect=REGISTRY_SECRET,
            ),
            Command(
                "installed: cache-read floor",
                self.python(f"import json\njson.load(open({cache!r}))", python),
                direct,
            ),
            Command(
                "installed: keyring floor",
                self.python(keyring_code, python),
                keyring_env,
                expect=REGISTRY_SECRET,
            ),
        ]
        passing, version, cached, keyring, cache_floor, keyring_floor = self.timer.group(commands)
        self.floor(
            "`python -c pass`, installed layout",
            passing,
            "the same interpreter in a venv without the editable-install hook",
        )
        self.installed_cached, self.installed_cache_floor = cached, cache_floor
        self.installed_rows = [
            Row("`version`", version, None, "", passing, "`python -c pass`"),
            Row(
                "`get`, ECR, token cached",
                cached,
                self.go_cached,
                "ecr-login",
                cache_floor,
                "Python + json read",
            ),
            Row(
                "`get`, keyring registry",
                keyring,
                None,
                "",
                keyring_floor,
                "Python + keyring",
            ),
        ]
        self.verdict(
            "ecr-cached",
            TARGETS["ecr-cached"][0] + ", helper installed without the editable hook",
            cached,
            self.go_cached,
        )

    # -- where the time goes --------------------------------------------------------------

    def profile(self) -> None:
        """`python -X importtime` of each hot path: self time summed per top-level package."""
        direct, _ = self.ecr_envs()
        self.require_cache_hit(HELPER, direct)
        paths = {
            "`get`, keyring registry": (self.home("keyring"), "get", REGISTRY),
            "`get`, ECR, token cached": (direct, "get", ECR_HOST),
            f"`list`, {self.sizes[-1]:,} registries": (
                self.home(f"stored-{self.sizes[-1]}"),
                "list",
                "",
            ),
        }
        repeats = 1 if self.quick else 7
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
            self.importtime[label] = sorted(medians.items(), key=lambda item: -item[1])

    # -- the report -----------------------------------------------------------------------

    def verdict(self, key: str, description: str, ours: Stats, reference: Optional[Stats]) -> None:
        value = ratio(ours, reference)
        measured = f"{ms(ours.median)} vs {ms(reference.median if reference else None)}"
        met = None if value is None else value <= TARGETS[key][1]
        self.verdicts.append((description, f"{measured} = {times(value)}", met))

    def performance_section(self) -> str:
        """The README's Performance section: the headline rows of this run, in words."""
        rows = {row.scenario: row for row in self.rows}
        installed = {row.scenario: row for row in self.installed_rows}
        big, n = self.sizes[-1], self.concurrency
        cached, cold = rows["`get`, ECR, token cached"], rows["`get`, ECR, cold cache"]
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
            f"| `list`, 1 / {big:,} registries | {ms(list_one.ours.median)} / "
            f"{ms(list_big.ours.median)} | {ms(list_one.go.median if list_one.go else None)} / "
            f"{ms(list_big.go.median if list_big.go else None)} (secretservice) | — |",
            f"| {n} `get`s at once, cold cache, HTTPS | {ms(many.ours.median)}, "
            f"{self.minted_proxied.split()[0]} minted | "
            f"{go(many)}{f', {n} minted' if many.go else ''} | — |",
        ]
        bare = self.bare.median if self.bare else None
        text = [
            "## Performance",
            "",
            "Docker starts the helper once for every `get`, so what counts is a whole process. "
            "`make bench` times whole processes of this helper and of the Go helpers people "
            "would otherwise install (`docker-credential-ecr-login`, "
            "`docker-credential-secretservice`) side by side, against local stand-ins (moto, a "
            "private gnome-keyring), and writes [bench/RESULTS.md](bench/RESULTS.md) with every "
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
            "backend, the helper reads that item directly with secretstorage and skips keyring's "
            "own start-up (Python + secretstorage alone: "
            f"{ms(self.secretstorage_floor.median if self.secretstorage_floor else None)}).",
            f"- `list` reads one index file and never the keyring: {big:,} registries cost "
            f"{times(ratio(list_big.ours, list_one.ours))} one registry.",
            "",
            "Reproduce with `make bench` (a few minutes; it installs `hyperfine` and the Go "
            "helpers from Debian and runs loopback-only).",
            "",
        ]
        return "\n".join(text)

    def cpu_summary(self) -> str:
        values = dict(machine_and_versions(self, light=True))
        return f"{values['CPU']}, Python {platform.python_version()}"

    def out_of_reach(self) -> list[str]:
        """Why the cached-ECR target cannot be met by a Python process, and the next best."""
        if self.go_cached is None:
            return []
        bare = ratio(self.bare, self.go_cached)
        if bare is None or bare <= TARGETS["ecr-cached"][1]:
            return []
        return [
            "The cached-ECR target is out of reach for any Python process: in the same runs, "
            f"the bare interpreter (`python -S -c pass`: no `site`, no imports) took "
            f"{ms(self.bare.median)}, {times(bare)} the Go helper's whole cached `get` "
            f"({ms(self.go_cached.median)}). The next best is a cached `get` that costs little "
            "more than Python plus one `json.load()` of the cache file: "
            f"{times(ratio(self.cached_stats, self.cache_floor))} of it from the development "
            f"venv, {times(ratio(self.installed_cached, self.installed_cache_floor))} installed "
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
        now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        settings = (
            "quick settings (a smoke test, not a measurement)" if self.quick else "full settings"
        )
        lines = [
            "# Benchmarks",
            "",
            f"Written by `make bench` (`bench/run.py`, {settings}) on {now}. Whole processes, "
            f"timed with {self.timer.description}: {self.args.runs} runs per command "
            f"({self.concurrent_runs} for the concurrent rows, fewer for commands slower than "
            f"{SLOW_COMMAND} s), in up to {self.args.rounds} alternating rounds per group of "
            f"compared commands, after {self.args.warmup} discarded warm-up runs; **medians**.",
            "",
            "## Machine and versions",
            "",
            "| | |",
            "|---|---|",
        ]
        lines += [f"| {key} | {value} |" for key, value in machine_and_versions(self)]
        lines += [
            "",
            "## Results",
            "",
            *self.table(self.rows),
            "",
            "### The helper installed without the editable-install hook",
            "",
            "The development venv runs a `pip install -e` hook on every interpreter start-up; a "
            "user's install (wheel, .deb) has none. The same interpreter and libraries, laid out "
            "as a regular install:",
            "",
            *self.table(self.installed_rows),
            "",
            "## Targets (issue 6)",
            "",
            "| Target | Measured | Met |",
            "|---|---|---|",
        ]
        for description, measured, met in self.verdicts:
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
        for label, stats, what in self.floors + self.imports:
            over = stats.median - self.pass_floor.median
            shown = "—" if stats is self.pass_floor else f"{over * 1000:+.1f} ms"
            lines.append(f"| {label} | {ms(stats.median)} | {shown} | {what} |")
        lines += [
            "",
            "## Where a hot path's imports go",
            "",
            f"`python -X importtime` of one helper process (median of {1 if self.quick else 7} "
            "runs), self time summed per top-level package (`stdlib` for the standard library); "
            "packages under 0.5 ms left out.",
            "",
        ]
        for label, packages in self.importtime.items():
            total = sum(micros for _, micros in packages) / 1000
            shown = ", ".join(f"{p} {m / 1000:.1f}" for p, m in packages if m >= 500)
            lines.append(f"- {label}: {total:.1f} ms importing: {shown} (ms)")
        lines += ["", "## How it was measured", "", *self.method(), ""]
        return "\n".join(lines)

    def method(self) -> list[str]:
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
            "- AWS: moto_server and moto_proxy run through `bench/moto_patched.py`, which only "
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
            f"- Concurrent rows start {self.concurrency} `get` processes at once from one shell "
            "and wait for all of them. Before timing, the same start with debug output showed "
            f"{self.minted} of our processes minting a token; the others waited on the cache "
            "lock and read it. The Go helper has no such lock: each of its processes calls ECR. "
            "The token-cached concurrent row shows what start-up alone costs on this machine's "
            "cores.",
            "- Every command ran once before timing and its output was checked, so no error "
            "path was timed.",
        ]


def make_installed_layout(directory: Path) -> tuple[Path, Path]:
    """A venv sharing .venv's interpreter and libraries, with our package installed plainly.

    Returns its python and its docker-credential-convox script.
    """
    import docker_credential_convox

    subprocess.run([str(PYTHON), "-m", "venv", "--without-pip", str(directory)], check=True)
    python = directory / "bin" / "python"
    purelib = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], {}
        ).strip()
    )
    libraries = Path(sysconfig.get_paths()["purelib"])
    # A path line only adds the directory: .venv's own .pth files (the hook) are not run.
    (purelib / "00-libraries.pth").write_text(f"{libraries}\n")
    precedence = libraries / "distutils-precedence.pth"  # what a venv with setuptools has
    if precedence.exists():
        shutil.copy(precedence, purelib / precedence.name)
    package = Path(docker_credential_convox.__file__).parent
    (purelib / package.name).symlink_to(package, target_is_directory=True)
    script = directory / "bin" / "docker-credential-convox"
    script.write_text(
        f"#!{python}\n"
        "import sys\n"
        "from docker_credential_convox.cli import main\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n"
        "    sys.exit(main())\n"
    )
    script.chmod(0o755)
    return python, script


def write_go_ecr_cache(directory: Path, region: str, account: str) -> None:
    """A valid entry in docker-credential-ecr-login 0.6.0's cache file, `cache.json`.

    Format (ecr-login/cache/file.go, build.go, credentials.go in 0.6.0): {"Registries":
    {KEY: entry}, "Version": "1.0"} with KEY "<region>-<checksum(access key ID)>-<registry
    ID>", where the checksum is base64 of the key ID's bytes followed by the MD5 digest of
    nothing (Go's `md5.New().Sum(b)` appends the digest to b). An entry is used until half its
    lifetime, (ExpiresAt - RequestedAt) / 2, has passed.
    """
    key_id = FAKE_AWS["AWS_ACCESS_KEY_ID"].encode()
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


_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)")


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


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--runs", type=int, default=30, help="timed runs per command (default 30)")
    add("--warmup", type=int, default=3, help="discarded runs before the first round (3)")
    add("--rounds", type=int, default=10, help="alternating rounds per group of commands (10)")
    add("--concurrency", type=int, default=32, help="processes in the concurrent rows (32)")
    add("--concurrent-runs", type=int, default=6, help="timed runs of concurrent rows (6)")
    add("--quick", action="store_true", help="tiny settings for a smoke test (lists of 1 and 10)")
    add("--output", type=Path, default=BENCH_DIR / "RESULTS.md", help="the Markdown report")
    add(
        "--section",
        type=Path,
        default=BENCH_DIR / "README-performance.md",
        help="the README's Performance section, written from this run",
    )
    add("--json-dir", type=Path, default=BENCH_DIR / "work" / "json", help="hyperfine exports")
    add("--workdir", type=Path, help="where services keep their files (default: a temp dir)")
    add("--quiet", action="store_true", help="no hyperfine progress output")
    args = parser.parse_args(argv)
    if args.runs < 2 or args.warmup < 0 or args.rounds < 1:
        parser.error("--runs must be at least 2, --warmup at least 0, --rounds at least 1")
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
    processes = Processes()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind through `finally`
    try:
        bench = Bench(args, root, processes)
        bench.run_all()
        text = bench.report()
        section = bench.performance_section()
    finally:
        processes.stop_all()
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
