"""The per-machine cache of shared values, in process, on an injected clock and random draw.

The cache is given the call it stands in front of (`ask`); here that call is a small function
of the test's own, because what is under test is the cache's timing (fresh, jittered, stale
within a bound, refused after it), which a clock parameter tests without sleeping. The calls
to Secrets Manager themselves are tested against moto in test_shared.py and
test_shared_faults.py.
"""

from __future__ import annotations

import io
import stat
from pathlib import Path
from typing import Callable, Optional

import pytest

from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.filecache_fetch import FAILURE_MEMORY
from docker_credential_convox.shared import SharedStoreError
from docker_credential_convox.shared.cache import SharedCache
from docker_credential_convox.shared.cache_fetch import FetchingSharedCache

pytest.register_assert_rewrite("cache_contract")  # before its import: asserts show values
from cache_contract import Clock as ContractClock  # noqa: E402
from cache_contract import FileCacheContract, Source  # noqa: E402

MAX_AGE = 300.0
STALE_FOR = 3600.0


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Asker:
    """The call the cache stands in front of: answers `value`, or raises `error`, counting."""

    def __init__(self, value: Optional[str] = "v1") -> None:
        self.value = value
        self.error: Optional[SharedStoreError] = None
        self.calls = 0

    def __call__(self) -> Optional[str]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.value


def make_cache(
    directory: Optional[Path], clock: Clock, rand: Optional[Callable[[], float]] = None
) -> tuple[FetchingSharedCache, io.StringIO]:
    err = io.StringIO()
    cache = FetchingSharedCache(
        str(directory) if directory else None,
        "secretsmanager:p",
        Diagnostics(err, debug=True),
        max_age=MAX_AGE,
        stale_for=STALE_FOR,
        clock=clock,
        rand=rand,
    )
    return cache, err


THROTTLED = SharedStoreError("throttled by Secrets Manager", "GetSecretValue", transient=True)
DENIED = SharedStoreError("access denied", "GetSecretValue", transient=False)


def test_a_fresh_value_is_served_without_asking_until_its_lifetime_ends(tmp_path: Path) -> None:
    clock = Clock()
    cache, _ = make_cache(tmp_path, clock, rand=lambda: 1.0)
    ask = Asker()

    assert cache.fetch("entry:a", "a", ask) == "v1"
    ask.value = "v2"
    clock.now += MAX_AGE - 1
    assert cache.fetch("entry:a", "a", ask) == "v1"
    assert ask.calls == 1
    clock.now += 1
    assert cache.fetch("entry:a", "a", ask) == "v2"
    assert ask.calls == 2


def test_no_such_secret_is_cached_too(tmp_path: Path) -> None:
    clock = Clock()
    cache, _ = make_cache(tmp_path, clock)
    ask = Asker(value=None)

    assert cache.fetch("entry:a", "a", ask) is None
    assert cache.fetch("entry:a", "a", ask) is None
    assert ask.calls == 1


@pytest.mark.parametrize(("draw", "lifetime"), [(0.0, 0.75 * MAX_AGE), (1.0, MAX_AGE)])
def test_the_lifetime_is_the_max_age_scaled_into_three_quarters_to_one(
    tmp_path: Path, draw: float, lifetime: float
) -> None:
    clock = Clock()
    cache, _ = make_cache(tmp_path, clock, rand=lambda: draw)
    ask = Asker()
    cache.fetch("entry:a", "a", ask)

    clock.now += lifetime - 0.001
    cache.fetch("entry:a", "a", ask)
    assert ask.calls == 1
    clock.now += 0.002
    cache.fetch("entry:a", "a", ask)
    assert ask.calls == 2


def test_lifetimes_spread_over_the_whole_jitter_range() -> None:
    cache, _ = make_cache(None, Clock())  # the machine's own randomness

    lifetimes = [cache.lifetime() for _ in range(400)]

    assert all(0.75 * MAX_AGE <= life <= MAX_AGE for life in lifetimes)
    assert min(lifetimes) < 0.8 * MAX_AGE
    assert max(lifetimes) > 0.95 * MAX_AGE
    assert len({round(life) for life in lifetimes}) > 40  # not a few fixed values


def test_a_transient_failure_serves_the_stale_value_within_the_bound_then_refuses(
    tmp_path: Path,
) -> None:
    clock = Clock()
    cache, err = make_cache(tmp_path, clock, rand=lambda: 1.0)
    ask = Asker()
    cache.fetch("entry:a", "a", ask)
    ask.error = THROTTLED

    clock.now += MAX_AGE + STALE_FOR - 1
    assert cache.fetch("entry:a", "a", ask) == "v1"
    assert "warning: Secrets Manager did not answer for a (throttled" in err.getvalue()

    clock.now += 1
    with pytest.raises(SharedStoreError) as raised:
        cache.fetch("entry:a", "a", ask)
    assert raised.value is THROTTLED


