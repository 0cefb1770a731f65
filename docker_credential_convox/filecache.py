"""The file-cache core the ECR token cache and the shared-value cache are written on: its read part.

Like botocore's CachedCredentialFetcher, the core writes the protocol once and its users say
only what an entry is, where it lives and how it reads. It comes in two parts, so that a cache
hit loads only what it runs: this one (`FileCache`) finds the directory, believes or refuses
its files and answers from them; filecache_fetch.py (`CachedFetcher`, a subclass) fetches on a
miss, writes, locks and remembers failures. The protocol:

- a read takes no lock; a miss takes the key's exclusive lock (file_writes.exclusive_lock), reads
  again and only then fetches, so N processes that miss at once fetch once between them and the
  other N-1 read the result;
- a failure is remembered for a few seconds beside the entries (its one-line error, never a
  secret): the processes queued on the lock, and a client's immediate retries, answer it at
  once instead of each waiting out the same timeouts again;
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

import time

from docker_credential_convox import TYPE_CHECKING, fileio, minijson, minios
from docker_credential_convox.errors import StateError

# At run time a stand-in lets `FileCache[Entry]` be written without `typing`.
if TYPE_CHECKING:
    from typing import Callable, Generic, Optional, TypeVar

    from docker_credential_convox.diagnostics import Diagnostics

    Entry = TypeVar("Entry")
else:

    class Generic:
        def __class_getitem__(cls, _item: object) -> type:
            return cls

    Entry = None


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


def describe_time(epoch: float) -> str:
    """An epoch time as UTC ISO 8601, for messages (never an error, whatever the number)."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return f"{epoch!r} (not a representable time)"


class FileCache(Generic[Entry]):
    """Entries of type `Entry` by key, read from files under a directory fileio's rule allows.

    Subclasses supply `read` and `answers`; filecache_fetch.CachedFetcher adds fetching.
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
        return minios.join(root, self._subdir) if self._subdir else root

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

    def answer_cached(self, key: str, what: str) -> Optional[Entry]:
        """The entry of `key` (`what` names it in messages) if the cache answers it without
        fetching (fresh, say), read without a lock; None on a miss."""
        cached = self.recall(key)
        if cached is not None and self.answers(key, cached, what, by_another=False):
            return cached
        return None

    # -- what a user supplies ----------------------------------------------------------------

    def recall(self, key: str) -> Optional[Entry]:
        """The entry of `key` without a lock (None on a miss)."""
        return self.read(key) if self.locate() else None

    def answers(self, key: str, entry: Entry, what: str, by_another: bool) -> bool:
        """Whether `entry` is the answer without fetching (fresh, say); says so in debug."""
        raise NotImplementedError

    def read(self, key: str) -> Optional[Entry]:
        raise NotImplementedError
