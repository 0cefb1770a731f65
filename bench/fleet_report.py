"""The fleet's plan and result types, and bench/FLEET.md rendered from a result (fleet.py).

Kept apart from the simulation so that what the numbers mean (per machine, per hour, per day,
what they cost) is written in one place, from the counts alone.
"""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone

from bench.timing import Stats, ms

# AWS's list prices for Secrets Manager (us-east-1) when this was written; check them before
# quoting: https://aws.amazon.com/secrets-manager/pricing/
PRICE_PER_10K_CALLS = 0.05
PRICE_PER_SECRET_MONTH = 0.40
JITTER_LOW = 0.75  # a cached value lives between 0.75 and 1.0 times the max age
FLEET_SIZES = (20, 500)

REAL_MAX_AGE = 300.0  # the helper's default, the one a fleet runs with
SIMULATED_HOUR = 3600.0


@dataclass(frozen=True)
class Plan:
    """The simulated fleet: how many machines, how busy, how fast the hour runs."""

    machines: int
    gets_per_hour: int
    lists_per_hour: int
    scale: float
    seed: int = 12
    workers: int = 16  # helper processes at once at most: a host's gets rarely overlap more

    @property
    def window(self) -> float:
        """Real seconds the simulated hour takes."""
        return SIMULATED_HOUR / self.scale

    @property
    def max_age(self) -> float:
        """The max age the machines run with: the default, compressed like the hour."""
        return REAL_MAX_AGE / self.scale


@dataclass(frozen=True)
class Event:
    at: float  # real seconds after the start of the window
    machine: int
    action: str  # "get" or "list"


@dataclass
class Outcome:
    event: Event
    started: float  # real seconds after the start of the window
    ok: bool
    detail: str = ""


@dataclass
class FleetResult:
    """What the simulated hour produced: calls per operation, outcomes, lateness."""

    plan: Plan
    calls: dict[str, int]
    outcomes: list[Outcome]
    elapsed: float
    latency: list[tuple[str, Stats, str]] = field(default_factory=list)
    timer: str = ""
    load: list[float] = field(default_factory=list)  # 1-minute load average, start and end

    def count(self, action: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.event.action == action)

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    def lateness(self) -> tuple[float, float]:
        """Median and largest delay of a start past its schedule, in simulated seconds."""
        late = [max(0.0, o.started - o.event.at) * self.plan.scale for o in self.outcomes]
        return (statistics.median(late), max(late)) if late else (0.0, 0.0)


def cpu() -> str:
    """The CPU model and core count, for the report's header."""
    try:
        with open("/proc/cpuinfo") as info:
            model = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                platform.machine(),
            )
    except OSError:
        model = platform.machine()
    return f"{model}, {os.cpu_count()} cores"


def dollars(value: float) -> str:
    return f"${value:.4f}" if value < 0.01 else f"${value:,.2f}"