def test_a_lasting_failure_is_never_covered_by_a_stale_value(tmp_path: Path) -> None:
    clock = Clock()
    cache, _ = make_cache(tmp_path, clock, rand=lambda: 1.0)
    ask = Asker()
    cache.fetch("entry:a", "a", ask)
    ask.error = DENIED
    clock.now += MAX_AGE

    with pytest.raises(SharedStoreError):
        cache.fetch("entry:a", "a", ask)


def test_files_are_private_and_a_damaged_one_is_a_miss(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    cache, _ = make_cache(runtime, Clock())
    ask = Asker()
    cache.fetch("entry:a", "a", ask)
    path = Path(str(cache.path("entry:a")))

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700

    path.write_text("{not json")
    assert cache.fetch("entry:a", "a", ask) == "v1"
    assert ask.calls == 2


def test_a_clock_set_back_before_the_fetch_asks_again(tmp_path: Path) -> None:
    clock = Clock()
    cache, _ = make_cache(tmp_path, clock)
    ask = Asker()
    cache.fetch("entry:a", "a", ask)

    clock.now -= 3600
    cache.fetch("entry:a", "a", ask)

    assert ask.calls == 2


def test_without_a_directory_every_fetch_asks(tmp_path: Path) -> None:
    cache, err = make_cache(None, Clock())
    ask = Asker()

    cache.fetch("entry:a", "a", ask)
    cache.fetch("entry:a", "a", ask)

    assert ask.calls == 2
    assert "shared values are not cached" in err.getvalue()
    assert list(tmp_path.iterdir()) == []


def test_forget_drops_the_slot(tmp_path: Path) -> None:
    cache, _ = make_cache(tmp_path, Clock())
    ask = Asker()
    cache.fetch("entry:a", "a", ask)

    cache.forget("entry:a")
    cache.fetch("entry:a", "a", ask)

    assert ask.calls == 2


def test_while_serving_stale_it_asks_again_only_after_the_backoff(tmp_path: Path) -> None:
    from docker_credential_convox.shared.cache_fetch import RETRY_BACKOFF

    clock = Clock()
    cache, err = make_cache(tmp_path, clock, rand=lambda: 1.0)
    ask = Asker()
    cache.fetch("entry:a", "a", ask)
    ask.error = THROTTLED
    clock.now += MAX_AGE

    for _ in range(3):
        assert cache.fetch("entry:a", "a", ask) == "v1"
    assert ask.calls == 2  # the first stale serve asked; the next two did not

    clock.now += RETRY_BACKOFF
    ask.error = None
    ask.value = "v2"
    assert cache.fetch("entry:a", "a", ask) == "v2"
    assert ask.calls == 3
    assert "asking again after" in err.getvalue()


def test_the_read_side_answers_what_the_fetch_side_wrote_and_misses_otherwise(
    tmp_path: Path,
) -> None:
    """A `get` the cache answers runs SharedCache alone (cache.py, no fetch side): it reads
    the value and the remembered "no such secret" that FetchingSharedCache wrote."""
    clock = Clock()
    fetching, _ = make_cache(tmp_path, clock, rand=lambda: 1.0)
    fetching.fetch("entry:a", "a", Asker())
    fetching.fetch("entry:none", "none", Asker(value=None))
    err = io.StringIO()
    reader = SharedCache(
        str(tmp_path),
        "secretsmanager:p",
        Diagnostics(err, debug=True),
        max_age=MAX_AGE,
        stale_for=STALE_FOR,
        clock=clock,
    )

    value = reader.hit("entry:a", "a")
    no_secret = reader.hit("entry:none", "none")
    assert value is not None
    assert value.value == "v1"
    assert no_secret is not None
    assert no_secret.value is None
    assert reader.hit("entry:b", "b") is None  # never asked: a miss
    assert "shared cache hit for a" in err.getvalue()
    clock.now += MAX_AGE
    assert reader.hit("entry:a", "a") is None  # past its lifetime: the fetch side asks


class TestSharedCacheContract(FileCacheContract[FetchingSharedCache]):
    """The file-cache contract (tests/cache_contract.py) on the shared-value cache."""

    fresh_for = MAX_AGE  # the jitter's draw is 1.0 here
    usable_for = MAX_AGE + STALE_FOR
    failure_memory = FAILURE_MEMORY

    def new_cache(
        self, directory: Path, clock: ContractClock, stderr: io.StringIO
    ) -> FetchingSharedCache:
        diagnostics = Diagnostics(stderr, debug=True)
        return FetchingSharedCache(
            str(directory),
            "secretsmanager:p",
            diagnostics,
            max_age=MAX_AGE,
            stale_for=STALE_FOR,
            clock=clock,
            rand=lambda: 1.0,
        )

    def fetch(self, cache: FetchingSharedCache, key: str, source: Source) -> str:
        value = cache.fetch(key, key, source)
        assert value is not None
        return value

    def entry_file(self, cache: FetchingSharedCache, key: str) -> Path:
        return Path(str(cache.path(key)))

    def transient_error(self) -> SharedStoreError:
        return THROTTLED

    def permanent_error(self) -> SharedStoreError:
        return DENIED
