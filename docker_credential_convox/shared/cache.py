"""The per-machine cache of shared values: one small file per slot, in the runtime directory.

A slot is one registry's secret (its value, or the fact that there is none) or the scope's
listing. Every machine asks Secrets Manager about a slot at most once per its jittered age:

- each entry is fresh for a lifetime drawn uniformly from [0.75, 1.0] x max age when it is
  written, so a fleet started together does not refresh together;
- a miss takes the slot's lock, reads the file again and only then asks, so N processes that
  miss at once make one call between them (filecache's protocol, as the ECR token cache);
- when asking fails for a cause that may pass (throttled, endpoint down), an entry up to
  `stale_for` seconds past its freshness is served with a warning on stderr; past that, or for
  any other cause (access denied, a KMS refusal), the error stands. While a stale value is
  served, the machine asks again at most every `RETRY_BACKOFF` seconds (not on every `get`),
  so a throttled account is not hammered harder by the fleet that it throttles.
- a failure with nothing to serve is remembered for `FAILURE_MEMORY` seconds beside the slot
  (its one-line error, which holds no secret): the processes queued on the lock, and those that
  arrive meanwhile, answer it at once instead of each waiting out the same timeouts again.

Files live only in the runtime directory (a tmpfs that does not outlive the boot): 0700
directory, 0600 files written atomically. Without a runtime directory nothing is cached and
every request asks (a debug line says so). A file that cannot be read or parsed is a miss,
never a failure, and an entry that is not the user's alone is never served: one warning, and
the call asks Secrets Manager (filecache's trust rule). Time and randomness are injectable.
"""

from __future__ import annotations

import os

from docker_credential_convox import APP, TYPE_CHECKING
from docker_credential_convox.errors import HelperError, StateError, one_line
from docker_credential_convox.filecache import describe_time, finite_number
from docker_credential_convox.filecache_fetch import (
    LOCK_TIMEOUT,
    CachedFetcher,
    unlink_if_there,
)
from docker_credential_convox.shared import SharedStoreError

if TYPE_CHECKING:
    from typing import Callable, Optional

    from docker_credential_convox.diagnostics import Diagnostics

FORMAT = f"{APP}/shared-cache"
FORMAT_VERSION = 1
SUBDIR = "shared"
JITTER_LOW = 0.75  # a lifetime is uniform in [JITTER_LOW, 1.0] x max age
RETRY_BACKOFF = 30.0  # seconds between asks while a stale value is served
FAILURE_SUFFIX = ".failed"


class Cached:
    """A slot's value as cached (None: the secret does not exist) and when it was asked."""

    __slots__ = ("fetched_at", "fresh_until", "retry_at", "value")

    def __init__(
        self, value: Optional[str], fetched_at: float, fresh_until: float, retry_at: float = 0.0
    ) -> None:
        self.value = value
        self.fetched_at = fetched_at
        self.fresh_until = fresh_until
        self.retry_at = retry_at  # while served stale: when to ask again

    def is_fresh(self, now: float) -> bool:
        # A clock set back before the fetch is not fresh either: ask again.
        return self.fetched_at <= now < self.fresh_until


