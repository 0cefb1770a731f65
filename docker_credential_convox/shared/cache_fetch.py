"""The shared-value cache's fetch side: ask Secrets Manager under the slot's lock, write, remember.

`FetchingSharedCache` is cache.SharedCache (what a hit reads) with filecache's fetch part
(filecache_fetch.CachedFetcher): it asks for a missing or expired slot once across processes,
gives each new entry its jittered lifetime, serves a stale value within the bound when asking
fails for a cause that may pass (and backs off `RETRY_BACKOFF` seconds), remembers a failure
with nothing to serve beside the slot (`FAILURE_SUFFIX`) and forgets a slot this machine
changed. Loaded only on a miss (which loads botocore anyway), without a runtime directory, or
for `registries add|remove --shared`.
"""

from __future__ import annotations

import os

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.errors import HelperError, StateError, one_line
from docker_credential_convox.filecache import describe_time
from docker_credential_convox.filecache_fetch import (
    LOCK_TIMEOUT,
    CachedFetcher,
    unlink_if_there,
)
from docker_credential_convox.shared import SharedStoreError
from docker_credential_convox.shared.cache import (
    FORMAT,
    FORMAT_VERSION,
    JITTER_LOW,
    Cached,
    SharedCache,
)

if TYPE_CHECKING:
    from typing import Callable, Optional

RETRY_BACKOFF = 30.0  # seconds between asks while a stale value is served
FAILURE_SUFFIX = ".failed"


class FetchingSharedCache(CachedFetcher[Cached], SharedCache):
    """The shared cache that also asks, writes and forgets (SharedCache reads for it)."""

    retrying = "asking again"

    @classmethod
    def taking_over(cls, reader: SharedCache) -> FetchingSharedCache:
        """The fetching cache in `reader`'s place: its state (directory, refusal) as it stands,
        so a refusal already warned about is not warned about again."""
        if isinstance(reader, FetchingSharedCache):
            return reader
        cache = cls.__new__(cls)
        cache.__dict__.update(vars(reader))
        return cache

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
        cached = self.hit(slot, what)
        return cached.value if cached is not None else self.ask_missing(slot, what, ask)

    def ask_missing(self, slot: str, what: str, ask: Callable[[], Optional[str]]) -> Optional[str]:
        """`fetch` after `SharedCache.hit` missed (the file is not read again unlocked)."""
        if self.directory is None:
            self.diagnostics.debug(
                "no runtime directory (XDG_RUNTIME_DIR, /run/user/UID): shared values are not "
                "cached, every request asks Secrets Manager"
            )
            return ask()

        def asked() -> Cached:
            asked_at = self.clock()
            return Cached(ask(), asked_at, asked_at)  # `save` gives it its lifetime

        return self.fetch_missing(slot, what, asked).value

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

    # -- the core's fetch hooks ---------------------------------------------------------------

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
