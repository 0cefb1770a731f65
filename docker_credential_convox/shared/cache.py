"""The per-machine cache of shared values, as a hit reads it: one file per slot, in the runtime dir.

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

This module is what a `get` the cache answers runs (a value, a remembered "not shared", a stale
value while it backs off): `Cached`, where a slot's file is, reading and believing it
(`SharedCache`). Asking under the slot's lock, writing, the failure memory and forgetting a slot
are cache_fetch.py's (`FetchingSharedCache`, which takes a SharedCache over, with
`RETRY_BACKOFF`), loaded on a miss (which loads botocore anyway) or a change. Neither `os` nor
filecache_fetch is imported here: minios makes the few system calls a hit needs.
"""

from __future__ import annotations

from docker_credential_convox import APP, TYPE_CHECKING, minios
from docker_credential_convox.filecache import FileCache, describe_time, finite_number

if TYPE_CHECKING:
    from typing import Callable, Optional

    from docker_credential_convox.diagnostics import Diagnostics

FORMAT = f"{APP}/shared-cache"
FORMAT_VERSION = 1
SUBDIR = "shared"
JITTER_LOW = 0.75  # a lifetime is uniform in [JITTER_LOW, 1.0] x max age


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


class SharedCache(FileCache[Cached]):
    """Slots of one scope, read from files in `directory` (None: no cache, every call asks)."""

    name = "shared cache"

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
        self._rand = rand  # drawn by the fetch side, for a new entry's lifetime

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
        return minios.join(self.directory, digest + ".json")

    def _path(self, slot: str) -> str:
        path = self.path(slot)
        assert path is not None  # only asked once the directory is located
        return path

    # -- what callers use --------------------------------------------------------------------

    def hit(self, slot: str, what: str) -> Optional[Cached]:
        """The entry of `slot` (`what` names it in messages) if the cache answers it without
        asking (fresh, or stale while it backs off), read without a lock; None on a miss (then
        FetchingSharedCache.ask_missing asks)."""
        return self.answer_cached(slot, what)

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