def render(result: FleetResult, quick: bool = False) -> str:
    """The whole report: the calls a fleet makes, what they cost, how long a `get` takes."""
    plan = result.plan
    hours = 1.0  # the window is one simulated hour
    per_machine = {
        operation: count / plan.machines / hours
        for operation, count in sorted(result.calls.items())
        if operation.startswith("secretsmanager:")
    }
    total = sum(per_machine.values())
    median_late, max_late = result.lateness()
    bound = 3600 / (JITTER_LOW * plan.max_age * plan.scale)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    settings = "`--quick`: a smoke test, not a measurement" if quick else "full settings"
    lines = [
        "# Fleet benchmark: machines sharing one registry through AWS Secrets Manager",
        "",
        f"Written by `python -m bench.fleet` ({settings}) on {now}, on {cpu()}, Python "
        f"{platform.python_version()}. Everything ran against moto_server behind the counting "
        "proxy (`standins/aws_proxy.py`) on 127.0.0.1.",
        "",
        "## Calls to Secrets Manager",
        "",
        f"{plan.machines} machines (each its own HOME and runtime directory, no keyring), each "
        f"running {plan.gets_per_hour} `get`s and {plan.lists_per_hour} `list`s of the shared "
        "registry at random times over one hour, with the default cache max age "
        f"({plan.max_age * plan.scale:g} s, jittered to 0.75-1.0 of it). The hour was "
        f"compressed {plan.scale:g} times: it ran in {plan.window:g} s with a max age of "
        f"{plan.max_age:g} s, which gives the same call counts as a real hour (see the method).",
        "",
        "| Operation | Whole fleet, in the hour | Per machine per hour | Per machine per day |",
        "|---|---:|---:|---:|",
    ]
    for operation, rate in per_machine.items():
        count = result.calls[operation]
        lines.append(f"| `{operation}` | {count} | {rate:.1f} | {rate * 24:.0f} |")
    lines += [
        f"| every Secrets Manager call | {sum(result.calls.get(o, 0) for o in per_machine)} | "
        f"**{total:.1f}** | **{total * 24:.0f}** |",
        f"| without a cache (one `GetSecretValue` a `get`) | "
        f"{plan.gets_per_hour * plan.machines} | {plan.gets_per_hour} | "
        f"{plan.gets_per_hour * 24} |",
        "",
        f"A machine asks again for a value at most every 0.75 max age, so however busy it "
        f"is, it makes at most {bound:.0f} `GetSecretValue` calls an hour per registry it "
        "reads (fewer when its `get`s are sparser than that).",
        "",
        "## What that costs",
        "",
        f"At {dollars(PRICE_PER_10K_CALLS)} per 10,000 API calls and "
        f"{dollars(PRICE_PER_SECRET_MONTH)} per secret per month (AWS's list prices when this "
        "was written; **check the current ones**), with the calls measured above:",
        "",
        "| | API calls per day | Per day | Per 30 days |",
        "|---|---:|---:|---:|",
    ]
    per_call = PRICE_PER_10K_CALLS / 10_000
    for machines in (1, *FLEET_SIZES):
        calls = total * 24 * machines
        label = "one machine" if machines == 1 else f"{machines} machines"
        lines.append(
            f"| {label} | {calls:,.0f} | {dollars(calls * per_call)} | "
            f"{dollars(calls * per_call * 30)} |"
        )
    lines += [
        f"| the secret itself (once per registry, whatever the fleet) | — | "
        f"{dollars(PRICE_PER_SECRET_MONTH / 30)} | {dollars(PRICE_PER_SECRET_MONTH)} |",
        "",
        "## `get` latency, one machine",
        "",
        f"Whole processes, timed with {result.timer}; medians. Both AWS calls go through the "
        "same counting proxy to moto, so the cold rows compare like with like.",
        "",
        "| Scenario | Median | Runs | What happens |",
        "|---|---:|---:|---|",
    ]
    for name, stats, what in result.latency:
        lines.append(f"| {name} | {ms(stats.median)} | {len(stats.times)} | {what} |")
    failures = len(result.failures)
    lines += [
        "",
        "## Method",
        "",
        "- The helper has no clock to inject, so time is compressed instead: the hour and the "
        f"max age both run {plan.scale:g} times faster. Whether a `get` calls Secrets Manager "
        "depends only on the age of its machine's cached value against the (jittered) max age, "
        "so the count over the compressed hour is the count over a real one, as long as the "
        "`get`s start when scheduled.",
        f"- Starts were late by a median of {median_late:.1f} and at most {max_late:.1f} "
        f"simulated seconds ({plan.workers} helper processes at most at once), and the hour "
        f"took {result.elapsed:.0f} s (scheduled: {plan.window:g} s). Lateness only moves a "
        "`get` later: it cannot add calls beyond the bound above, but `get`s bunched up by it "
        "share fetches they would not have shared, so a large lateness makes the counts low.",
        f"- {len(result.outcomes)} helper processes ran ({result.count('get')} `get`, "
        f"{result.count('list')} `list`); {failures} did not answer the shared entry.",
        "- The machine was not idle: its 1-minute load average was "
        + " at the start, ".join(f"{value:.2f}" for value in result.load)
        + " at the end (other work shares its cores, which slows cold and cached rows alike).",
        "- Each machine's environment: a fresh HOME, `DOCKER_CREDENTIAL_CONVOX_SHARED`, its own "
        "`DOCKER_CREDENTIAL_CONVOX_RUNTIME_DIR` (the per-machine cache), fake AWS keys, no "
        "D-Bus. The operator added the registry once with `registries add --shared`.",
        "- Latency rows: the cold shared row removes the machine's runtime directory before "
        "each run; the cold ECR row removes the token cache file. The proxy counted at least "
        "one call per cold run. The proxy is Python in the benchmark's own process and adds "
        "its forwarding to both cold rows.",
        "",
    ]
    return "\n".join(lines)
