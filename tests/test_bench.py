"""`make bench` still works: `python -m bench.run` once, on tiny settings. No timing is asserted.

The script starts its own Secret Service, moto_server and moto_proxy on 127.0.0.1, so this runs
inside the suite's loopback-only namespace. The Go reference helpers and hyperfine are optional
here (`make test` does not install them): their columns then read "not installed" and a
built-in timer stands in.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent
BENCH_FILE_LINES = 700  # issue 19 item 5: no bench file over this
DURATION_CELL = re.compile(r"^\d+(\.\d+)? ms$")


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (
                (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            )
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


def table(text: str, heading: str) -> list[list[str]]:
    """The body rows of the first Markdown table after `heading`, as lists of cells."""
    lines = iter(text.split(heading, 1)[1].splitlines())
    rows: list[str] = []
    for line in lines:
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def run_quick(
    module: str, tmp_path: Path, workdir: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE --quick --quiet ARGS`, its exports under `tmp_path`, services' files
    under `workdir`."""
    exports = ["--json-dir", str(tmp_path / "json"), "--workdir", str(workdir / "run")]
    return subprocess.run(
        [sys.executable, "-m", module, "--quick", "--quiet", *args, *exports],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        cwd=CHECKOUT,  # `python -m` finds bench/ and standins/ here
        timeout=600,
        check=False,
    )


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Short, under /tmp: the private bus is a Unix socket in here (paths over 107 bytes fail).
    path = Path(tempfile.mkdtemp(prefix="dccx-bench-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_bench_writes_the_results_table_and_stops_its_services(
    workdir: Path, tmp_path: Path
) -> None:
    for tool in ("dbus-daemon", "dbus-send", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run `make test`, which installs it")
    output = tmp_path / "RESULTS.md"
    result = run_quick(
        "bench.run",
        tmp_path,
        workdir,
        "--runs",
        "2",
        "--warmup",
        "0",
        "--output",
        str(output),
        "--section",
        str(tmp_path / "performance.md"),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert processes_mentioning(str(workdir)) == []

    text = output.read_text()
    assert text.startswith("# Benchmarks")
    for heading in (
        "## Machine and versions",
        "## Targets (issue 6)",
        "## Floors and import costs",
        "## Install forms beside the floor of their interpreter (issue 13)",
    ):
        assert heading in text

    results = table(text, "## Results")
    scenarios = [row[0] for row in results]
    for expected in (
        "`version`",
        "`get`, keyring registry",
        "`get`, registry not stored (podman asks every helper)",
        "`get`, ECR, token cached",
        "`get`, ECR, cold cache",
        "`get`, ECR, cold cache, HTTPS through moto_proxy",
        "`list`, 1 registry stored",
        "`list`, 10 registries stored",
        "`get`, keyring registry, 10 stored",
    ):
        assert expected in scenarios, scenarios
    assert any(s.startswith("4 concurrent `get`s") for s in scenarios), scenarios
    for row in results:
        assert DURATION_CELL.match(row[1]), row  # our helper was timed on every row

    installed = table(text, "### The helper installed without the editable-install hook")
    assert [row[0] for row in installed] == [
        "`version`",
        "`get`, ECR, token cached",
        "`get`, keyring registry",
    ]
    assert all(DURATION_CELL.match(row[1]) for row in installed), installed

    section = (tmp_path / "performance.md").read_text()
    assert section.startswith("# Performance")
    assert len(table(section, "# Performance")) >= 6

    targets = table(text, "## Targets (issue 6)")
    assert len(targets) == 5
    assert all(row[2] in ("yes", "**no**", "n/a") for row in targets), targets


def test_fleet_bench_counts_calls_per_machine_and_stops_its_services(
    workdir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "FLEET.md"
    result = run_quick("bench.fleet", tmp_path, workdir, "--output", str(output))
    assert result.returncode == 0, result.stderr[-4000:]
    assert processes_mentioning(str(workdir)) == []

    text = output.read_text()
    assert text.startswith("# Fleet benchmark")
    calls = {row[0]: row for row in table(text, "## Calls to Secrets Manager")}
    # 3 machines x 20 gets, 0.3 s apart on average with a max age of 0.5 s: each machine asked
    # at least once, and its cache answered some of its gets.
    asked = int(calls["`secretsmanager:GetSecretValue`"][1])
    assert 3 <= asked < 60, calls
    assert "`secretsmanager:ListSecrets`" in calls
    assert calls["without a cache (one `GetSecretValue` a `get`)"][2] == "20"
    assert "0 did not answer the shared entry" in text

    costs = [row[0] for row in table(text, "## What that costs")]
    assert costs[:3] == ["one machine", "20 machines", "500 machines"]
    latency = table(text, "## `get` latency, one machine")
    assert [row[0] for row in latency] == [
        "`get`, shared entry, cached",
        "`get`, shared entry, cold",
        "`get`, ECR, token cached",
        "`get`, ECR, cold",
    ]
    assert all(DURATION_CELL.match(row[1]) for row in latency), latency


def bench_imports(path: Path) -> set[str]:
    """The bench modules a bench file imports, anywhere in it (TYPE_CHECKING and functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "bench":
                found |= {f"bench.{alias.name}" for alias in node.names}
            elif node.module.startswith("bench."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("bench.")}
    return found


def test_bench_files_are_small_and_import_without_loops() -> None:
    files = {f"bench.{path.stem}": path for path in (CHECKOUT / "bench").glob("*.py")}
    sizes = {name: len(path.read_text().splitlines()) for name, path in files.items()}
    assert {name: n for name, n in sizes.items() if n > BENCH_FILE_LINES} == {}
    graph = {name: bench_imports(path) & files.keys() for name, path in files.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or reaches(nxt, goal, seen | {nxt}) for nxt in graph[start] - seen)

    assert [name for name in graph if reaches(name, name, set())] == []
    assert graph["bench.base"] == {"bench.timing"}  # what every scenario family builds on


def test_a_quick_run_never_overwrites_the_committed_results() -> None:
    from bench.base import BENCH_DIR
    from bench.run import parse_args

    committed = {BENCH_DIR / "RESULTS.md", CHECKOUT / "docs" / "performance.md"}
    quick = parse_args(["--quick"])
    assert {quick.output, quick.section}.isdisjoint(committed), quick

    full = parse_args([])
    assert (full.output, full.section) == (
        BENCH_DIR / "RESULTS.md",
        CHECKOUT / "docs" / "performance.md",
    )

    chosen = parse_args(["--quick", "--output", "/tmp/R.md"])
    assert chosen.output == Path("/tmp/R.md")
