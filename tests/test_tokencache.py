"""The token cache on its own: expiry with an injected clock, damaged files, modes, processes.

`mint` here is the cache's own injection point (a callable the ECR backend supplies), so these
tests pass plain functions; the ECR tests drive the same cache through moto_server.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.errors import SourceError
from docker_credential_convox.tokencache import (
    FORMAT,
    FORMAT_VERSION,
    MAX_FILE_BYTES,
    USABLE_MARGIN,
    CachedToken,
    TokenCache,
)
from docker_credential_convox.tokencache_fetch import (
    FAILURE_MEMORY,
    FetchingTokenCache,
    NullTokenCache,
)

pytest.register_assert_rewrite("cache_contract")  # before its import: asserts show values
from cache_contract import Clock as ContractClock  # noqa: E402
from cache_contract import FileCacheContract, Source  # noqa: E402

HOUR = 3600.0
T0 = 1_800_000_000.0
LIFETIME = 12 * HOUR
REGISTRY = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
KEY = json.dumps([REGISTRY, "ecr", "us-west-2", "", {"default": {}}])


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Minter:
    """Mints numbered tokens valid for `lifetime` from the clock's now, or fails on demand."""

    def __init__(self, clock: Clock, lifetime: float = LIFETIME) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls = 0
        self.failing = False

    def __call__(self) -> CachedToken:
        self.calls += 1
        if self.failing:
            raise SourceError("cannot get an ECR token: AccessDeniedException: denied")
        now = self.clock()
        return CachedToken(REGISTRY, "AWS", f"token-{self.calls}", now, now + self.lifetime)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stderr() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "docker-credential-convox" / "tokens.json"


@pytest.fixture
def cache(cache_path: Path, clock: Clock, stderr: io.StringIO) -> FetchingTokenCache:
    return FetchingTokenCache(str(cache_path), Diagnostics(stderr, debug=True), clock)


@pytest.fixture
def minter(clock: Clock) -> Minter:
    return Minter(clock)


def test_fresh_token_is_reused_without_minting(cache: FetchingTokenCache, minter: Minter) -> None:
    first = cache.fetch(KEY, minter)
    second = cache.fetch(KEY, minter)
    assert (first.secret, second.secret, minter.calls) == ("token-1", "token-1", 1)


def test_token_is_refreshed_once_less_than_half_its_lifetime_remains(
    cache: FetchingTokenCache, minter: Minter, clock: Clock
) -> None:
    cache.fetch(KEY, minter)
    clock.advance(LIFETIME / 2 - 1)
    assert cache.fetch(KEY, minter).secret == "token-1"
    clock.advance(2)
    assert cache.fetch(KEY, minter).secret == "token-2"
    assert minter.calls == 2


def test_a_new_cache_object_finds_the_token_in_the_file(
    cache: FetchingTokenCache, minter: Minter, cache_path: Path, clock: Clock
) -> None:
    cache.fetch(KEY, minter)
    other = FetchingTokenCache(str(cache_path), Diagnostics(io.StringIO()), clock)
    token = other.get_valid(KEY)
    assert token is not None
    assert token.secret == "token-1"


def test_mint_failure_returns_a_still_usable_cached_token_with_a_warning(
    cache: FetchingTokenCache, minter: Minter, clock: Clock, stderr: io.StringIO
) -> None:
    cache.fetch(KEY, minter)
    clock.advance(LIFETIME * 0.75)
    minter.failing = True
    assert cache.fetch(KEY, minter).secret == "token-1"
    assert "warning: could not refresh the token" in stderr.getvalue()
    assert "AccessDeniedException" in stderr.getvalue()
    assert "token-1" not in stderr.getvalue()


def test_an_expired_token_is_never_returned_even_when_minting_fails(
    cache: FetchingTokenCache, minter: Minter, clock: Clock
) -> None:
    cache.fetch(KEY, minter)
    clock.advance(LIFETIME - USABLE_MARGIN + 1)  # not expired yet, but too close to it
    minter.failing = True
    with pytest.raises(SourceError):
        cache.fetch(KEY, minter)
    clock.advance(HOUR)
    with pytest.raises(SourceError):
        cache.fetch(KEY, minter)


