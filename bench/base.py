"""What every bench scenario shares: paths, names, the services, hermetic homes, the run's state.

`Bench` starts a Secret Service, moto_server and moto_proxy from `standins`, gives each command
a hermetic HOME of its own, and collects the rows, floors and verdicts that the scenarios (one
module a family, listed in `bench.scenarios`) time with `timing.Timer` and `report` renders.
This module imports no scenario module, so each of them (and bench.fleet, bench.kubelet) can
import it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from bench.timing import Stats, Timer, log, ms, ratio, slug, times
from standins.environment import FAKE_AWS_ENV, hermetic_env
from standins.moto_servers import MotoProcess, start_moto_proxy, start_moto_server
from standins.secret_service import SecretService

BENCH_DIR = Path(__file__).resolve().parent
PYTHON = Path(sys.executable)
HELPER = Path(os.environ.get("DCCX_HELPER") or PYTHON.parent / "docker-credential-convox")

REGISTRY = "registry.example.com"
REGISTRY_USERNAME = "alice"
UNKNOWN_REGISTRY = "unknown.example.org"
NOT_FOUND = "credentials not found in native keychain"
REGISTRY_SECRET = "bench-Secret-0"  # noqa: S105 - a throw-away keyring's content
ECR_ACCOUNT = "123456789012"
ECR_REGION = FAKE_AWS_ENV["AWS_DEFAULT_REGION"]
ECR_HOST = f"{ECR_ACCOUNT}.dkr.ecr.{ECR_REGION}.amazonaws.com"
MOTO_PASSWORD = f"{ECR_ACCOUNT}-auth-token"  # moto's token is base64 "AWS:<account>-auth-token"
SERVICE_PREFIX = "docker-credential-convox:"  # keychain.py files secrets under this + key
# What keyring's Secret Service backend does for a `get`, as the keyring floors run it.
KEYRING_GET = (
    "import keyring\n"
    "from keyring.backends.SecretService import Keyring\n"
    f"print(Keyring().get_password({SERVICE_PREFIX + REGISTRY!r}, {REGISTRY_USERNAME!r}))"
)

# Issue 6's targets.
TARGETS = {
    "ecr-cached": ("cached ECR `get` ≤ 1.5× the Go helper's cached `get`", 1.5),  # noqa: RUF001
    "keyring": ("keyring `get` ≤ 1.15× Python + keyring fetching one secret", 1.15),  # noqa: RUF001
    "list": ("`list` with {n} registries ≤ 2× `list` with 1", 2.0),  # noqa: RUF001
    "ecr-cold": ("cold ECR `get` ≤ 1.2× Python + a boto3 client making the call", 1.2),  # noqa: RUF001
}


def q(value: object) -> str:
    return shlex.quote(str(value))


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


def synthetic_registry(i: int) -> str:
    return f"registry-{i:04d}.example.com"


def synthetic_username(i: int) -> str:
    return f"user-{i:04d}"


@dataclass
class Row:
    scenario: str
    ours: Stats
    go: Optional[Stats] = None
    go_label: str = ""  # which Go helper; empty when there is none to compare with
    floor: Optional[Stats] = None
    floor_label: str = ""


@dataclass
class Form:
    """One install form (bench.forms) and its hot paths' timings."""

    name: str
    helper: Path
    python: Path
    path_first: Optional[Path] = None  # a directory put first on PATH (the single file's python3)
    floor: Optional[Stats] = None
    stats: dict[str, Stats] = field(default_factory=dict)
    go: Optional[Stats] = None


