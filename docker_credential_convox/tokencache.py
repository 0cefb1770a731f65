"""Expiry-aware registry-token cache, as a cache hit reads it: cachetools in process, over one file.

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

This module is what a cache hit runs: `CachedToken`, the memory, reading the file
(`TokenCache`). Minting under the lock, writing the file, remembering failures and forgetting a
registry are tokencache_fetch.py's (`FetchingTokenCache`, which takes a TokenCache over), loaded
when a token must be minted (which loads botocore anyway) or the cache changes.
"""

from __future__ import annotations

import time

from docker_credential_convox import APP, TYPE_CHECKING, minios
from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.filecache import FileCache, describe_time, finite_number

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


class TokenCache(FileCache[CachedToken]):
    """Tokens by cache key (which names the credential source), read from memory and `path`."""

    name = "token cache"
    max_file_bytes = MAX_FILE_BYTES

    def __init__(
        self,
        path: str,
        diagnostics: Diagnostics,
        clock: Callable[[], float] = time.time,
        memory: bool = False,
    ) -> None:
        configured_dir, self._file_name = minios.split(path)
        super().__init__(configured_dir, "", diagnostics, clock)
        self._memory: Optional[TLRUCache[str, CachedToken]] = None
        if memory:
            self._memory = self._new_memory()

    @property
    def path(self) -> str:
        return minios.join(self.directory or "", self._file_name)

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

    def hit(self, key: str) -> Optional[CachedToken]:
        """The fresh token of `key` if the cache holds one (said in debug); None on a miss."""
        return self.answer_cached(key, "")

    def peek(self, key: str) -> Optional[CachedToken]:
        """The token the file holds for `key`, fresh or not, without locking or writing."""
        return self._read_file().get(key)

    def registries(self) -> dict[str, str]:
        """Registry -> username for every usable cached token; reads the file, no lock."""
        now = self.clock()
        return {
            token.registry: token.username
            for token in self._read_file().values()
            if token.is_usable(now)
        }
