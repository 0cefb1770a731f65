"""The contract both file caches keep (filecache's core): one test class, subclassed per cache.

As tests/conformance.py does for routes (and ecr-login's cache tests with a mock clock), this
states once what a cache in front of a slow or failing call promises, and runs unchanged
against the ECR token cache (tests/test_tokencache.py) and the shared-value cache
(tests/test_shared_cache.py):

- a value fetched once is served without fetching again while fresh, also to another process;
- misses at the same moment fetch once: the second waits on the lock, then reads the first's;
- a failure is answered again at once for its window, then the call is tried again;
- a failure that may pass serves a still usable cached value with a warning; one that will not
  pass, or a value past its use, is not served;
- a directory others may write means one warning, and every call fetches;
- a corrupt or foreign file is a miss, never an error.

Time is the injected clock: nothing sleeps. Every cache object here is a real one over real
files and real locks; "another process" is a second cache object on the same directory (the
lock is an flock on its own open file, which conflicts between objects as between processes).

A cache's subclass provides `new_cache`, `fetch` (the cache's own call, around the contract's
`Source`), `entry_file`, the errors it tells apart and its timings (the class attributes).
Not collected by itself: neither this module's name nor the class's starts with test/Test.
"""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path
from typing import Callable, ClassVar, Generic, Optional, TypeVar

import pytest

from docker_credential_convox.errors import HelperError

Cache = TypeVar("Cache")
T0 = 1_800_000_000.0
WAIT = 10.0  # seconds a thread may take to reach a point before the test fails


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Source:
    """The slow call a cache stands in front of: answers "value-N" on its Nth call, or raises
    `error`; counts its calls. `during` runs inside each call (the lock held)."""

    def __init__(self) -> None:
        self.calls = 0
        self.error: Optional[HelperError] = None
        self.during: Optional[Callable[[], None]] = None

    def __call__(self) -> str:
        self.calls += 1
        if self.during is not None:
            self.during()
        if self.error is not None:
            raise self.error
        return f"value-{self.calls}"