def test_a_minted_token_that_is_already_expired_is_returned_to_the_caller_but_not_cached(
    cache: FetchingTokenCache, clock: Clock, cache_path: Path
) -> None:
    # The backend refuses such a token itself; the cache must simply never keep it.
    expired = Minter(clock, lifetime=-HOUR)
    cache.fetch(KEY, expired)
    assert cache.get_valid(KEY) is None
    assert not cache_path.exists() or KEY not in json.loads(cache_path.read_text())["tokens"]


def test_memory_level_is_a_tlru_cache_that_expires_on_the_injected_clock(
    cache_path: Path, clock: Clock, minter: Minter
) -> None:
    cache = FetchingTokenCache(str(cache_path), Diagnostics(io.StringIO()), clock, memory=True)
    cache.fetch(KEY, minter)
    cache_path.unlink()  # only the memory level holds it now
    assert cache.fetch(KEY, minter).secret == "token-1"
    clock.advance(LIFETIME / 2 + 1)
    assert cache.fetch(KEY, minter).secret == "token-2"
    assert minter.calls == 2


def test_a_file_hit_in_a_fresh_object_builds_no_memory_level(
    cache: FetchingTokenCache, minter: Minter, cache_path: Path, clock: Clock
) -> None:
    cache.fetch(KEY, minter)
    other = FetchingTokenCache(str(cache_path), Diagnostics(io.StringIO()), clock)
    assert other.get_valid(KEY) is not None
    assert other._memory is None  # a one-shot `get` never pays for importing cachetools


DAMAGED = {
    "empty": b"",
    "truncated": b'{"format": "docker-credential-convox/token-cache", "version": 1, "tok',
    "binary": b"\xff\xfe\x00garbage\x00",
    "a list": b"[1, 2, 3]",
    "foreign json": b'{"registries": {}, "version": 1}',
    "future version": json.dumps({"format": FORMAT, "version": 99, "tokens": {}}).encode(),
    "wrong types": json.dumps(
        {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "tokens": {KEY: {"registry": 1, "secret": None, "issued_at": "x", "expires_at": []}},
        }
    ).encode(),
    "tokens not an object": json.dumps(
        {"format": FORMAT, "version": FORMAT_VERSION, "tokens": [KEY]}
    ).encode(),
    "too large": b" " * (MAX_FILE_BYTES + 10),
}


