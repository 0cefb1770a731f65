"""The total deadline over AWS calls: one call (`within`), or a mint's calls together (`Attempt`).

The read timeout is per read, so an endpoint that trickles its answer a byte at a time would hold
a call for ever. `within` runs the call in a daemon thread and stops waiting at the deadline; the
thread is abandoned and dies with the process.
"""

from __future__ import annotations

import threading
import time

from docker_credential_convox import APP, TYPE_CHECKING
from docker_credential_convox.aws.errors import DEADLINE_CODE, HINTS, MESSAGE_LIMIT
from docker_credential_convox.errors import AwsError, one_line
from docker_credential_convox.settings import DEFAULT_AWS_DEADLINE, ENV_AWS_DEADLINE

if TYPE_CHECKING:
    from typing import Any, Callable, Optional, TypeVar

    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.server_keys import Target

    Answer = TypeVar("Answer")


class DeadlineExceeded(Exception):
    """A call still unanswered at its deadline (its thread is abandoned)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g} s")
        self.seconds = seconds

    def describe(self, endpoint: str) -> str:
        """One line naming the endpoint and the bound (never anything the endpoint sent)."""
        return f"no complete answer from {endpoint} within {self.seconds:g} s ({ENV_AWS_DEADLINE})"


def within(seconds: float, call: Callable[[], Answer]) -> Answer:
    """`call()`'s answer, or DeadlineExceeded once `seconds` have passed without one: the call
    runs in a daemon thread, left behind at the deadline (no drip of bytes can extend it)."""
    if seconds <= 0:
        raise DeadlineExceeded(0.0)
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed to the waiting thread as it came
            outcome.append((False, exc))

    worker = threading.Thread(target=run, name=f"{APP} AWS call", daemon=True)
    worker.start()
    worker.join(seconds)
    if not outcome:
        raise DeadlineExceeded(seconds)
    answered, value = outcome[0]
    if not answered:
        raise value
    answer: Answer = value
    return answer


class Attempt:
    """One mint under way, for the steps that produce credentials: the registry's API, and how
    far it got (the AWS operation, the provider that answered, every secret seen so far, which
    any error text masks), and the deadline its API calls share."""

    __slots__ = (
        "deadline",
        "deadline_at",
        "diagnostics",
        "method",
        "operation",
        "secrets",
        "target",
    )

    def __init__(
        self,
        target: Target,
        diagnostics: Diagnostics,
        secret: Optional[str],
        deadline: float = DEFAULT_AWS_DEADLINE,
    ) -> None:
        self.target = target
        self.diagnostics = diagnostics
        self.operation = "resolving AWS credentials"
        self.method = ""
        self.secrets: list[str] = [secret or ""]
        self.deadline = deadline
        self.deadline_at: Optional[float] = None  # set by the first API call

    def call(self, request: Callable[[], Answer], endpoint: str) -> Answer:
        """`request()` (an API call to `endpoint`) within what is left of the deadline, which
        starts with the first call; past it, an AwsError naming the endpoint and the bound."""
        if self.deadline_at is None:
            self.deadline_at = time.monotonic() + self.deadline
        try:
            return within(self.deadline_at - time.monotonic(), request)
        except DeadlineExceeded:
            raise AwsError(
                self.operation,
                DEADLINE_CODE,
                one_line(
                    DeadlineExceeded(self.deadline).describe(endpoint), MESSAGE_LIMIT, self.secrets
                ),
                HINTS["unreachable"],
                self.method,
            ) from None
