"""The file-cache core's fetch part: on a miss, fetch once across processes, write, remember.

`CachedFetcher` extends the read part (filecache.FileCache, which holds the protocol's
description) with what only a miss, a `store` or an `erase` runs: the key's exclusive lock, the
re-read under it, the fetch, the stale rule, the failure memory and the atomic writes. A cache
hit never loads this module.
"""

from __future__ import annotations

import os

from docker_credential_convox import TYPE_CHECKING, file_writes, fileio, minijson
from docker_credential_convox.errors import HelperError, StateError
from docker_credential_convox.filecache import FileCache, finite_number

if TYPE_CHECKING:
    from typing import Callable, Optional, TypeVar

    Entry = TypeVar("Entry")
    Result = TypeVar("Result")
else:
    Entry = None

# A failed fetch is answered again at once for this long (seconds). Short, so that a fix made
# outside the helper (`aws sso login`, say) is tried almost at once.
FAILURE_MEMORY = 10.0
# A waiter gives up on a lock holder that hangs past this and fetches on its own (botocore's
# timeouts bound the holder far below it; a credential_process or SSO prompt may not).
LOCK_TIMEOUT = 60.0


def failure_age(record: object, now: float) -> Optional[float]:
    """How long ago a remembered failure happened, or None once it is too old (or no record)."""
    at = finite_number(record.get("at")) if isinstance(record, dict) else None
    if at is None or not 0 <= now - at < FAILURE_MEMORY:
        return None
    return now - at


def unlink_if_there(path: str) -> None:
    """Remove `path`; gone already (or not removable) is fine. No contextlib: its import costs
    a `get` about as much as the rest of it."""
    try:  # noqa: SIM105
        os.unlink(path)
    except OSError:
        pass


class CachedFetcher(FileCache[Entry]):
    """A FileCache that fetches what it misses, once across processes.

    Subclasses supply `save`, `lock_file`, the failure record (`failure_record`,
    `remember_failure`, `forget_failure`, `recalled_error`) and the stale rule (`stale`).
    """

    def write_document(
        self, path: str, document: object, not_saved: str, warn: bool = True
    ) -> None:
        """Replace `path` atomically with `document` as JSON; a failure is a warning
        (`NOT_SAVED: why`), or a debug line unless `warn`."""
        if self.refused:
            return
        try:
            file_writes.atomic_write(path, minijson.dumps(document, sort_keys=True) + "\n")
        except StateError as exc:
            report = self.diagnostics.warn if warn else self.diagnostics.debug
            report(f"{not_saved}: {exc.message}")

    def lock_timeout(self) -> float:
        return LOCK_TIMEOUT

    def under_lock(
        self, lock_path: str, action: Callable[[], Result], uncached: Callable[[], Result], why: str
    ) -> Result:
        """`action()` holding the exclusive lock at `lock_path`; `uncached()` (after a warning:
        `NAME WHY: ...`) when the lock cannot be had. Errors of `action` pass through."""
        lock = file_writes.exclusive_lock(lock_path, self.lock_timeout())
        try:
            lock.__enter__()  # not `with`: errors of `action` are not the lock's
        except fileio.Untrusted as exc:
            self.refuse(exc)
            return uncached()
        except StateError as exc:
            self.diagnostics.warn(f"{self.name} {why}: {exc.message}")
            return uncached()
        try:
            return action()
        finally:
            lock.__exit__(None, None, None)

    # -- the protocol ------------------------------------------------------------------------

    def fetch_entry(self, key: str, what: str, fetch: Callable[[], Entry]) -> Entry:
        """The entry of `key` (`what` names it in messages): the cached one while it answers,
        else `fetch()`'s, once across processes. `fetch` raises a HelperError."""
        cached = self.answer_cached(key, what)
        return cached if cached is not None else self.fetch_missing(key, what, fetch)

    def fetch_missing(self, key: str, what: str, fetch: Callable[[], Entry]) -> Entry:
        """`fetch_entry` after `answer_cached` missed: under the key's lock, read again, then
        `fetch()` (once across processes)."""
        if not self.locate(create=True):
            return fetch()
        return self.under_lock(
            self.lock_file(key),
            lambda: self._fetch_locked(key, what, fetch),
            fetch,
            "not shared for this call",
        )

    def _fetch_locked(self, key: str, what: str, fetch: Callable[[], Entry]) -> Entry:
        cached = self.read(key)  # again: another process may have fetched meanwhile
        if cached is not None and self.answers(key, cached, what, by_another=True):
            return cached
        recalled = self._recall_failure(key, what)
        try:
            if recalled is not None:
                raise recalled
            entry = fetch()
        except HelperError as exc:
            stale = self.stale(cached, exc, what) if cached is not None else None
            if exc is not recalled and self.memorable(exc, stale is not None):
                self.remember_failure(key, exc)
            if stale is None:
                raise
            self.served_stale(key, stale)
            return stale
        self.forget_failure(key)
        self.save(key, entry)
        return entry

    def _recall_failure(self, key: str, what: str) -> Optional[HelperError]:
        """The error of a failure remembered for `key` if it is recent, with a warning."""
        record = self.failure_record(key)
        age = failure_age(record, self.clock())
        error = self.recalled_error(record) if age is not None else None
        if age is None or error is None:
            return None
        self.diagnostics.warn(
            f"{self.fetching(what)} failed {age:.1f} s ago; not {self.retrying} for another "
            f"{FAILURE_MEMORY - age:.1f} s"
        )
        return error

    # -- what a user supplies ----------------------------------------------------------------

    def fetching(self, what: str) -> str:
        """What failed, in a sentence: "asking X for WHAT"."""
        return f"fetching {what}"

    def save(self, key: str, entry: Entry) -> None:
        raise NotImplementedError

    def lock_file(self, key: str) -> str:
        raise NotImplementedError

    def stale(self, cached: Entry, exc: HelperError, what: str) -> Optional[Entry]:
        """`cached`, if it may be served in place of a failed fetch (with a warning)."""
        return None

    def served_stale(self, key: str, entry: Entry) -> None:
        """After `entry` was served in place of a failed fetch."""

    def memorable(self, exc: HelperError, served_stale: bool) -> bool:
        """Whether a failed fetch is remembered for FAILURE_MEMORY seconds."""
        return True

    def failure_record(self, key: str) -> object:
        """The failure remembered for `key` as its file holds it (None: none)."""
        raise NotImplementedError

    def remember_failure(self, key: str, exc: HelperError) -> None:
        raise NotImplementedError

    def forget_failure(self, key: str) -> None:
        raise NotImplementedError

    def recalled_error(self, record: object) -> Optional[HelperError]:
        """The error a failure record stands for; None if the record is not one of ours."""
        raise NotImplementedError
