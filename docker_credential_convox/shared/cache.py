"""The per-machine cache of shared values: one small file per slot, in the runtime directory.

A slot is one registry's secret (its value, or the fact that there is none) or the scope's
listing. Every machine asks Secrets Manager about a slot at most once per its jittered age:

- each entry is fresh for a lifetime drawn uniformly from [0.75, 1.0] x max age when it is
  written, so a fleet started together does not refresh together;
- a miss takes the slot's lock (fileio.exclusive_lock, as the ECR token cache does), reads the
  file again and only then asks, so N processes that miss at once make one call between them;
- when asking fails for a cause that may pass (throttled, endpoint down), an entry up to
  `stale_for` seconds past its freshness is served with a warning on stderr; past that, or for
  any other cause (access denied, a KMS refusal), the error stands. While a stale value is
  served, the machine asks again at most every `RETRY_BACKOFF` seconds (not on every `get`),
  so a throttled account is not hammered harder by the fleet that it throttles.
- a failure with nothing to serve is remembered for `FAILURE_MEMORY` seconds beside the slot
  (its one-line error, which holds no secret): the processes queued on the lock, and those that
  arrive meanwhile, answer it at once instead of each waiting out the same timeouts again (as
  the ECR token cache does).

Files live only in the runtime directory (a tmpfs that does not outlive the boot): 0700
directory, 0600 files written atomically. Without a runtime directory nothing is cached and
every request asks (a debug line says so). A file that cannot be read or parsed is a miss,
never a failure: the cache only saves calls. Nothing is read before the directory passes
fileio's rule (a directory others may write is not used; a sticky one gets a private
subdirectory), and an entry that is not the user's alone is never served: one warning, and the
call asks Secrets Manager. Time and randomness are injectable.
"""

from __future__ import annotations

import os

from docker_credential_convox import APP, fileio, jsonlite
from docker_credential_convox.errors import SharedStoreError, StateError, one_line
from docker_credential_convox.tokencache import _number, describe_time

# `typing` costs milliseconds at start-up; mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional

    from docker_credential_convox.diagnostics import Diagnostics

FORMAT = f"{APP}/shared-cache"
FORMAT_VERSION = 1
SUBDIR = "shared"
JITTER_LOW = 0.75  # a lifetime is uniform in [JITTER_LOW, 1.0] x max age
MAX_FILE_BYTES = 1024 * 1024
# A waiter gives up on a holder that hangs past this and asks on its own (botocore's timeouts
# bound the holder's call far below it).
LOCK_TIMEOUT = 60.0
RETRY_BACKOFF = 30.0  # seconds between asks while a stale value is served
FAILURE_MEMORY = 10.0  # seconds a failure with nothing to serve is answered again at once
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


