"""`python -m bench.compare --base REV`: the helper at REV beside this tree, on the hot paths.

Each hot path (a `get` of an unknown registry, of a cached ECR token and of a keyring login;
`list` of 1 and 200 entries; `version`; `erase` of an unknown registry) runs as a whole process
of each tree's own venv, in one hermetic home with a private Secret Service, measured three ways:
- instructions, from valgrind's callgrind (repeatable to a fraction of a percent on a busy
  machine, so this column decides "slower or not");
- CPU time (user + system) of `--processes` fresh processes, base and head alternating, median;
- wall time with hyperfine, base and head in alternating rounds (timing.Timer).
The modules each tree loads (`-X importtime`) are listed where they differ: that says why.

REV is checked out into a worktree of its own (`--base-dir`), and both trees are installed alike
into venvs of their own under TMPDIR, kept for the next run. Run it inside the loopback
namespace, from this tree's venv:

    scripts/isolated.sh .venv/bin/python -m bench.compare --base 5281035 --output bench/REDESIGN.md
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from bench.timing import Command, Timer, instructions, ms
from standins.environment import hermetic_env
from standins.secret_service import private_secret_service

ROOT = Path(__file__).resolve().parent.parent
EXE = "docker-credential-convox"
ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ECR_SECRET = "compare-cached-ecr-token"  # noqa: S105 - a stand-in token in a throwaway cache
KEYRING_HOST = "registry.compare.example"
KEYRING_SECRET = "compare-keyring-secret"  # noqa: S105 - a stand-in login in a private keyring
UNKNOWN = "unknown.example"
LIST_SIZES = (1, 200)
# name -> (action, stdin, home, what stdout must contain)
SCENARIOS = {
    "get, unknown registry": ("get", UNKNOWN, "empty", ""),
    "get, ECR token cached": ("get", ECR_HOST, "ecr", ECR_SECRET),
    "get, keyring login": ("get", KEYRING_HOST, "keyring", KEYRING_SECRET),
    "list, 1 entry": ("list", "", "list-1", "{"),
    "list, 200 entries": ("list", "", "list-200", "{"),
    "version": ("version", "", "empty", ""),
    "erase, unknown registry": ("erase", UNKNOWN, "empty", ""),
}


def base_executable(rev: str, directory: Path) -> Path:
    """The helper of `rev`, from a worktree of its own (made on first use) in a venv of its own."""
    if not (directory / "pyproject.toml").exists():
        git = ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(directory), rev]
        subprocess.run(git, check=True)
    return installed(directory, directory / ".venv")


def installed(tree: Path, venv: Path) -> Path:
    """The helper of `tree` installed (editable, without extras) in `venv`, made on first use.

    Base and head are installed alike: a venv holding the test extras starts measurably slower
    (more to scan in site-packages), which is no change of the helper's.
    """
    exe = venv / "bin" / EXE
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "-q", "-e", str(tree)]
        subprocess.run(pip, check=True)
    return exe


def seed_ecr_token(env: dict[str, str]) -> None:
    """A fresh token for ECR_HOST in the home's token cache, filed as this tree files it."""
    from docker_credential_convox import sources
    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.helper import Helper
    from docker_credential_convox.server_keys import parse_server
    from docker_credential_convox.settings import Settings
    from docker_credential_convox.sources.ecr import AwsSource
    from docker_credential_convox.tokencache import CachedToken

    helper = Helper(Settings(env), Diagnostics(io.StringIO()))
    server = parse_server(ECR_HOST)
    source = sources.from_entry(server.kind, None)
    assert isinstance(source, AwsSource)
    now = time.time()
    token = CachedToken(ECR_HOST, "AWS", ECR_SECRET, now, now + 12 * 3600)
    helper.ecr.fetching_cache().put(helper.ecr.cache_key(server, source), token)


def seed_index(env: dict[str, str], size: int) -> None:
    """A registry index of `size` stored logins (list reads the index alone)."""
    from docker_credential_convox.registry_index import FORMAT_VERSION, Entry
    from docker_credential_convox.settings import Settings

    entries = [Entry(f"r{i}.example.com", f"r{i}.example.com", f"user{i}") for i in range(size)]
    document = {"version": FORMAT_VERSION, "registries": {e.key: e.to_json() for e in entries}}
    index = Path(Settings(env).index_path)
    index.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    index.write_text(json.dumps(document, indent=1) + "\n")
    index.chmod(0o600)


def make_homes(root: Path, bus: dict[str, str], head: Path) -> dict[str, dict[str, str]]:
    """One hermetic home per kind of state, all on the private Secret Service's bus."""
    homes = {}
    for name in ("empty", "ecr", "keyring", *(f"list-{n}" for n in LIST_SIZES)):
        homes[name] = hermetic_env(root / name, {**bus, "PYTHONHASHSEED": "0"})
    seed_ecr_token(homes["ecr"])
    for size in LIST_SIZES:
        seed_index(homes[f"list-{size}"], size)
    login = {"ServerURL": KEYRING_HOST, "Username": "compare", "Secret": KEYRING_SECRET}
    run(head, "store", json.dumps(login), homes["keyring"])
    return homes


