"""Expiry-aware registry-token cache: cachetools in process, over one file (filecache's core).

Levels:
- in process, a `cachetools.TLRUCache` whose time-to-use is each token's refresh point, on the
  same injectable clock as everything else. It is created on first need (after a mint, or on
  request for long-lived callers), because a one-shot `get` answered from the file gains nothing
  from it and `cachetools` costs milliseconds to import;
- across processes, one JSON file of every token, read, locked, re-read, minted into and
  trusted by filecache's protocol; failed mints are remembered in `FAILURES_FILE` beside it (8
  concurrent `get`s against an endpoint that never answers used to end at 20, 40, 60 and 80 s).
  A successful mint, a `store` and an `erase` of the registry forget them.

A token is *fresh* until half its lifetime has passed (then it is refreshed) and *usable* while
more than `USABLE_MARGIN` seconds remain; an unusable token is never returned. When a mint fails
(for whatever cause: a token stays good until it expires) and the cached token is still usable,
it is returned with a warning.
"""

from __future__ import annotations

import os
import time

from docker_credential_convox import APP, TYPE_CHECKING
from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.errors import (
    CredentialsNotFound,
    HelperError,
    RememberedFailure,
    one_line,
)
from docker_credential_convox.filecache import FAILURE_MEMORY as FAILURE_MEMORY  # noqa: PLC0414
from docker_credential_convox.filecache import (
    LOCK_TIMEOUT,
    CachedFetcher,
    describe_time,
    failure_age,
    finite_number,
    unlink_if_there,
)

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
        issued = finite_number(issued_at)
        expires = finite_number(expires_at)
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


