"""What `make bench` measures: the services it needs, the environments, one method a scenario.

`Bench` starts a Secret Service, moto_server and moto_proxy from `standins`, gives each command
a hermetic HOME of its own, and times each scenario (start-up, keyring `get`, ECR cold, cached,
through moto_proxy and concurrent, `list` with many registries, the installed layout, import
profiles) with `timing.Timer`, collecting rows, floors and verdicts for `report`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

from bench import forms
from bench.timing import Command, Stats, Timer, log, ms, ratio, slug, times
from standins.environment import FAKE_AWS_ENV, hermetic_env
from standins.moto_servers import MotoProcess, start_moto_proxy, start_moto_server
from standins.processes import free_loopback_port
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
GO_CACHED_PASSWORD = "bench-go-cached-token"  # noqa: S105 - written into ecr-login's cache
KEYRING_APPID = "Python keyring library"  # on every item the keyring library files
SERVICE_PREFIX = "docker-credential-convox:"  # keychain.py files secrets under this + key
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

    moto: MotoProcess
    moto_proxy: MotoProcess

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
        self.forms: list[forms.Form] = []
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
        bus = {"DBUS_SESSION_BUS_ADDRESS": self.secrets.address}
        return hermetic_env(home, {**bus, **(extra or {})})

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
        self.start_services()
        log(
            f"Secret Service at {self.secrets.address}; moto {self.moto.url}, {self.moto_proxy.url}"
        )
        self.startup()
        self.keyring_get()
        self.ecr_cold()
        self.ecr_cached()
        self.ecr_proxied()
        self.ecr_concurrent()
        self.lists()
        self.installed_layout()
        self.forms = forms.measure(self, self.installed)
        self.profile()
        self.load.append(os.getloadavg()[0])
        self.timer.write_summary()

    def start_services(self) -> None:
        """The Secret Service (seeded in memory), moto_server and moto_proxy; stopped on exit."""
        self.secrets.start()
        self.started.callback(self.secrets.stop)
        self.secrets.use_session_collection()
        self.moto = start_moto_server(self.root / "moto", expiring_tokens=True)
        self.started.callback(self.moto.stop)
        self.moto_proxy = start_moto_proxy(self.root / "moto")
        self.started.callback(self.moto_proxy.stop)

    def startup(self) -> None:
        env = self.home("startup")
        commands = [
            Command("python -c pass", self.python("pass"), env),
            Command("python -S -c pass", f"{q(PYTHON)} -S -c pass", env),
            Command("python -I -S -c pass", f"{q(PYTHON)} -I -S -c pass", env),
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
        self.floor(
            "`python -I -S -c pass`",
            by_name["python -I -S -c pass"],
            "the least a Python process costs: isolated, no `site` (issue 13's floor)",
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
            "ecr-proxy",
            {"HTTPS_PROXY": self.moto_proxy.url, "AWS_CA_BUNDLE": self.moto_proxy.ca_bundle},
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
            env["HTTPS_PROXY"] = f"http://127.0.0.1:{free_loopback_port()}"
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
            "go-ecr",
            {"HTTPS_PROXY": self.moto_proxy.url, "AWS_CA_BUNDLE": self.moto_proxy.ca_bundle},
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
        before = self.moto_proxy.proxied_token_requests()
        ours, *go = self.timer.group(commands)
        # Every timed run went through moto_proxy, or it was not a cold get.
        made = self.moto_proxy.proxied_token_requests() - before
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
            env["HTTPS_PROXY"] = (
                f"http://127.0.0.1:{free_loopback_port()}"  # the cache alone answers
            )
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
        python, helper = self.installed = make_installed_layout(self.root / "installed")
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

    def verdict(self, key: str, description: str, ours: Stats, reference: Optional[Stats]) -> None:
        value = ratio(ours, reference)
        measured = f"{ms(ours.median)} vs {ms(reference.median if reference else None)}"
        met = None if value is None else value <= TARGETS[key][1]
        self.verdicts.append((description, f"{measured} = {times(value)}", met))


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
    # What pip installs: the launcher (packaging/launchers/) and the console script beside it.
    site_script = directory / "bin" / "docker-credential-convox-site"
    site_script.write_text(
        f"#!{python}\n"
        "import sys\n"
        "from docker_credential_convox.cli import main\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n"
        "    sys.exit(main())\n"
    )
    site_script.chmod(0o755)
    script = directory / "bin" / "docker-credential-convox"
    shutil.copy(BENCH_DIR.parent / "packaging" / "launchers" / script.name, script)
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
