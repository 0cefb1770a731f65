"""Issue 13: every install form's hot paths beside the floor of its own interpreter.

The floor is `python -I -S -c pass` of the interpreter the form runs on: the least any Python
process costs there. Each form's commands and its floor are timed in one group (alternating
rounds), with Go's `docker-credential-secretservice get` beside the Secret Service `get`:
- wheel in a venv (pip; pipx is the same venv with the command linked onto PATH): the bench's
  installed layout (installed.make_installed_layout), with the launcher pip installs;
- the .deb on Debian's python3, when it is installed (/usr/bin/docker-credential-convox);
- the single file (dist/*.pyz, `make zipapp`), with a bare venv of this interpreter as the
  `python3` on PATH, so only what the file carries is there.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.base import ECR_HOST, REGISTRY, REGISTRY_SECRET, UNKNOWN_REGISTRY, Bench, Form, q
from bench.timing import Command, ms, ratio, times

ROOT = Path(__file__).resolve().parent.parent
DEB_HELPER = Path("/usr/bin/docker-credential-convox")
# (column, action, stdin kind, exit code): the hot paths, then the Secret Service `get`.
PATHS = (
    ("`version`", "version", "", 0),
    ("`get`, ECR, cached", "get", "ecr", 0),
    ("`get`, unknown", "get", "unknown", 1),
    ("`list`, none stored", "list", "", 0),
    ("`erase`, unknown", "erase", "unknown", 0),
    ("`get`, Secret Service", "get", "keyring", 0),
)
TARGETS = {
    "cached": 1.5,  # cached ECR `get` <= 1.5x the floor of the form's interpreter
    "keyring": 2.0,  # Secret Service `get` <= 2x Go's docker-credential-secretservice `get`
    "unknown": 1.1,  # list/erase of an unknown registry at the cached `get`'s cost (±10%)
}


def available(bench: Bench, installed: tuple[Path, Path]) -> list[Form]:
    """The forms this machine has: the installed layout always, the .deb and the file if built."""
    python, helper = installed
    forms = [Form("wheel in a venv (pip, pipx)", helper, python)]
    if DEB_HELPER.exists() and DEB_HELPER.read_text(errors="replace").startswith("#!/usr/bin/py"):
        forms.append(Form(".deb on Debian's python3", DEB_HELPER, Path("/usr/bin/python3")))
    files = sorted((ROOT / "dist").glob("docker-credential-convox-*.pyz"))
    if files:
        bare = bench.root / "bare-python"
        subprocess.run([str(python), "-m", "venv", "--without-pip", str(bare)], check=True)
        forms.append(Form("single file", files[-1], bare / "bin" / "python3", bare / "bin"))
    return forms


def install_forms(bench: Bench) -> None:
    """The scenario: each form's hot paths beside its floor, after `installed_layout`."""
    bench.forms = measure(bench, bench.installed)


def measure(bench: Bench, installed: tuple[Path, Path]) -> list[Form]:
    """Time each form's hot paths and floor (one group per form)."""
    direct, _ = bench.ecr_envs()
    stdin = {
        "": None,
        "ecr": bench.stdin(ECR_HOST),
        "unknown": bench.stdin(UNKNOWN_REGISTRY),
        "keyring": bench.stdin(REGISTRY),
    }
    forms = available(bench, installed)
    for form in forms:

        def env(base: dict[str, str], form: Form = form) -> dict[str, str]:
            if form.path_first is None:
                return base
            return {**base, "PATH": f"{form.path_first}:{base['PATH']}"}

        homes = {
            "": env(bench.home("forms-empty")),
            "unknown": env(bench.home("forms-empty")),
            "ecr": env(direct),
            "keyring": env(bench.home("keyring")),
        }
        bench.require_cache_hit(form.helper, homes["ecr"])
        commands = [Command(f"{form.name}: floor", f"{q(form.python)} -I -S -c pass", homes[""])]
        for column, action, kind, code in PATHS:
            line = bench.helper(action, stdin[kind], form.helper)
            if code:
                line += f"; [ $? -eq {code} ]"
            expect = REGISTRY_SECRET if kind == "keyring" else None
            commands.append(Command(f"{form.name}: {column}", line, homes[kind], expect=expect))
        if bench.go_secretservice:
            line = f"{q(bench.go_secretservice)} get < {q(stdin['keyring'])}"
            commands.append(
                Command(f"{form.name}: Go get", line, homes["keyring"], expect=REGISTRY_SECRET)
            )
        floor, *rest = bench.timer.group(commands)
        form.floor = floor
        form.stats = {column: rest[i] for i, (column, *_) in enumerate(PATHS)}
        form.go = rest[len(PATHS)] if bench.go_secretservice else None
    return forms


def report(forms: list[Form]) -> list[str]:
    """The section of RESULTS.md: each form's rows with their ratio to the floor, the targets."""
    if not forms:
        return []
    lines = [
        "## Install forms beside the floor of their interpreter (issue 13)",
        "",
        "Each form's commands and `python -I -S -c pass` of the interpreter it runs on (the "
        "floor) timed in one group; each cell is the median and its ratio to that floor. Go's "
        "`docker-credential-secretservice get` of the same kind of item was timed in the same "
        "group.",
        "",
        "| Form | floor | " + " | ".join(column for column, *_ in PATHS) + " | Go `get` |",
        "|---|" + "---:|" * (len(PATHS) + 2),
    ]
    for form in forms:
        cells = [form.name, ms(form.floor.median if form.floor else None)]
        for column, *_ in PATHS:
            stats = form.stats[column]
            cells.append(f"{ms(stats.median)} ({times(ratio(stats, form.floor))})")
        cells.append(ms(form.go.median) if form.go else "not installed")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| Target | Form | Measured | Met |", "|---|---|---|---|"]
    for form in forms:
        cached = form.stats["`get`, ECR, cached"]
        checks = [
            ("cached ECR `get` ≤ 1.5× the floor", cached, form.floor, TARGETS["cached"]),  # noqa: RUF001
            (
                "Secret Service `get` ≤ 2× Go's",  # noqa: RUF001
                form.stats["`get`, Secret Service"],
                form.go,
                TARGETS["keyring"],
            ),
            (
                "`list` ≤ the cached `get` (+10%)",
                form.stats["`list`, none stored"],
                cached,
                TARGETS["unknown"],
            ),
            (
                "`erase` of an unknown registry ≤ the cached `get` (+10%)",
                form.stats["`erase`, unknown"],
                cached,
                1.1,
            ),
        ]
        for label, ours, reference, limit in checks:
            value = ratio(ours, reference)
            met = "n/a" if value is None else "yes" if value <= limit else "**no**"
            measured = f"{ms(ours.median)} vs {ms(reference.median if reference else None)}"
            lines.append(f"| {label} | {form.name} | {measured} = {times(value)} | {met} |")
    return lines