def run(exe: Path, action: str, stdin: str, env: dict[str, str]) -> str:
    """stdout of one helper process, which must succeed (or answer a `get` with not found)."""
    done = subprocess.run(
        [str(exe), action], input=stdin, capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0 and not (action == "get" and stdin == UNKNOWN):
        raise RuntimeError(f"{exe} {action} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def cpu_seconds(exe: Path, action: str, stdin: str, env: dict[str, str]) -> float:
    """User + system time of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [str(exe), action], input=stdin, capture_output=True, text=True, env=env, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def package_modules(exe: Path, action: str, stdin: str, env: dict[str, str]) -> set[str]:
    """The helper's own modules one process imports."""
    done = subprocess.run(
        [str(exe), action],
        input=stdin,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        check=False,
    )
    names = (line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if "|" in line)
    return {name for name in names if name.startswith("docker_credential_convox")}


def short(modules: set[str]) -> str:
    return ", ".join(sorted(m.replace("docker_credential_convox.", "") for m in modules)) or "—"


def compare(
    args: argparse.Namespace, base: Path, head: Path, homes: dict[str, dict[str, str]]
) -> str:
    """Every scenario measured on both trees; the markdown table and the module differences."""
    timer = Timer(args)
    rows, notes = [], []
    for name, (action, stdin, home, expect) in SCENARIOS.items():
        env = homes[home]
        for exe in (base, head):
            if expect not in run(exe, action, stdin, env):
                raise RuntimeError(f"{exe} {action}: stdout lacks {expect!r}")
        counts = [instructions([str(exe), action], stdin.encode(), env) for exe in (base, head)]
        cpu: dict[Path, list[float]] = {base: [], head: []}
        for i in range(args.processes):
            for exe in (base, head) if i % 2 else (head, base):
                cpu[exe].append(cpu_seconds(exe, action, stdin, env))
        stdin_file = Path(env["HOME"]) / f"stdin-{action}"
        stdin_file.write_text(stdin)
        line = f"{{}} {action} < {stdin_file}"
        if stdin == UNKNOWN and action == "get":
            line += " || true"  # not found exits 1, which hyperfine would take for a failure
        walls = timer.group(
            [
                Command(f"{label}: {name}", line.format(exe), env)
                for label, exe in (("base", base), ("head", head))
            ]
        )
        cpus = [statistics.median(cpu[exe]) for exe in (base, head)]
        rows.append(
            f"| {name} | {counts[0] / 1e6:.2f} M | {counts[1] / 1e6:.2f} M "
            f"| {counts[1] / counts[0] - 1:+.1%} | {ms(cpus[0])} | {ms(cpus[1])} "
            f"| {ms(walls[0].median)} | {ms(walls[1].median)} |"
        )
        loaded = [package_modules(exe, action, stdin, env) for exe in (base, head)]
        notes.append(
            f"- {name}: {len(loaded[0])} -> {len(loaded[1])} modules of the package; "
            f"base only: {short(loaded[0] - loaded[1])}; head only: {short(loaded[1] - loaded[0])}"
        )
    header = (
        "| hot path | base instructions | head instructions | change "
        "| base CPU | head CPU | base wall | head wall |\n|---|--:|--:|--:|--:|--:|--:|--:|"
    )
    return "\n".join([header, *rows, "", *notes]) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("--base", required=True, help="the revision to compare with")
    parser.add_argument("--base-dir", type=Path, help="its worktree (default: TMPDIR/compare-REV)")
    parser.add_argument("--processes", type=int, default=200, help="fresh processes for CPU time")
    parser.add_argument("--runs", type=int, default=30, help="hyperfine runs per command")
    parser.add_argument("--rounds", type=int, default=3, help="alternating hyperfine rounds")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--output", type=Path, help="write the table here (default: stdout)")
    args = parser.parse_args(argv)
    args.quiet = True
    base = base_executable(
        args.base, args.base_dir or Path(tempfile.gettempdir()) / f"compare-{args.base}"
    )
    head = installed(ROOT, Path(tempfile.gettempdir()) / "compare-head-venv")
    with contextlib.ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dccx-compare-")))
        args.json_dir = root / "json"
        secrets = stack.enter_context(private_secret_service())
        table = compare(args, base, head, make_homes(root, secrets.env, head))
    title = f"base {args.base} vs head {git_head()}, {args.processes} processes for CPU time"
    text = f"{title}\n\n{table}"
    if args.output:
        args.output.write_text(text)
    print(text, end="")
    return 0


def git_head() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "docker_credential_convox"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


if __name__ == "__main__":
    sys.exit(main())
