"""How `registries doctor` reports: a `Finding` per checked fact, one line each, and a summary.

Each check is a `Finding` rendered as one line, `ok: TOPIC: ...`, `note: TOPIC: ...` or
`problem: TOPIC: ...; fix: ...`, so the fix is on the line that names the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from docker_credential_convox import APP

NAME = APP
OK = "ok"
NOTE = "note"
PROBLEM = "problem"


class Finding:
    """One checked fact: its status, the topic, what was found and, for a problem, the fix."""

    __slots__ = ("fix", "status", "text", "topic")

    def __init__(self, status: str, topic: str, text: str, fix: Optional[str] = None) -> None:
        self.status = status
        self.topic = topic
        self.text = text
        self.fix = fix

    def render(self) -> str:
        """`status: topic: text[; fix: fix]`, one line."""
        line = f"{self.status}: {self.topic}: {self.text}"
        return " ".join((f"{line}; fix: {self.fix}" if self.fix else line).split())

    def __repr__(self) -> str:
        return f"Finding({self.render()!r})"


def ok(topic: str, text: str) -> Finding:
    return Finding(OK, topic, text)


def note(topic: str, text: str) -> Finding:
    return Finding(NOTE, topic, text)


def problem(topic: str, text: str, fix: str) -> Finding:
    return Finding(PROBLEM, topic, text, fix)


def run_command(*words: str) -> str:
    """A command of ours for a fix, quoted as the user would type it."""
    return "run `" + " ".join((NAME, *words)) + "`"


def describe_duration(seconds: float) -> str:
    """`3h 05m`, `12m`, `40s`: a span for people, to the nearest second or minute."""
    seconds = abs(seconds)
    if seconds < 59.5:
        return f"{seconds:.0f}s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes}m"
    return f"{minutes // 60}h {minutes % 60:02d}m"


def render_report(heading: str, findings: Sequence[Finding]) -> str:
    """The heading, one line per finding, and how many problems were found."""
    problems = sum(1 for finding in findings if finding.status == PROBLEM)
    if problems == 0:
        summary = "No problems found."
    else:
        summary = f"{problems} problem{'s' if problems > 1 else ''} found."
    return "".join(line + "\n" for line in [heading, *(f.render() for f in findings), summary])


def exit_code(findings: Sequence[Finding]) -> int:
    """0 when every check passed, 1 when any found a problem."""
    return 1 if any(finding.status == PROBLEM for finding in findings) else 0
