"""file_writes.exclusive_lock between real processes: a waiter gives up on a holder that keeps
the lock past the timeout, never on a lock that keeps changing hands (stop 24's CI: twelve
concurrent stores on a slow disk, one of which gave up on the registry index's lock after 30 s
while the stores ahead of it were each holding it for a second or two)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from docker_credential_convox import file_writes
from docker_credential_convox.errors import StateError

# Holds the lock at argv[1] argv[2] times, argv[3] seconds each, saying "held" on each take;
# between two holds it lets go for no longer than a release and a take.
HOLDER = """
import sys, time
from docker_credential_convox import file_writes
for _ in range(int(sys.argv[2])):
    with file_writes.exclusive_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(float(sys.argv[3]))
"""


def start_holder(lock: Path, holds: int, seconds: float) -> subprocess.Popen[str]:
    """Another process holding `lock`, returned once it holds it the first time."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock), str(holds), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "held\n"
    return holder


def test_a_lock_that_changes_hands_is_waited_for_past_the_timeout(tmp_path: Path) -> None:
    lock = tmp_path / "index.lock"
    for _ in range(3):  # a waiter that polls in the microseconds between two holds goes first
        holder = start_holder(lock, holds=8, seconds=0.3)  # busy for 2.4 s, 0.3 s per hold
        started = time.monotonic()
        with file_writes.exclusive_lock(str(lock), timeout=1.5):
            waited = time.monotonic() - started
        assert holder.wait(timeout=30) == 0
        if waited > 1.5:
            break
    assert waited > 1.5  # the wait outlasted the timeout: no one holder did


def test_a_holder_that_keeps_the_lock_past_the_timeout_is_given_up_on(tmp_path: Path) -> None:
    lock = tmp_path / "index.lock"
    holder = start_holder(lock, holds=1, seconds=5.0)
    started = time.monotonic()
    with (
        pytest.raises(StateError, match=r"has held the lock .*index\.lock for over 1\.5 s"),
        file_writes.exclusive_lock(str(lock), timeout=1.5),
    ):
        pass
    assert time.monotonic() - started < 4.0  # given up on, not waited out
    assert holder.wait(timeout=30) == 0