@pytest.mark.parametrize("content", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_or_foreign_cache_file_is_ignored_and_rewritten(
    cache: FetchingTokenCache, minter: Minter, cache_path: Path, content: bytes
) -> None:
    cache_path.parent.mkdir(parents=True)
    cache_path.write_bytes(content)
    assert cache.get_valid(KEY) is None
    assert cache.fetch(KEY, minter).secret == "token-1"
    document = json.loads(cache_path.read_text())
    assert document["format"] == FORMAT
    assert document["tokens"][KEY]["secret"] == "token-1"


def test_a_cache_path_that_cannot_be_a_file_warns_and_still_returns_the_token(
    cache: FetchingTokenCache, minter: Minter, cache_path: Path, stderr: io.StringIO
) -> None:
    cache_path.mkdir(parents=True)  # a directory where the file should be
    assert cache.fetch(KEY, minter).secret == "token-1"
    assert "warning: token cache not saved" in stderr.getvalue()


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("open_umask")
def test_cache_file_is_0600_in_a_0700_directory_whatever_the_umask(
    cache: FetchingTokenCache, minter: Minter, cache_path: Path
) -> None:
    cache.fetch(KEY, minter)
    assert stat.S_IMODE(cache_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache_path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(Path(cache.lock_path).stat().st_mode) == 0o600


def test_an_existing_cache_directory_is_used_as_it_is_never_chmodded(
    cache: FetchingTokenCache, minter: Minter, cache_path: Path
) -> None:
    # Only directories the helper creates are its to chmod (the user may have named $HOME).
    cache_path.parent.mkdir(parents=True)
    cache_path.parent.chmod(0o755)
    cache.fetch(KEY, minter)
    assert stat.S_IMODE(cache_path.parent.stat().st_mode) == 0o755
    assert stat.S_IMODE(cache_path.stat().st_mode) == 0o600


# A sticky directory others may write is refused too unless it is world-writable like /tmp
# (then the helper keeps a private subdirectory in it: test_trust.py).
@pytest.mark.parametrize("shared_mode", [0o775, 0o777, 0o1775])
def test_a_cache_directory_others_may_write_is_refused_with_a_warning_not_chmodded(
    cache: FetchingTokenCache,
    minter: Minter,
    cache_path: Path,
    stderr: io.StringIO,
    shared_mode: int,
) -> None:
    cache_path.parent.mkdir(parents=True)
    cache_path.parent.chmod(shared_mode)
    assert cache.fetch(KEY, minter).secret == "token-1"
    assert stat.S_IMODE(cache_path.parent.stat().st_mode) == shared_mode
    assert not cache_path.exists()
    assert "token cache disabled for this call" in stderr.getvalue()
    assert "shared with other users" in stderr.getvalue()


def test_the_fetch_side_takes_over_the_read_side_with_its_refusal(
    cache_path: Path, minter: Minter, clock: Clock, stderr: io.StringIO
) -> None:
    # A `get` reads with TokenCache, then mints with FetchingTokenCache: one warning, not two.
    cache_path.parent.mkdir(parents=True)
    cache_path.parent.chmod(0o775)
    reader = TokenCache(str(cache_path), Diagnostics(stderr, debug=True), clock)
    assert reader.hit(KEY) is None
    fetching = FetchingTokenCache.taking_over(reader)
    assert fetching.fetch(KEY, minter).secret == "token-1"
    assert stderr.getvalue().count("token cache disabled for this call") == 1
    assert FetchingTokenCache.taking_over(fetching) is fetching


def test_a_loose_cache_file_is_replaced_by_a_0600_one(
    cache: FetchingTokenCache, minter: Minter, cache_path: Path
) -> None:
    cache_path.parent.mkdir(parents=True)
    cache_path.write_text("{}")
    cache_path.chmod(0o644)
    cache.fetch(KEY, minter)
    assert stat.S_IMODE(cache_path.stat().st_mode) == 0o600


def test_disabled_cache_mints_every_time_and_writes_nothing(
    cache_path: Path, clock: Clock, minter: Minter
) -> None:
    cache = NullTokenCache(str(cache_path), Diagnostics(io.StringIO()), clock)
    assert cache.hit(KEY) is None
    cache.fetch(KEY, minter)
    cache.fetch(KEY, minter)
    assert minter.calls == 2
    assert not cache_path.parent.exists()
    assert cache.registries() == {}


def test_forget_registry_drops_every_source_of_that_registry_only(
    cache: FetchingTokenCache, clock: Clock
) -> None:
    other = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"
    now = clock()
    cache.put("a", CachedToken(REGISTRY, "AWS", "s1", now, now + LIFETIME))
    cache.put("b", CachedToken(REGISTRY, "AWS", "s2", now, now + LIFETIME))
    cache.put("c", CachedToken(other, "AWS", "s3", now, now + LIFETIME))
    assert cache.forget_registry(REGISTRY) == 2
    assert (cache.get_valid("a"), cache.get_valid("b")) == (None, None)
    assert cache.registries() == {other: "AWS"}


def test_registries_lists_only_usable_tokens(cache: FetchingTokenCache, clock: Clock) -> None:
    now = clock()
    cache.put("a", CachedToken(REGISTRY, "AWS", "s1", now, now + LIFETIME))
    assert cache.registries() == {REGISTRY: "AWS"}
    clock.advance(LIFETIME)
    assert cache.registries() == {}


def test_put_ignores_a_token_that_is_not_usable(
    cache: FetchingTokenCache, clock: Clock, cache_path: Path
) -> None:
    now = clock()
    cache.put("a", CachedToken(REGISTRY, "AWS", "s1", now - LIFETIME, now))
    assert not cache_path.exists()


def test_cached_token_repr_hides_the_secret() -> None:
    token = CachedToken(REGISTRY, "AWS", "very-secret", T0, T0 + LIFETIME)
    assert "very-secret" not in repr(token)


# -- many processes, one mint ------------------------------------------------------------------


def _fetch_in_child(path: str, mint_log: str, start: float, results: str) -> None:
    """Child process: wait for the start time, fetch, and append the secret it got."""
    import time

    def mint() -> CachedToken:
        with open(mint_log, "a") as log:
            log.write(f"{os.getpid()}\n")
        time.sleep(0.3)  # a slow mint, so that the others pile up on the lock
        now = time.time()
        return CachedToken(REGISTRY, "AWS", f"token-of-{os.getpid()}", now, now + LIFETIME)

    while time.time() < start:
        time.sleep(0.001)
    token = FetchingTokenCache(path, Diagnostics(io.StringIO())).fetch(KEY, mint)
    with open(results, "a") as out:
        out.write(token.secret + "\n")


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_many_processes_missing_at_once_mint_exactly_one_token(tmp_path: Path) -> None:
    import time

    context = multiprocessing.get_context("fork")
    path = str(tmp_path / "cache" / "tokens.json")
    mint_log = str(tmp_path / "mints.log")
    results = str(tmp_path / "results.log")
    start = time.time() + 0.5
    children = [
        context.Process(target=_fetch_in_child, args=(path, mint_log, start, results))
        for _ in range(24)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    assert len(Path(mint_log).read_text().splitlines()) == 1
    secrets = Path(results).read_text().splitlines()
    assert len(secrets) == 24
    assert len(set(secrets)) == 1


def test_a_lock_held_too_long_by_another_process_is_given_up_and_the_token_minted(
    cache: FetchingTokenCache,
    minter: Minter,
    cache_path: Path,
    stderr: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import subprocess

    from docker_credential_convox import tokencache_fetch

    monkeypatch.setattr(tokencache_fetch, "LOCK_TIMEOUT", 0.3)
    cache_path.parent.mkdir(parents=True, mode=0o700)
    # A real second process holds the lock and hangs (as a stuck credential_process would).
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(cache_path) + '.lock'!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        assert cache.fetch(KEY, minter).secret == "token-1"
    finally:
        holder.kill()
        holder.wait()
    assert "token cache not shared for this call" in stderr.getvalue()


def test_lock_timeout_raises_a_state_error_naming_the_lock(tmp_path: Path) -> None:
    from docker_credential_convox import file_writes
    from docker_credential_convox.errors import StateError

    lock = str(tmp_path / "x.lock")
    with (
        file_writes.exclusive_lock(lock),
        pytest.raises(StateError, match=r"x\.lock"),
        file_writes.exclusive_lock(lock, timeout=0.1),
    ):
        pass


def test_default_chain_cache_identity_counts_long_term_keys_but_not_rotating_ones() -> None:
    from docker_credential_convox.settings import Settings

    long_term = Settings({"AWS_ACCESS_KEY_ID": "AKIDLONGTERM"}).aws_default_chain_identity()
    other = Settings({"AWS_ACCESS_KEY_ID": "AKIDOTHER"}).aws_default_chain_identity()
    assert long_term != other
    session_a = Settings({"AWS_ACCESS_KEY_ID": "ASIA1", "AWS_SESSION_TOKEN": "t1"})
    session_b = Settings({"AWS_ACCESS_KEY_ID": "ASIA2", "AWS_SESSION_TOKEN": "t2"})
    assert session_a.aws_default_chain_identity() == session_b.aws_default_chain_identity()
    assert "t1" not in json.dumps(session_a.aws_default_chain_identity())


# --- a failed mint is shared with the processes waiting for it, and remembered briefly -------


def other_process_cache(cache_path: Path, clock: Clock, stderr: io.StringIO) -> FetchingTokenCache:
    """Another process's view of the same cache file (nothing shared in memory)."""
    return FetchingTokenCache(str(cache_path), Diagnostics(stderr, debug=True), clock)


def test_a_failed_mint_is_answered_from_memory_by_the_next_process_without_minting(
    cache: FetchingTokenCache, minter: Minter, clock: Clock, cache_path: Path
) -> None:
    minter.failing = True
    with pytest.raises(SourceError) as first:
        cache.fetch(KEY, minter)
    clock.advance(FAILURE_MEMORY - 1)
    stderr = io.StringIO()
    with pytest.raises(SourceError) as second:
        other_process_cache(cache_path, clock, stderr).fetch(KEY, minter)
    assert minter.calls == 1
    assert second.value.message == first.value.message
    assert "not retrying" in stderr.getvalue()


def test_a_remembered_failure_is_retried_once_it_is_old(
    cache: FetchingTokenCache, minter: Minter, clock: Clock, cache_path: Path
) -> None:
    minter.failing = True
    with pytest.raises(SourceError):
        cache.fetch(KEY, minter)
    clock.advance(FAILURE_MEMORY)
    minter.failing = False
    token = other_process_cache(cache_path, clock, io.StringIO()).fetch(KEY, minter)
    assert (token.secret, minter.calls) == ("token-2", 2)


def test_a_remembered_failure_concerns_its_own_key_only(
    cache: FetchingTokenCache, minter: Minter, clock: Clock, cache_path: Path
) -> None:
    minter.failing = True
    with pytest.raises(SourceError):
        cache.fetch(KEY, minter)
    minter.failing = False
    other_key = KEY.replace("us-west-2", "eu-west-1")
    assert other_process_cache(cache_path, clock, io.StringIO()).fetch(other_key, minter)
    assert minter.calls == 2


def test_a_token_put_by_store_or_forgetting_the_registry_clears_a_remembered_failure(
    cache: FetchingTokenCache, minter: Minter, clock: Clock, cache_path: Path
) -> None:
    minter.failing = True
    with pytest.raises(SourceError):
        cache.fetch(KEY, minter)
    cache.forget_registry(REGISTRY)
    minter.failing = False
    assert other_process_cache(cache_path, clock, io.StringIO()).fetch(KEY, minter)
    assert minter.calls == 2


def test_a_remembered_failure_still_returns_a_usable_cached_token(
    cache: FetchingTokenCache, minter: Minter, clock: Clock, cache_path: Path
) -> None:
    cache.fetch(KEY, minter)
    clock.advance(LIFETIME * 0.75)
    minter.failing = True
    assert cache.fetch(KEY, minter).secret == "token-1"
    stderr = io.StringIO()
    assert other_process_cache(cache_path, clock, stderr).fetch(KEY, minter).secret == "token-1"
    assert minter.calls == 2  # the second process did not mint again
    assert "token-1" not in stderr.getvalue()


def test_the_remembered_failure_file_is_private_and_holds_no_token(
    cache: FetchingTokenCache, minter: Minter, clock: Clock, cache_path: Path
) -> None:
    cache.fetch(KEY, minter)
    clock.advance(LIFETIME)  # expired: the failure is the answer
    minter.failing = True
    with pytest.raises(SourceError):
        cache.fetch(KEY, minter)
    failures = cache_path.parent / "failures.json"
    assert stat.S_IMODE(failures.stat().st_mode) == 0o600
    assert "token-1" not in failures.read_text()
    assert "AccessDeniedException" in failures.read_text()


class TestTokenCacheContract(FileCacheContract[FetchingTokenCache]):
    """The file-cache contract (tests/cache_contract.py) on the token cache."""

    fresh_for = LIFETIME / 2
    usable_for = LIFETIME - USABLE_MARGIN
    failure_memory = FAILURE_MEMORY

    def new_cache(
        self, directory: Path, clock: ContractClock, stderr: io.StringIO
    ) -> FetchingTokenCache:
        return FetchingTokenCache(
            str(directory / "tokens.json"), Diagnostics(stderr, debug=True), clock
        )

    def fetch(self, cache: FetchingTokenCache, key: str, source: Source) -> str:
        def mint() -> CachedToken:
            now = cache.clock()
            return CachedToken(REGISTRY, "AWS", source(), now, now + LIFETIME)

        return cache.fetch(key, mint).secret

    def entry_file(self, cache: FetchingTokenCache, key: str) -> Path:
        return Path(cache.path)

    def transient_error(self) -> SourceError:
        return SourceError("cannot get an ECR token: EndpointConnectionError")

    def permanent_error(self) -> None:
        return None  # a token stays good until it expires, whatever the mint's failure