def _waiting_on_a_lock(thread: threading.Thread) -> bool:
    """Whether `thread` is inside file_writes' lock acquisition (blocked, or polling the lock)."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code.co_name == "_acquire" and frame.f_code.co_filename.endswith(
            "file_writes.py"
        ):
            return True
        frame = frame.f_back
    return False


class FileCacheContract(Generic[Cache]):
    """What every file cache promises; a subclass says how to build, call and read one."""

    # Seconds after its fetch a value stops being fresh (served without fetching).
    fresh_for: ClassVar[float]
    # Seconds after its fetch a value stops being usable (served when a fetch fails).
    usable_for: ClassVar[float]
    # Seconds a failure is answered again without fetching.
    failure_memory: ClassVar[float]
    key = "the key"

    def new_cache(self, directory: Path, clock: Clock, stderr: io.StringIO) -> Cache:
        """A cache keeping its files in `directory` (made by the cache when missing)."""
        raise NotImplementedError

    def fetch(self, cache: Cache, key: str, source: Source) -> str:
        """The value `cache` answers for `key`, fetching it from `source` when it must."""
        raise NotImplementedError

    def entry_file(self, cache: Cache, key: str) -> Path:
        """The file that holds `key`'s entry."""
        raise NotImplementedError

    def transient_error(self) -> HelperError:
        """A failure that may pass by itself (throttled, endpoint down)."""
        raise NotImplementedError

    def permanent_error(self) -> Optional[HelperError]:
        """A failure that will not pass by itself; None when the cache tells none apart."""
        raise NotImplementedError

    # -- fixtures ----------------------------------------------------------------------------

    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    @pytest.fixture
    def stderr(self) -> io.StringIO:
        return io.StringIO()

    @pytest.fixture
    def directory(self, tmp_path: Path) -> Path:
        return tmp_path / "cache"

    @pytest.fixture
    def cache(self, directory: Path, clock: Clock, stderr: io.StringIO) -> Cache:
        return self.new_cache(directory, clock, stderr)

    @pytest.fixture
    def source(self) -> Source:
        return Source()

    # -- the contract ------------------------------------------------------------------------

    def test_a_value_fetched_once_is_served_without_fetching_while_fresh(
        self, cache: Cache, source: Source, clock: Clock, directory: Path
    ) -> None:
        assert self.fetch(cache, self.key, source) == "value-1"
        clock.advance(self.fresh_for - 1)
        assert self.fetch(cache, self.key, source) == "value-1"
        another_process = self.new_cache(directory, clock, io.StringIO())
        assert self.fetch(another_process, self.key, source) == "value-1"
        assert source.calls == 1

        clock.advance(1)
        assert self.fetch(cache, self.key, source) == "value-2"
        assert source.calls == 2

    def test_misses_at_the_same_moment_fetch_once(
        self, cache: Cache, source: Source, clock: Clock, directory: Path
    ) -> None:
        another_process = self.new_cache(directory, clock, io.StringIO())
        answers: list[str] = []
        second = threading.Thread(
            target=lambda: answers.append(self.fetch(another_process, self.key, source))
        )

        def let_the_second_miss_and_queue() -> None:
            if second.is_alive():  # the second's own fetch, if the contract is broken
                return
            # The first holds the lock and has written nothing: the second misses, then waits.
            second.start()
            for _ in range(int(WAIT / 0.01)):
                if _waiting_on_a_lock(second) or not second.is_alive():
                    return
                threading.Event().wait(0.01)  # polls a thread's state; the clock is not involved
            pytest.fail("the second fetch never waited on the lock")

        source.during = let_the_second_miss_and_queue
        assert self.fetch(cache, self.key, source) == "value-1"
        second.join(WAIT)
        assert answers == ["value-1"]
        assert source.calls == 1

    def test_a_failure_is_remembered_for_its_window_then_retried(
        self, cache: Cache, source: Source, clock: Clock, directory: Path
    ) -> None:
        source.error = self.permanent_error() or self.transient_error()
        with pytest.raises(HelperError) as first:
            self.fetch(cache, self.key, source)
        another_process = self.new_cache(directory, clock, io.StringIO())
        clock.advance(self.failure_memory - 1)
        with pytest.raises(HelperError) as again:
            self.fetch(another_process, self.key, source)
        assert again.value.message == first.value.message
        assert source.calls == 1

        clock.advance(1)
        source.error = None
        assert self.fetch(another_process, self.key, source) == "value-2"
        assert source.calls == 2

    def test_a_transient_failure_serves_a_usable_stale_value_with_a_warning(
        self, cache: Cache, source: Source, clock: Clock, stderr: io.StringIO
    ) -> None:
        self.fetch(cache, self.key, source)
        clock.advance(self.usable_for - 1)
        source.error = self.transient_error()

        assert self.fetch(cache, self.key, source) == "value-1"
        assert source.calls == 2
        assert "warning:" in stderr.getvalue()

    def test_a_value_past_its_use_is_not_served_when_a_fetch_fails(
        self, cache: Cache, source: Source, clock: Clock
    ) -> None:
        self.fetch(cache, self.key, source)
        clock.advance(self.usable_for)
        source.error = self.transient_error()

        with pytest.raises(HelperError):
            self.fetch(cache, self.key, source)

    def test_a_permanent_failure_serves_no_stale_value(
        self, cache: Cache, source: Source, clock: Clock
    ) -> None:
        error = self.permanent_error()
        if error is None:
            pytest.skip("this cache serves a usable value whatever the failure")
        self.fetch(cache, self.key, source)
        clock.advance(self.fresh_for + 1)
        source.error = error

        with pytest.raises(HelperError) as raised:
            self.fetch(cache, self.key, source)
        assert raised.value.message == error.message

    def test_an_untrusted_directory_means_one_warning_and_every_call_fetches(
        self, source: Source, clock: Clock, stderr: io.StringIO, directory: Path
    ) -> None:
        directory.mkdir()
        directory.chmod(0o777)  # anyone may plant a file here (not sticky)
        cache = self.new_cache(directory, clock, stderr)

        answers = [self.fetch(cache, self.key, source) for _ in range(3)]

        assert answers == ["value-1", "value-2", "value-3"]
        warnings = [line for line in stderr.getvalue().splitlines() if "warning:" in line]
        assert len(warnings) == 1, warnings
        assert "disabled for this call" in warnings[0]
        assert "shared with other users" in warnings[0]

    @pytest.mark.parametrize(
        "content",
        [
            b"",
            b"{not json",
            b"\xff\xfe\x00garbage",
            b"[1, 2, 3]",
            b'{"format": "someone-else/cache", "version": 1}',
            b"[" * 100_000,
        ],
        ids=["empty", "not JSON", "not UTF-8", "another shape", "another format", "too deep"],
    )
    def test_a_corrupt_or_foreign_file_is_a_miss_never_an_error(
        self, cache: Cache, source: Source, content: bytes, directory: Path, clock: Clock
    ) -> None:
        self.fetch(cache, self.key, source)
        self.entry_file(cache, self.key).write_bytes(content)
        # Another process meets the file (this one may remember the value in memory).
        another_process = self.new_cache(directory, clock, io.StringIO())

        assert self.fetch(another_process, self.key, source) == "value-2"
        assert self.fetch(another_process, self.key, source) == "value-2"  # written again
        assert source.calls == 2
