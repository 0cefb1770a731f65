"""Timing whole processes: hyperfine in alternating rounds (or a plain timer), and the stats.

Commands that are compared with each other form a group, and a group's commands are timed in
alternating rounds, so that a change in the machine's load hits all of them alike. Every command
is run once and its output checked before it is timed, so no error path is ever timed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

SLOW_COMMAND = 0.5  # seconds: slower commands get fewer runs (at most SLOW_BUDGET s each)
SLOW_BUDGET = 20.0


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


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


@dataclass(frozen=True)
class Process:
    """One whole process to time without a shell: argv, stdin, environment, its exit code."""

    name: str
    argv: Sequence[str]
    stdin: bytes
    env: Mapping[str, str]
    code: int = 0


def time_process(process: Process) -> float:
    """Wall time of one run of `process`, in seconds; RuntimeError if it ends otherwise."""
    started = time.perf_counter()
    done = subprocess.run(
        list(process.argv),
        input=process.stdin,
        env=dict(process.env),
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != process.code:
        raise RuntimeError(
            f"{process.name}: exited {done.returncode}, not {process.code}: "
            f"{done.stderr.decode(errors='replace')[-300:]}"
        )
    return elapsed


def interleave(
    first: Process,
    second: Process,
    runs: int,
    samples: Optional[dict[str, list[float]]] = None,
    before: Optional[Callable[[], None]] = None,
) -> dict[str, list[float]]:
    """`runs` runs of each, interleaved A B B A in this one process tree (so a change of the
    machine's load hits both alike), added to `samples` by name; `before` runs before each."""
    samples = {} if samples is None else samples
    for number in range(runs):
        pair = (first, second) if number % 2 == 0 else (second, first)
        for process in pair:
            if before is not None:
                before()
            samples.setdefault(process.name, []).append(time_process(process))
    return samples


def quartile_and_median(values: Sequence[float]) -> tuple[float, float]:
    """The 25th percentile and the median of `values`."""
    return statistics.quantiles(values, n=4)[0], statistics.median(values)


def instructions(argv: Sequence[str], stdin: bytes, env: Mapping[str, str]) -> int:
    """Instructions one run of `argv` executes, counted by valgrind's callgrind: every process
    it runs (a launcher that is a shell script execs Python), summed. Repeatable to a fraction
    of a percent on a busy machine, where wall time is not."""
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        "--callgrind-out-file=/dev/null",
        *argv,
    ]
    done = subprocess.run(argv, input=stdin, capture_output=True, env=dict(env), check=False)
    found = re.findall(rb"Collected : (\d+)", done.stderr)
    if not found:
        raise RuntimeError(f"callgrind counted nothing: {done.stderr.decode()[-400:]}")
    return sum(int(count) for count in found)


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
