"""Expiry-aware registry-token cache: cachetools in process, over a locked, atomic file.

Levels:
- in process, a `cachetools.TLRUCache` whose time-to-use is each token's refresh point, on the
  same injectable clock as everything else. It is created on first need (after a mint, or on
  request for long-lived callers), because a one-shot `get` answered from the file gains nothing
  from it and `cachetools` costs milliseconds to import;
- across processes, one JSON file (0600, in a 0700 directory) replaced atomically. Reads take no
  lock; a miss takes an exclusive lock, reads again and only then mints, so N processes that miss
  at once mint one token between them and the other N-1 read it.

A mint that fails is remembered for `FAILURE_MEMORY` seconds (its one-line error, which never
holds a secret; never a token): the processes queued on the lock and those that arrive within
that time get the same error at once instead of minting again. A successful mint, a `store` and
an `erase` of the registry forget it.

A token is *fresh* until half its lifetime has passed (then it is refreshed) and *usable* while
more than `USABLE_MARGIN` seconds remain; an unusable token is never returned. When a mint fails
and the cached token is still usable, it is returned with a warning. A cache file that cannot be
read, parsed or written is ignored (and rewritten when possible), never a failure of the request:
the cache only saves time. One that others may have written (fileio's rule: a directory or file
not the user's alone, a link) is neither read nor written: one warning, and the call mints.
"""

from __future__ import annotations

import os
import time

from docker_credential_convox import APP, fileio, jsonlite
from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.errors import (
    CredentialsNotFound,
    HelperError,
    RememberedFailure,
    StateError,
    one_line,
)

# `typing` costs milliseconds at start-up; mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional

    from cachetools import TLRUCache

FORMAT = f"{APP}/token-cache"
FORMAT_VERSION = 1
# A token must have at least this long left to be returned at all, even as a fallback.
USABLE_MARGIN = 300.0
# Refuse to parse a cache file larger than this (it is not ours).
MAX_FILE_BYTES = 4 * 1024 * 1024
MEMORY_ENTRIES = 64
# ECR tokens live 12 hours; an entry claiming a longer life (1e300, Infinity) is not one we
# wrote, and trusting it would pin that token forever.
MAX_TOKEN_LIFETIME = 24 * 3600.0
# A process minting under the lock is bounded by botocore's timeouts, but a credential_process
# or SSO prompt can hang; past this, a waiter stops waiting and mints on its own.
LOCK_TIMEOUT = 60.0
# A failed mint is remembered this long (seconds) in FAILURES_FILE beside the cache, so the
# processes that waited on the lock, and a client's immediate retries, fail at once with the
# same one line instead of each waiting out the same AWS timeouts again (8 concurrent `get`s
# against an endpoint that never answers used to end at 20, 40, 60 and 80 s). Short, so that
# a fix made outside the helper (`aws sso login`, say) is tried almost at once.
FAILURE_MEMORY = 10.0
FAILURES_FILE = "failures.json"
MESSAGE_LIMIT = 1000  # characters of a remembered error line


class CachedToken:
    """A registry token with when it was issued and when it expires (epoch seconds)."""

    __slots__ = ("expires_at", "issued_at", "registry", "secret", "username")

    def __init__(
        self, registry: str, username: str, secret: str, issued_at: float, expires_at: float
    ) -> None:
        self.registry = registry
        self.username = username
        self.secret = secret
        self.issued_at = issued_at
        self.expires_at = expires_at

    @property
    def refresh_at(self) -> float:
        """When half the token's lifetime has passed: from then on a new one is minted."""
        return self.issued_at + (self.expires_at - self.issued_at) / 2

    def is_fresh(self, now: float) -> bool:
        """Young enough to return without trying to refresh it."""
        return now < self.refresh_at and self.is_usable(now)

    def is_usable(self, now: float) -> bool:
        """Not expired, with a margin: the only tokens ever returned."""
        return self.expires_at - now > USABLE_MARGIN

    def to_json(self) -> dict[str, object]:
        return {
            "registry": self.registry,
            "username": self.username,
            "secret": self.secret,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, document: object) -> Optional[CachedToken]:
        """The token in a cache entry, or None if the entry is not one of ours."""
        if not isinstance(document, dict):
            return None
        registry = document.get("registry")
        username = document.get("username")
        secret = document.get("secret")
        issued_at = document.get("issued_at")
        expires_at = document.get("expires_at")
        if not (isinstance(registry, str) and isinstance(username, str)):
            return None
        if not isinstance(secret, str) or not secret:
            return None
        issued = _number(issued_at)
        expires = _number(expires_at)
        if issued is None or expires is None:
            return None
        if not 0 < expires - issued <= MAX_TOKEN_LIFETIME:  # issued after expiry, or for ever
            return None
        return cls(registry, username, secret, issued, expires)

    def __repr__(self) -> str:
        return (
            f"CachedToken(registry={self.registry!r}, username={self.username!r}, secret=***, "
            f"issued_at={self.issued_at}, expires_at={self.expires_at})"
        )