class SharedCache:
    """Slots of one scope, cached in `directory` (None: no cache, every call asks)."""

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
        # The runtime directory as configured; the entries live where fileio's rule puts them
        # (itself, or the helper's private subdirectory of a sticky one), found on each use.
        self._configured_dir = directory
        self.directory = os.path.join(directory, SUBDIR) if directory else None
        self._refused = False  # a file or directory here is not the user's alone
        self.scope = scope
        self.diagnostics = diagnostics
        self.max_age = max_age
        self.stale_for = stale_for
        self.clock = clock
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

    def lifetime(self) -> float:
        """A fresh entry's lifetime: max age scaled by a uniform draw from [0.75, 1.0]."""
        if self._rand is None:
            import random

            self._rand = random.SystemRandom().random
        return self.max_age * (JITTER_LOW + (1.0 - JITTER_LOW) * self._rand())

    # -- files -------------------------------------------------------------------------------

    def _refuse(self, refusal: fileio.Untrusted) -> None:
        """Run uncached from now on: one warning line says which file or directory, and why."""
        self._refused = True
        fileio.report_untrusted(self.diagnostics, refusal, "shared cache disabled for this call")

    def _locate(self, create: bool = False) -> bool:
        """Point `directory` where fileio's rule allows (made if `create`); False when there is
        none yet or it is refused."""
        if self._refused or self._configured_dir is None:
            return False
        try:
            if create:
                root: Optional[str] = fileio.ensure_private_dir(self._configured_dir)
            else:
                root = fileio.trusted_dir(self._configured_dir)
        except fileio.Untrusted as exc:
            self._refuse(exc)
            return False
        except StateError as exc:
            if create:
                self.diagnostics.warn(f"shared cache disabled for this call: {exc.message}")
            else:
                self.diagnostics.debug(f"ignoring the shared cache: {exc.message}")
            return False
        if root is None:
            return False
        self.directory = os.path.join(root, SUBDIR)
        if create:
            fileio.ensure_private_dir(self.directory)  # inside the user's own: nothing to refuse
        return True

    def _read(self, path: str, slot: str) -> Optional[Cached]:  # noqa: PLR0911 - one per check
        if self._refused:
            return None
        try:
            data = fileio.read_regular(path, MAX_FILE_BYTES, private=True)
        except fileio.Untrusted as exc:
            self._refuse(exc)
            return None
        except StateError as exc:
            self.diagnostics.debug(f"ignoring shared cache entry: {exc.message}")
            return None
        if data is None or len(data) > MAX_FILE_BYTES:
            return None
        try:
            document = jsonlite.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None
        if (
            not isinstance(document, dict)
            or document.get("format") != FORMAT
            or document.get("version") != FORMAT_VERSION
            or document.get("scope") != self.scope
            or document.get("slot") != slot
        ):
            return None
        value = document.get("value")
        fetched = _number(document.get("fetched_at"))
        fresh_until = _number(document.get("fresh_until"))
        if fetched is None or fresh_until is None or not (value is None or isinstance(value, str)):
            return None
        if not 0 <= fresh_until - fetched <= self.max_age:  # a longer life than ours: not ours
            return None
        retry_at = _number(document.get("retry_at", 0.0)) or 0.0
        return Cached(value, fetched, fresh_until, min(retry_at, fresh_until + self.stale_for))

    def _write(self, path: str, slot: str, cached: Cached) -> None:
        if self._refused:
            return
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
        try:
            fileio.atomic_write(path, jsonlite.dumps(document) + "\n")
        except StateError as exc:
            self.diagnostics.warn(f"shared cache not saved: {exc.message}")

    def _prepare(self) -> bool:
        try:
            return self._locate(create=True)
        except StateError as exc:  # the `shared` subdirectory could not be made
            self.diagnostics.warn(f"shared cache disabled for this call: {exc.message}")
            return False

    # -- what callers use --------------------------------------------------------------------

    def _cached(self, slot: str) -> Optional[Cached]:
        """The entry of `slot` as the file holds it, read only once its directory is checked:
        an entry planted where others may write is never served."""
        if not self._locate():
            return None
        path = self.path(slot)
        return self._read(path, slot) if path is not None else None

    def fetch(  # noqa: PLR0911 - one return per outcome
        self, slot: str, what: str, ask: Callable[[], Optional[str]]
    ) -> Optional[str]:
        """The value of `slot` (`what` names it in messages): the cached one while fresh, else
        `ask()`'s (once across processes), or a stale one within the bound when asking fails
        for a transient cause. `ask` raises SharedStoreError."""
        if self._configured_dir is None:
            self.diagnostics.debug(
                "no runtime directory (XDG_RUNTIME_DIR, /run/user/UID): shared values are not "
                "cached, every request asks Secrets Manager"
            )
            return ask()
        cached = self._cached(slot)
        if cached is not None and cached.is_fresh(self.clock()):
            self.diagnostics.debug(f"shared cache hit for {what}")
            return cached.value
        if cached is not None and self._backing_off(cached, what):
            return cached.value
        if not self._prepare():
            return ask()
        path = self.path(slot)
        assert path is not None
        try:
            with fileio.exclusive_lock(path + ".lock", LOCK_TIMEOUT):
                return self._fetch_locked(path, slot, what, ask)
        except fileio.Untrusted as exc:
            self._refuse(exc)
            return ask()
        except StateError as exc:
            self.diagnostics.warn(f"shared cache not shared for this call: {exc.message}")
            return ask()

    def _fetch_locked(
        self, path: str, slot: str, what: str, ask: Callable[[], Optional[str]]
    ) -> Optional[str]:
        cached = self._read(path, slot)  # again: another process may have asked meanwhile
        if cached is not None and cached.is_fresh(self.clock()):
            self.diagnostics.debug(f"{what} was fetched by another process")
            return cached.value
        if cached is not None and self._backing_off(cached, what):
            return cached.value
        self._raise_recent_failure(path + FAILURE_SUFFIX, what)
        asked_at = self.clock()
        try:
            value = ask()
        except SharedStoreError as exc:
            served = self._stale(cached, exc, what)
            if served is None:
                self._remember_failure(path + FAILURE_SUFFIX, exc)
                raise
            served.retry_at = self.clock() + RETRY_BACKOFF
            self._write(path, slot, served)
            return served.value
        self._write(path, slot, Cached(value, asked_at, asked_at + self.lifetime()))
        _unlink_if_there(path + FAILURE_SUFFIX)
        return value

    def _remember_failure(self, path: str, exc: SharedStoreError) -> None:
        record = {
            "at": self.clock(),
            "cause": exc.cause,
            "detail": exc.detail,
            "transient": exc.transient,
            "hint": exc.hint,
        }
        if self._refused:
            return
        try:
            fileio.atomic_write(path, jsonlite.dumps(record) + "\n")
        except StateError as exc_state:
            self.diagnostics.debug(f"failure not remembered: {exc_state.message}")

    def _raise_recent_failure(self, path: str, what: str) -> None:
        """Raise again the failure remembered at `path` if it is recent (see the docstring)."""
        if self._refused:
            return
        try:
            data = fileio.read_regular(path, MAX_FILE_BYTES, private=True)
            record = jsonlite.loads(data.decode("utf-8")) if data else None
        except fileio.Untrusted as exc:
            self._refuse(exc)
            return
        except (StateError, UnicodeDecodeError, ValueError, RecursionError):
            return
        if not isinstance(record, dict):
            return
        at = _number(record.get("at"))
        cause, detail, hint = record.get("cause"), record.get("detail"), record.get("hint")
        if at is None or not isinstance(cause, str) or not isinstance(detail, str):
            return
        age = self.clock() - at
        if not 0 <= age < FAILURE_MEMORY:
            return
        self.diagnostics.warn(
            f"asking Secrets Manager for {what} failed {age:.1f} s ago; not asking again for "
            f"another {FAILURE_MEMORY - age:.1f} s"
        )
        # The file is ours (0600), but what reaches stdout must stay one line all the same.
        raise SharedStoreError(
            one_line(cause, 200),
            one_line(detail, 400),
            transient=bool(record.get("transient")),
            hint=hint if isinstance(hint, str) else None,
        )

    def _stale(
        self, cached: Optional[Cached], exc: SharedStoreError, what: str
    ) -> Optional[Cached]:
        """`cached`, if it may be served in place of a failed call (with a warning)."""
        if cached is None or not exc.transient:
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

    def forget(self, slot: str) -> None:
        """Drop `slot` (after this machine changed the secret itself)."""
        if not self._locate():
            return
        path = self.path(slot)
        if path is None:
            return
        _unlink_if_there(path + FAILURE_SUFFIX)
        if not os.path.exists(path):
            return
        try:
            with fileio.exclusive_lock(path + ".lock", LOCK_TIMEOUT):
                os.unlink(path)
        except (OSError, StateError) as exc:
            self.diagnostics.debug(f"shared cache entry {path} not dropped: {exc}")


def _unlink_if_there(path: str) -> None:
    """Remove `path`; gone already (or not removable) is fine. No contextlib: its import costs
    a cached `get` about as much as the rest of it."""
    try:  # noqa: SIM105
        os.unlink(path)
    except OSError:
        pass