class SharedCache(CachedFetcher[Cached]):
    """Slots of one scope, cached in `directory` (None: no cache, every call asks)."""

    name = "shared cache"
    retrying = "asking again"

    def __init__(
        self,
        directory: Optional[str],
        scope: str,
        diagnostics: Diagnostics,
        *,
        max_age: float,
        stale_for: float,
        clock: Callable[[], float],
        rand: Optional[Callable[[], float]] = None,
    ) -> None:
        super().__init__(directory or None, SUBDIR, diagnostics, clock)
        self.scope = scope
        self.max_age = max_age
        self.stale_for = stale_for
        self._rand = rand

    def path(self, slot: str) -> Optional[str]:
        """The file of `slot`, named by a checksum of scope and slot (which may hold any
        character). zlib, not hashlib: hashlib loads OpenSSL, ~10 ms of every cached `get`.
        Two slots that collide only share a file: each file names its scope and slot, so
        the other one reads as a miss, never as its value."""
        if self.directory is None:
            return None
        import zlib

        data = f"{self.scope}\0{slot}".encode()
        digest = f"{zlib.crc32(data):08x}{zlib.crc32(data, 0x9E3779B9):08x}{zlib.adler32(data):08x}"
        return os.path.join(self.directory, digest + ".json")

    def _path(self, slot: str) -> str:
        path = self.path(slot)
        assert path is not None  # only asked once the directory is located
        return path

    def lifetime(self) -> float:
        """A fresh entry's lifetime: max age scaled by a uniform draw from [0.75, 1.0]."""
        if self._rand is None:
            import random

            self._rand = random.SystemRandom().random
        return self.max_age * (JITTER_LOW + (1.0 - JITTER_LOW) * self._rand())

    # -- what callers use --------------------------------------------------------------------

    def fetch(self, slot: str, what: str, ask: Callable[[], Optional[str]]) -> Optional[str]:
        """The value of `slot` (`what` names it in messages): the cached one while fresh, else
        `ask()`'s (once across processes), or a stale one within the bound when asking fails
        for a transient cause. `ask` raises SharedStoreError."""
        if self.directory is None:
            self.diagnostics.debug(
                "no runtime directory (XDG_RUNTIME_DIR, /run/user/UID): shared values are not "
                "cached, every request asks Secrets Manager"
            )
            return ask()

        def asked() -> Cached:
            asked_at = self.clock()
            return Cached(ask(), asked_at, asked_at)  # `save` gives it its lifetime

        return self.fetch_entry(slot, what, asked).value

    def forget(self, slot: str) -> None:
        """Drop `slot` (after this machine changed the secret itself)."""
        if not self.locate():
            return
        path = self._path(slot)
        unlink_if_there(path + FAILURE_SUFFIX)
        if not os.path.exists(path):
            return
        from docker_credential_convox import file_writes  # a read takes no lock

        try:
            with file_writes.exclusive_lock(path + ".lock", LOCK_TIMEOUT):
                os.unlink(path)
        except (OSError, StateError) as exc:
            self.diagnostics.debug(f"shared cache entry {path} not dropped: {exc}")

    # -- the core's hooks --------------------------------------------------------------------

    def read(self, key: str) -> Optional[Cached]:
        document = self.read_document(self._path(key))
        if (
            not isinstance(document, dict)
            or document.get("format") != FORMAT
            or document.get("version") != FORMAT_VERSION
            or document.get("scope") != self.scope
            or document.get("slot") != key
        ):
            return None
        value = document.get("value")
        fetched = finite_number(document.get("fetched_at"))
        fresh_until = finite_number(document.get("fresh_until"))
        if fetched is None or fresh_until is None or not (value is None or isinstance(value, str)):
            return None
        if not 0 <= fresh_until - fetched <= self.max_age:  # a longer life than ours: not ours
            return None
        retry_at = finite_number(document.get("retry_at", 0.0)) or 0.0
        return Cached(value, fetched, fresh_until, min(retry_at, fresh_until + self.stale_for))

    def _write(self, slot: str, cached: Cached) -> None:
        document = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "scope": self.scope,
            "slot": slot,
            "fetched_at": cached.fetched_at,
            "fresh_until": cached.fresh_until,
            "value": cached.value,
            "retry_at": cached.retry_at,
        }
        self.write_document(self._path(slot), document, "shared cache not saved")

    def save(self, key: str, entry: Cached) -> None:
        entry.fresh_until = entry.fetched_at + self.lifetime()
        self._write(key, entry)

    def lock_file(self, key: str) -> str:
        return self._path(key) + ".lock"

    def answers(self, key: str, entry: Cached, what: str, by_another: bool) -> bool:
        if entry.is_fresh(self.clock()):
            found = f"{what} was fetched by another process" if by_another else None
            self.diagnostics.debug(found or f"shared cache hit for {what}")
            return True
        return self._backing_off(entry, what)

    def _backing_off(self, cached: Cached, what: str) -> bool:
        """Whether a stale value is being served and it is not yet time to ask again."""
        now = self.clock()
        if not cached.fetched_at <= now < min(cached.retry_at, cached.fresh_until + self.stale_for):
            return False
        self.diagnostics.warn(
            f"Secrets Manager failed for {what} a moment ago; using the value cached at "
            f"{describe_time(cached.fetched_at)} (asking again after "
            f"{describe_time(cached.retry_at)})"
        )
        return True

    def stale(self, cached: Cached, exc: HelperError, what: str) -> Optional[Cached]:
        if not isinstance(exc, SharedStoreError) or not exc.transient:
            return None
        now = self.clock()
        until = cached.fresh_until + self.stale_for
        if not (cached.fetched_at <= now < until):
            self.diagnostics.debug(
                f"the cached {what} expired at {describe_time(cached.fresh_until)}, past the "
                f"{self.stale_for:g} s it may be served while Secrets Manager fails"
            )
            return None
        self.diagnostics.warn(
            f"Secrets Manager did not answer for {what} ({exc.cause}); using the value cached "
            f"at {describe_time(cached.fetched_at)}, for at most {until - now:.0f} s more"
        )
        return cached

    def served_stale(self, key: str, entry: Cached) -> None:
        # Back off: the fleet a throttled account throttles should not ask on every `get`.
        entry.retry_at = self.clock() + RETRY_BACKOFF
        self._write(key, entry)

    def memorable(self, exc: HelperError, served_stale: bool) -> bool:
        # While a stale value is served, the entry's retry_at backs off instead.
        return isinstance(exc, SharedStoreError) and not served_stale

    def fetching(self, what: str) -> str:
        return f"asking Secrets Manager for {what}"

    def failure_record(self, key: str) -> object:
        return self.read_document(self._path(key) + FAILURE_SUFFIX)

    def remember_failure(self, key: str, exc: HelperError) -> None:
        assert isinstance(exc, SharedStoreError)  # see memorable
        record = {
            "at": self.clock(),
            "cause": exc.cause,
            "detail": exc.detail,
            "transient": exc.transient,
            "hint": exc.hint,
        }
        path = self._path(key) + FAILURE_SUFFIX
        self.write_document(path, record, "failure not remembered", warn=False)

    def forget_failure(self, key: str) -> None:
        unlink_if_there(self._path(key) + FAILURE_SUFFIX)

    def recalled_error(self, record: object) -> Optional[HelperError]:
        assert isinstance(record, dict)  # failure_age checked it
        cause, detail, hint = record.get("cause"), record.get("detail"), record.get("hint")
        if not isinstance(cause, str) or not isinstance(detail, str):
            return None
        # The file is ours (0600), but what reaches stdout must stay one line all the same.
        return SharedStoreError(
            one_line(cause, 200),
            one_line(detail, 400),
            transient=bool(record.get("transient")),
            hint=hint if isinstance(hint, str) else None,
        )