class TokenCache(CachedFetcher[CachedToken]):
    """Tokens by cache key (which names the credential source), in memory and in `path`."""

    name = "token cache"
    max_file_bytes = MAX_FILE_BYTES

    def __init__(
        self,
        path: str,
        diagnostics: Diagnostics,
        clock: Callable[[], float] = time.time,
        memory: bool = False,
    ) -> None:
        configured_dir, self._file_name = os.path.split(path)
        super().__init__(configured_dir, "", diagnostics, clock)
        self._memory: Optional[TLRUCache[str, CachedToken]] = None
        if memory:
            self._memory = self._new_memory()

    @property
    def path(self) -> str:
        return os.path.join(self.directory or "", self._file_name)

    @property
    def lock_path(self) -> str:
        return self.path + ".lock"

    @property
    def failures_path(self) -> str:
        return os.path.join(self.directory or "", FAILURES_FILE)

    def lock_timeout(self) -> float:
        return LOCK_TIMEOUT  # read at each use: a test shortens it

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

    def _recall_memory(self, key: str) -> Optional[CachedToken]:
        if self._memory is None:
            return None
        token = self._memory.get(key)
        if token is not None and token.is_fresh(self.clock()):
            return token
        return None

    # -- the file level ----------------------------------------------------------------------

    def _read_file(self) -> dict[str, CachedToken]:
        """Every token in the file; a missing, unreadable, corrupt or foreign file is empty."""
        if not self.locate():
            return {}
        document = self.read_document(self.path)
        if document is None:
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
        now = self.clock()
        usable = {k: t.to_json() for k, t in tokens.items() if t.is_usable(now)}
        document = {"format": FORMAT, "version": FORMAT_VERSION, "tokens": usable}
        self.write_document(self.path, document, "token cache not saved")

    # -- the core's hooks --------------------------------------------------------------------

    def recall(self, key: str) -> Optional[CachedToken]:
        return self.get_valid(key)

    def read(self, key: str) -> Optional[CachedToken]:
        return self._read_file().get(key)

    def answers(self, key: str, entry: CachedToken, what: str, by_another: bool) -> bool:
        if not entry.is_fresh(self.clock()):
            return False
        if by_another:
            self.diagnostics.debug(f"token for {entry.registry} was minted by another process")
            self._remember(key, entry)
        else:
            self.diagnostics.debug(
                f"token cache hit for {entry.registry} (expires {describe_time(entry.expires_at)})"
            )
        return True

    def save(self, key: str, entry: CachedToken) -> None:
        if entry.is_usable(self.clock()):
            tokens = self._read_file()
            tokens[key] = entry
            self._write_file(tokens)
            self._remember(key, entry)

    def lock_file(self, key: str) -> str:
        return self.lock_path  # one file holds every token: one lock

    def stale(self, cached: CachedToken, exc: HelperError, what: str) -> Optional[CachedToken]:
        # A token stays good until it expires, whatever the mint's error: any failure serves it.
        if not cached.is_usable(self.clock()):
            return None
        self.diagnostics.warn(
            f"could not refresh the token for {cached.registry} ({exc.message}); "
            f"using the cached one, valid until {describe_time(cached.expires_at)}"
        )
        return cached

    def memorable(self, exc: HelperError, served_stale: bool) -> bool:
        return not isinstance(exc, (CredentialsNotFound, RememberedFailure))

    def fetching(self, what: str) -> str:
        return "getting a token from this source"

    def failure_record(self, key: str) -> object:
        return self._read_failures().get(key)

    def remember_failure(self, key: str, exc: HelperError) -> None:
        failures = self._read_failures()
        # Its one-line error and hint (no secret), and when.
        failures[key] = {"message": exc.message, "hint": exc.hint, "at": self.clock()}
        self._write_failures(failures)

    def forget_failure(self, key: str) -> None:
        failures = self._read_failures()
        if failures.pop(key, None) is not None:
            self._write_failures(failures)

    def recalled_error(self, record: object) -> Optional[HelperError]:
        assert isinstance(record, dict)  # failure_age checked it
        message, hint = record.get("message"), record.get("hint")
        if not isinstance(message, str) or not message:
            return None
        # The file is ours (0600), but what reaches stdout must stay one line all the same.
        return RememberedFailure(
            one_line(message, MESSAGE_LIMIT), hint if isinstance(hint, str) else None
        )

    # -- what callers use --------------------------------------------------------------------

    def get_valid(self, key: str) -> Optional[CachedToken]:
        """A fresh token for `key` from memory or the file, without locking; None on a miss."""
        token = self._recall_memory(key)
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
        return self.fetch_entry(key, "", mint)

    def peek(self, key: str) -> Optional[CachedToken]:
        """The token the file holds for `key`, fresh or not, without locking or writing."""
        return self._read_file().get(key)

    # -- remembered failures -----------------------------------------------------------------

    def _read_failures(self) -> dict[str, dict[str, object]]:
        """Failures by cache key; a missing or damaged file holds none."""
        document = self.read_document(self.failures_path)
        failures = document.get("failures") if isinstance(document, dict) else None
        if not isinstance(failures, dict):
            return {}
        return {k: v for k, v in failures.items() if isinstance(k, str) and isinstance(v, dict)}

    def _write_failures(self, failures: dict[str, dict[str, object]]) -> None:
        """Replace the failures file, dropping the old ones; failures only warn."""
        now = self.clock()
        kept = {k: v for k, v in failures.items() if failure_age(v, now) is not None}
        if kept or os.path.exists(self.failures_path):
            document = {"failures": kept}
            self.write_document(self.failures_path, document, "mint failure not remembered")

    def put(self, key: str, token: CachedToken) -> None:
        """Record a token minted elsewhere (by `store`'s verification, say)."""
        if not token.is_usable(self.clock()):
            return
        self._remember(key, token)

        def change(tokens: dict[str, CachedToken]) -> None:
            tokens[key] = token
            # Credentials changed, so every remembered failure deserves a new try (they are
            # rare and short-lived; forgetting all costs at most one early retry).
            unlink_if_there(self.failures_path)

        self._update(change)

    def forget_registry(self, registry: str) -> int:
        """Drop every token cached for `registry` (whatever its source); how many were dropped."""
        if self._memory is not None:
            for key in [k for k, t in self._memory.items() if t.registry == registry]:
                self._memory.pop(key, None)
        if not self.locate():
            return 0
        if not os.path.exists(self.path) and not os.path.exists(self.failures_path):
            return 0
        dropped: list[str] = []

        def change(tokens: dict[str, CachedToken]) -> None:
            for key in [k for k, t in tokens.items() if t.registry == registry]:
                del tokens[key]
                dropped.append(key)
            unlink_if_there(self.failures_path)

        self._update(change)
        return len(dropped)

    def _update(self, change: Callable[[dict[str, CachedToken]], object]) -> None:
        def locked() -> None:
            tokens = self._read_file()
            change(tokens)
            self._write_file(tokens)

        if self.locate(create=True):
            self.under_lock(self.lock_path, locked, lambda: None, "not updated")

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
