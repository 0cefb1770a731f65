"""The file-cache core the ECR token cache and the shared-value cache are written on.

Like botocore's CachedCredentialFetcher, `CachedFetcher` writes the protocol once and its users
say only what an entry is, where it lives and how it reads:

- a read takes no lock; a miss takes the key's exclusive lock (file_writes.exclusive_lock), reads
  again and only then fetches, so N processes that miss at once fetch once between them and the
  other N-1 read the result;
- a failure is remembered for `FAILURE_MEMORY` seconds beside the entries (its one-line error,
  never a secret): the processes queued on the lock, and a client's immediate retries, answer
  it at once instead of each waiting out the same timeouts again. Short, so that a fix made
  outside the helper (`aws sso login`, say) is tried almost at once;
- when fetching fails, the user decides whether the entry it holds may still be served (with a
  warning); otherwise the error stands;
- the trust rule (fileio's): nothing is read or written before its directory passes
  `trusted_dir` (a sticky one gets the helper's private subdirectory), and no file that is not
  the user's alone is believed. A refusal is one warning line and the cache runs uncached from
  then on: every call fetches. A file that cannot be read, parsed or written is a miss (a debug
  line), never a failure of the request: the cache only saves time.

Files are 0600 in a 0700 directory, written atomically. Time is a parameter (`clock`).
"""

from __future__ import annotations

import os
import time

from docker_credential_convox import TYPE_CHECKING, fileio, minijson
from docker_credential_convox.errors import HelperError, StateError

# At run time a stand-in lets `CachedFetcher[Entry]` be written without `typing`.
if TYPE_CHECKING:
    from typing import Callable, Generic, Optional, TypeVar

    from docker_credential_convox.diagnostics import Diagnostics

    Entry = TypeVar("Entry")
    Result = TypeVar("Result")
else:

    class Generic:
        def __class_getitem__(cls, _item: object) -> type:
            return cls

    Entry = None

# A failed fetch is answered again at once for this long (seconds).
FAILURE_MEMORY = 10.0
# A waiter gives up on a lock holder that hangs past this and fetches on its own (botocore's
# timeouts bound the holder far below it; a credential_process or SSO prompt may not).
LOCK_TIMEOUT = 60.0


def finite_number(value: object) -> Optional[float]:
    """A finite JSON number as a float (json.loads accepts Infinity, NaN, 1e400), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer of 400 digits
        return None
    # math.isfinite, without importing math on the cached path: inf - inf and nan - nan are nan.
    return number if number - number == 0.0 else None


def failure_age(record: object, now: float) -> Optional[float]:
    """How long ago a remembered failure happened, or None once it is too old (or no record)."""
    at = finite_number(record.get("at")) if isinstance(record, dict) else None
    if at is None or not 0 <= now - at < FAILURE_MEMORY:
        return None
    return now - at


def describe_time(epoch: float) -> str:
    """An epoch time as UTC ISO 8601, for messages (never an error, whatever the number)."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return f"{epoch!r} (not a representable time)"


def unlink_if_there(path: str) -> None:
    """Remove `path`; gone already (or not removable) is fine. No contextlib: its import costs
    a cached `get` about as much as the rest of it."""
    try:  # noqa: SIM105
        os.unlink(path)
    except OSError:
        pass


class CachedFetcher(Generic[Entry]):
    """Entries of type `Entry` by key, in files under a directory fileio's rule allows.

    Subclasses supply `read`, `save`, `lock_file`, the failure record (`failure_record`,
    `remember_failure`, `forget_failure`, `recalled_error`) and the stale rule (`stale`).
    """

    name = "cache"  # in messages: "NAME disabled for this call: ..."
    retrying = "retrying"  # in messages: "... failed 1.0 s ago; not RETRYING for another 9.0 s"
    max_file_bytes = 1024 * 1024  # a larger file is not one of ours

    def __init__(
        self,
        configured_dir: Optional[str],
        subdir: str,
        diagnostics: Diagnostics,
        clock: Callable[[], float],
    ) -> None:
        # The directory as configured; the files live where fileio's rule puts them (itself,
        # or the helper's private subdirectory of a sticky one), found on each use.
        self._configured_dir = configured_dir
        self._subdir = subdir
        self.directory = self._place(configured_dir) if configured_dir is not None else None
        self.refused = False  # a file or directory here is not the user's alone
        self.diagnostics = diagnostics
        self.clock = clock

    # -- where the files are, and whether they may be believed -------------------------------

    def _place(self, root: str) -> str:
        return os.path.join(root, self._subdir) if self._subdir else root

    def refuse(self, refusal: fileio.Untrusted) -> None:
        """Run uncached from now on: one warning line says which file or directory, and why."""
        self.refused = True
        fileio.report_untrusted(self.diagnostics, refusal, f"{self.name} disabled for this call")

    def locate(self, create: bool = False) -> bool:
        """Point `directory` where fileio's rule allows (made if `create`); False when there is
        none yet, it cannot be made, or it is refused."""
        if self.refused or self._configured_dir is None:
            return False
        try:
            if create:  # a hit never creates: it never loads file_writes
                from docker_credential_convox import file_writes

                root: Optional[str] = file_writes.ensure_private_dir(self._configured_dir)
            else:
                root = fileio.trusted_dir(self._configured_dir)
            if root is not None:
                self.directory = self._place(root)
                if create and self._subdir:  # inside the user's own directory
                    file_writes.ensure_private_dir(self.directory)
        except fileio.Untrusted as exc:
            self.refuse(exc)
            return False
        except StateError as exc:
            if create:
                self.diagnostics.warn(f"{self.name} disabled for this call: {exc.message}")
            else:
                self.diagnostics.debug(f"ignoring the {self.name}: {exc.message}")
            return False
        return root is not None

    def read_document(self, path: str) -> object:  # noqa: PLR0911 - one return per check
        """The JSON in `path` if it is there, ours to believe and parses; else None."""
        if self.refused:
            return None
        try:
            data = fileio.read_regular(path, self.max_file_bytes, private=True)
        except fileio.Untrusted as exc:
            self.refuse(exc)
            return None
        except StateError as exc:  # a FIFO in its place, say: never wait on it
            self.diagnostics.debug(f"ignoring {self.name} file: {exc.message}")
            return None
        if data is None:
            return None
        if len(data) > self.max_file_bytes:
            self.diagnostics.debug(f"ignoring {self.name} file {path}: too large to be ours")
            return None
        try:
            return minijson.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            self.diagnostics.debug(f"ignoring {self.name} file {path}: not valid JSON")
            return None

    def write_document(
        self, path: str, document: object, not_saved: str, warn: bool = True
    ) -> None:
        """Replace `path` atomically with `document` as JSON; a failure is a warning
        (`NOT_SAVED: why`), or a debug line unless `warn`."""
        if self.refused:
            return
        from docker_credential_convox import file_writes  # a hit writes nothing

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
        from docker_credential_convox import file_writes  # a hit takes no lock

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
        cached = self.recall(key)
        if cached is not None and self.answers(key, cached, what, by_another=False):
            return cached
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

    def recall(self, key: str) -> Optional[Entry]:
        """The entry of `key` without a lock (None on a miss)."""
        return self.read(key) if self.locate() else None

    def answers(self, key: str, entry: Entry, what: str, by_another: bool) -> bool:
        """Whether `entry` is the answer without fetching (fresh, say); says so in debug."""
        raise NotImplementedError

    def read(self, key: str) -> Optional[Entry]:
        raise NotImplementedError

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