def _number(value: object) -> Optional[float]:
    """A finite JSON number as a float (json.loads accepts Infinity, NaN, 1e400), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer of 400 digits
        return None
    # math.isfinite, without importing math on the cached path: inf - inf and nan - nan are nan.
    return number if number - number == 0.0 else None


def _failure_record(error: HelperError, now: float) -> dict[str, object]:
    """What is remembered of a failed mint: its one-line error and hint (no secret), and when."""
    return {"message": error.message, "hint": error.hint, "at": now}


def _failure_age(record: dict[str, object], now: float) -> Optional[float]:
    """How long ago a remembered failure happened, or None once it is too old to count."""
    at = _number(record.get("at"))
    if at is None or not 0 <= now - at < FAILURE_MEMORY:
        return None
    return now - at


def describe_time(epoch: float) -> str:
    """An epoch time as UTC ISO 8601, for messages (never an error, whatever the number)."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return f"{epoch!r} (not a representable time)"


class TokenCache:
    """Tokens by cache key (which names the credential source), in memory and in `path`."""

    def __init__(
        self,
        path: str,
        diagnostics: Diagnostics,
        clock: Callable[[], float] = time.time,
        memory: bool = False,
    ) -> None:
        # The directory as configured; the files live where fileio's rule puts them (itself,
        # or the helper's private subdirectory of a sticky /tmp), found on first use.
        self._configured_dir, self._file_name = os.path.split(path)
        self._use(self._configured_dir)
        self._refused = False  # a file or directory here is not the user's alone
        self.diagnostics = diagnostics
        self.clock = clock
        self._memory: Optional[TLRUCache[str, CachedToken]] = None
        if memory:
            self._memory = self._new_memory()

    # -- the in-process level ----------------------------------------------------------------

    def _new_memory(self) -> TLRUCache[str, CachedToken]:
        from cachetools import TLRUCache

        def time_to_use(_key: str, token: CachedToken, _now: float) -> float:
            return token.refresh_at

        return TLRUCache(maxsize=MEMORY_ENTRIES, ttu=time_to_use, timer=self.clock)

    def _remember(self, key: str, token: CachedToken) -> None:
        if self._memory is None:
            self._memory = self._new_memory()
        if token.is_fresh(self.clock()):
            self._memory[key] = token

    def _recall(self, key: str) -> Optional[CachedToken]:
        if self._memory is None:
            return None
        token = self._memory.get(key)
        if token is not None and token.is_fresh(self.clock()):
            return token
        return None

    # -- the file level ----------------------------------------------------------------------

    def _use(self, directory: str) -> None:
        self.path = os.path.join(directory, self._file_name)
        self.lock_path = self.path + ".lock"
        self.failures_path = os.path.join(directory, FAILURES_FILE)

    def _refuse(self, refusal: fileio.Untrusted) -> None:
        """Run uncached from now on: one warning line says which file or directory, and why."""
        self._refused = True
        fileio.report_untrusted(self.diagnostics, refusal, "token cache disabled for this call")

    def _locate(self, create: bool = False) -> bool:
        """Point the paths at the directory fileio's rule allows (made if `create`); False when
        there is none yet or it is refused."""
        if self._refused:
            return False
        try:
            if create:
                directory: Optional[str] = fileio.ensure_private_dir(self._configured_dir)
            else:
                directory = fileio.trusted_dir(self._configured_dir)
        except fileio.Untrusted as exc:
            self._refuse(exc)
            return False
        except StateError as exc:
            if create:
                self.diagnostics.warn(f"token cache disabled for this call: {exc.message}")
            else:
                self.diagnostics.debug(f"ignoring token cache: {exc.message}")
            return False
        if directory is None:
            return False
        self._use(directory)
        return True

    def _read_bytes(self) -> Optional[bytes]:
        """The file's bytes if it is there and may be believed (fileio's rule), else None."""
        if not self._locate():
            return None
        try:
            data = fileio.read_regular(self.path, MAX_FILE_BYTES, private=True)
        except fileio.Untrusted as exc:
            self._refuse(exc)
            return None
        except StateError as exc:  # a FIFO in its place, say: never wait on it
            self.diagnostics.debug(f"ignoring token cache: {exc.message}")
            return None
        if data is not None and len(data) > MAX_FILE_BYTES:
            self.diagnostics.debug(f"ignoring token cache {self.path}: too large to be ours")
            return None
        return data

    def _read_file(self) -> dict[str, CachedToken]:
        """Every token in the file; a missing, unreadable, corrupt or foreign file is empty."""
        data = self._read_bytes()
        if data is None:
            return {}
        try:
            document = jsonlite.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            self.diagnostics.debug(f"ignoring token cache {self.path}: not valid JSON")
            return {}
        if (
            not isinstance(document, dict)
            or document.get("format") != FORMAT
            or document.get("version") != FORMAT_VERSION
            or not isinstance(document.get("tokens"), dict)
        ):
            self.diagnostics.debug(f"ignoring token cache {self.path}: not a token cache")
            return {}
        tokens: dict[str, CachedToken] = {}
        for key, value in document["tokens"].items():
            token = CachedToken.from_json(value)
            if isinstance(key, str) and token is not None:
                tokens[key] = token
        return tokens

    def _write_file(self, tokens: dict[str, CachedToken]) -> None:
        """Replace the file with `tokens`, dropping unusable ones; failures only warn."""
        if self._refused:
            return
        now = self.clock()
        document = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "tokens": {
                key: tokens[key].to_json() for key in sorted(tokens) if tokens[key].is_usable(now)
            },
        }
        try:
            import json  # writing: after a mint, never on a cache hit

            fileio.atomic_write(self.path, json.dumps(document, indent=1) + "\n")
        except StateError as exc:
            self.diagnostics.warn(f"token cache not saved: {exc.message}")

    def _prepare_directory(self) -> bool:
        return self._locate(create=True)

    # -- what callers use --------------------------------------------------------------------

    def get_valid(self, key: str) -> Optional[CachedToken]:
        """A fresh token for `key` from memory or the file, without locking; None on a miss."""
        token = self._recall(key)
        if token is not None:
            return token
        token = self._read_file().get(key)
        if token is None or not token.is_fresh(self.clock()):
            return None
        if self._memory is not None:
            self._remember(key, token)
        return token

    def fetch(self, key: str, mint: Callable[[], CachedToken]) -> CachedToken:
        """A fresh token for `key`, minting one (once across processes) when there is none.

        `mint` raises a HelperError on failure; then a cached token that is still usable is
        returned with a warning, and otherwise the error propagates.
        """
        token = self.get_valid(key)
        if token is not None:
            self.diagnostics.debug(
                f"token cache hit for {token.registry} (expires {describe_time(token.expires_at)})"
            )
            return token
        if not self._prepare_directory():
            return mint()
        import contextlib  # minting: never on a cache hit

        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(fileio.exclusive_lock(self.lock_path, LOCK_TIMEOUT))
            except fileio.Untrusted as exc:
                self._refuse(exc)
                return mint()
            except StateError as exc:
                self.diagnostics.warn(f"token cache not shared for this call: {exc.message}")
                return mint()
            return self._fetch_locked(key, mint)

    def _fetch_locked(self, key: str, mint: Callable[[], CachedToken]) -> CachedToken:
        tokens = self._read_file()  # again: another process may have minted meanwhile
        cached = tokens.get(key)
        if cached is not None and cached.is_fresh(self.clock()):
            self.diagnostics.debug(f"token for {cached.registry} was minted by another process")
            self._remember(key, cached)
            return cached
        failures = self._read_failures()
        try:
            self._raise_recent_failure(failures.get(key))
            token = mint()
        except HelperError as exc:
            if not isinstance(exc, (CredentialsNotFound, RememberedFailure)):
                failures[key] = _failure_record(exc, self.clock())
                self._write_failures(failures)
            if cached is not None and cached.is_usable(self.clock()):
                self.diagnostics.warn(
                    f"could not refresh the token for {cached.registry} ({exc.message}); "
                    f"using the cached one, valid until {describe_time(cached.expires_at)}"
                )
                return cached
            raise
        if failures.pop(key, None) is not None:
            self._write_failures(failures)
        if token.is_usable(self.clock()):
            tokens[key] = token
            self._write_file(tokens)
            self._remember(key, token)
        return token

    def peek(self, key: str) -> Optional[CachedToken]:
        """The token the file holds for `key`, fresh or not, without locking or writing."""
        return self._read_file().get(key)

    # -- remembered failures -----------------------------------------------------------------

    def _read_failures(self) -> dict[str, dict[str, object]]:
        """Failures by cache key; a missing or damaged file holds none."""
        if self._refused:
            return {}
        try:  # a FIFO never hangs
            data = fileio.read_regular(self.failures_path, MAX_FILE_BYTES, private=True)
            document = jsonlite.loads(data.decode("utf-8")) if data else None
        except fileio.Untrusted as exc:
            self._refuse(exc)
            return {}
        except (StateError, UnicodeDecodeError, ValueError, RecursionError):
            return {}
        failures = document.get("failures") if isinstance(document, dict) else None
        if not isinstance(failures, dict):
            return {}
        return {k: v for k, v in failures.items() if isinstance(k, str) and isinstance(v, dict)}

    def _write_failures(self, failures: dict[str, dict[str, object]]) -> None:
        """Replace the failures file, dropping the old ones; failures only warn."""
        if self._refused:
            return
        now = self.clock()
        kept = {k: v for k, v in failures.items() if _failure_age(v, now) is not None}
        try:
            if kept or os.path.exists(self.failures_path):
                import json

                text = json.dumps({"failures": kept}, indent=1, sort_keys=True) + "\n"
                fileio.atomic_write(self.failures_path, text)
        except StateError as exc:
            self.diagnostics.warn(f"mint failure not remembered: {exc.message}")

    def _raise_recent_failure(self, record: Optional[dict[str, object]]) -> None:
        """Raise the error of a failure remembered for a key, if it is recent."""
        if record is None:
            return
        age = _failure_age(record, self.clock())
        message, hint = record.get("message"), record.get("hint")
        if age is None or not isinstance(message, str) or not message:
            return
        self.diagnostics.warn(
            f"getting a token from this source failed {age:.1f} s ago; not retrying for "
            f"another {FAILURE_MEMORY - age:.1f} s"
        )
        # The file is ours (0600), but what reaches stdout must stay one line all the same.
        raise RememberedFailure(
            one_line(message, MESSAGE_LIMIT), hint if isinstance(hint, str) else None
        )

    def _forget_failures(self) -> None:
        """Forget every remembered failure: credentials changed, so each deserves a new try.

        (Failures are rare and short-lived; forgetting all costs at most one early retry.)
        """
        try:  # noqa: SIM105 - contextlib costs a cached `get` milliseconds
            os.unlink(self.failures_path)
        except OSError:  # missing already, or not ours to remove
            pass

    def put(self, key: str, token: CachedToken) -> None:
        """Record a token minted elsewhere (by `store`'s verification, say)."""
        if not token.is_usable(self.clock()):
            return
        self._remember(key, token)

        def change(tokens: dict[str, CachedToken]) -> None:
            tokens[key] = token
            self._forget_failures()

        self._update(change)

    def forget_registry(self, registry: str) -> int:
        """Drop every token cached for `registry` (whatever its source); how many were dropped."""
        if self._memory is not None:
            for key in [k for k, t in self._memory.items() if t.registry == registry]:
                self._memory.pop(key, None)
        if not self._locate():
            return 0
        if not os.path.exists(self.path) and not os.path.exists(self.failures_path):
            return 0
        dropped: list[str] = []

        def change(tokens: dict[str, CachedToken]) -> None:
            for key in [k for k, t in tokens.items() if t.registry == registry]:
                del tokens[key]
                dropped.append(key)
            self._forget_failures()

        self._update(change)
        return len(dropped)

    def _update(self, change: Callable[[dict[str, CachedToken]], object]) -> None:
        if not self._prepare_directory():
            return
        try:
            with fileio.exclusive_lock(self.lock_path, LOCK_TIMEOUT):
                tokens = self._read_file()
                change(tokens)
                self._write_file(tokens)
        except fileio.Untrusted as exc:
            self._refuse(exc)
        except StateError as exc:
            self.diagnostics.warn(f"token cache not updated: {exc.message}")

    def registries(self) -> dict[str, str]:
        """Registry -> username for every usable cached token; reads the file, no lock."""
        now = self.clock()
        return {
            token.registry: token.username
            for token in self._read_file().values()
            if token.is_usable(now)
        }


class NullTokenCache(TokenCache):
    """The cache when the user turned it off: every `get` mints, nothing is kept or listed.

    `forget_registry` still clears what an earlier, cached run left behind.
    """

    def get_valid(self, key: str) -> Optional[CachedToken]:
        return None

    def fetch(self, key: str, mint: Callable[[], CachedToken]) -> CachedToken:
        return mint()

    def put(self, key: str, token: CachedToken) -> None:
        return None

    def registries(self) -> dict[str, str]:
        return {}


def token_cache(
    path: str, diagnostics: Diagnostics, clock: Callable[[], float], enabled: bool
) -> TokenCache:
    """The token cache at `path`, or the null cache when caching is off."""
    cache_class = TokenCache if enabled else NullTokenCache
    return cache_class(path, diagnostics, clock)