class Bench:
    """The services, the homes and the timer of one run, and what its scenarios measured."""

    moto: MotoProcess
    moto_proxy: MotoProcess
    # Set by the scenario that measures them, read by later scenarios and by the report.
    pass_floor: Stats  # startup
    keyring_floor: Stats  # secret_service.keyring_get
    bare: Stats  # ecr.ecr_cached
    cache_floor: Stats  # ecr.ecr_cached
    cached_stats: Stats  # ecr.ecr_cached
    installed_cached: Stats  # installed.installed_layout
    installed_cache_floor: Stats  # installed.installed_layout

    def __init__(self, args: argparse.Namespace, root: Path, started: contextlib.ExitStack) -> None:
        self.args = args
        self.root = root
        self.timer = Timer(args)
        self.quick: bool = args.quick
        self.sizes: tuple[int, ...] = (1, 10) if args.quick else (1, 100, 1000)
        self.concurrency: int = 4 if args.quick else args.concurrency
        self.concurrent_runs: int = min(args.runs, 4) if args.quick else args.concurrent_runs
        self.go_secretservice = shutil.which("docker-credential-secretservice")
        self.go_ecr_login = shutil.which("docker-credential-ecr-login")
        self.started = started
        self.secrets = SecretService(root / "secret-service")
        self.rows: list[Row] = []
        self.installed_rows: list[Row] = []
        self.installed: tuple[Path, Path] = (PYTHON, HELPER)
        self.forms: list[Form] = []
        self.floors: list[tuple[str, Stats, str]] = []
        self.imports: list[tuple[str, Stats, str]] = []
        self.verdicts: list[tuple[str, str, Optional[bool]]] = []
        self.importtime: dict[str, list[tuple[str, float]]] = {}
        self.minted = self.minted_proxied = "?"
        self.secretstorage_floor: Optional[Stats] = None
        self.go_cached: Optional[Stats] = None
        self.ours_items = self.go_items = 0
        self.load = [os.getloadavg()[0]]

    # -- the run's start and end ----------------------------------------------------------

    def start(self) -> None:
        """Fresh bytecode, then the Secret Service (seeded in memory), moto_server, moto_proxy."""
        log(f"working in {self.root}")
        # Fresh bytecode for our package, as an install has (pip and py3compile compile it).
        import docker_credential_convox

        package = Path(docker_credential_convox.__file__).parent
        subprocess.run([str(PYTHON), "-m", "compileall", "-q", str(package)], check=True)
        self.secrets.start()
        self.started.callback(self.secrets.stop)
        self.secrets.use_session_collection()
        self.moto = start_moto_server(self.root / "moto", expiring_tokens=True)
        self.started.callback(self.moto.stop)
        self.moto_proxy = start_moto_proxy(self.root / "moto")
        self.started.callback(self.moto_proxy.stop)
        log(
            f"Secret Service at {self.secrets.address}; moto {self.moto.url}, {self.moto_proxy.url}"
        )

    def finish(self) -> None:
        self.load.append(os.getloadavg()[0])
        self.timer.write_summary()

    # -- environments and commands --------------------------------------------------------

    def home(self, name: str, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
        """A HOME of its own with XDG dirs, fake AWS keys, empty AWS config files, our bus."""
        home = self.root / "homes" / name
        bus = {"DBUS_SESSION_BUS_ADDRESS": self.secrets.address}
        return hermetic_env(home, {**bus, **(extra or {})})

    def ecr_envs(self) -> tuple[dict[str, str], dict[str, str]]:
        """The homes of ECR `get`s straight to moto_server and through moto_proxy."""
        direct = self.home("ecr-direct", {"AWS_ENDPOINT_URL_ECR": self.moto.url})
        proxied = self.home(
            "ecr-proxy",
            {"HTTPS_PROXY": self.moto_proxy.url, "AWS_CA_BUNDLE": self.moto_proxy.ca_bundle},
        )
        return direct, proxied

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

    # -- what the scenarios found ---------------------------------------------------------

    def floor(self, label: str, stats: Stats, what: str) -> Stats:
        self.floors.append((label, stats, what))
        return stats

    def verdict(self, key: str, description: str, ours: Stats, reference: Optional[Stats]) -> None:
        value = ratio(ours, reference)
        measured = f"{ms(ours.median)} vs {ms(reference.median if reference else None)}"
        met = None if value is None else value <= TARGETS[key][1]
        self.verdicts.append((description, f"{measured} = {times(value)}", met))
