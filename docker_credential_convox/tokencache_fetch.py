"""The ECR token cache's fetch side: mint under the lock, write the file, remember failures.

`FetchingTokenCache` is tokencache.TokenCache (what a cache hit reads) with filecache's fetch
part (filecache_fetch.CachedFetcher): it mints a missing or aging token once across processes,
serves a usable one when minting fails, remembers failed mints in `FAILURES_FILE` for
FAILURE_MEMORY seconds, records tokens minted elsewhere and forgets a registry's tokens. Loaded
only when a token must be minted (which loads botocore anyway), or for `store`, `erase`, `list`.
"""

from __future__ import annotations

import os

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.errors import (
    CredentialsNotFound,
    HelperError,
    RememberedFailure,
    one_line,
)
from docker_credential_convox.filecache import describe_time
from docker_credential_convox.filecache_fetch import FAILURE_MEMORY as FAILURE_MEMORY  # noqa: PLC0414
from docker_credential_convox.filecache_fetch import (
    LOCK_TIMEOUT,
    CachedFetcher,
    failure_age,
    unlink_if_there,
)
from docker_credential_convox.tokencache import (
    FAILURES_FILE,
    FORMAT,
    FORMAT_VERSION,
    CachedToken,
    TokenCache,
)

if TYPE_CHECKING:
    from typing import Callable, Optional

MESSAGE_LIMIT = 1000  # characters of a remembered error line


class FetchingTokenCache(CachedFetcher[CachedToken], TokenCache):
    """The token cache that also mints, writes and forgets (TokenCache reads for it)."""

    @classmethod
    def taking_over(cls, reader: TokenCache) -> FetchingTokenCache:
        """The fetching cache in `reader`'s place: its state (directory, refusal, memory) as
        it stands, so a refusal already warned about is not warned about again."""
        if isinstance(reader, FetchingTokenCache):
            return reader
        cache = cls.__new__(cls)
        cache.__dict__.update(vars(reader))
        return cache

    @property
    def lock_path(self) -> str:
        return self.path + ".lock"

    @property
    def failures_path(self) -> str:
        return os.path.join(self.directory or "", FAILURES_FILE)

    def lock_timeout(self) -> float:
        return LOCK_TIMEOUT  # read at each use: a test shortens it

    def _write_file(self, tokens: dict[str, CachedToken]) -> None:
        """Replace the file with `tokens`, dropping unusable ones; failures only warn."""
        now = self.clock()
        usable = {k: t.to_json() for k, t in tokens.items() if t.is_usable(now)}
        document = {"format": FORMAT, "version": FORMAT_VERSION, "tokens": usable}
        self.write_document(self.path, document, "token cache not saved")

    # -- the core's fetch hooks ---------------------------------------------------------------

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

    def fetch(self, key: str, mint: Callable[[], CachedToken]) -> CachedToken:
        """A fresh token for `key`, minting one (once across processes) when there is none.

        `mint` raises a HelperError on failure; then a cached token that is still usable is
        returned with a warning, and otherwise the error propagates.
        """
        return self.fetch_entry(key, "", mint)

    def mint_missing(self, key: str, mint: Callable[[], CachedToken]) -> CachedToken:
        """`fetch` after `TokenCache.hit` missed (the file is not read again unlocked)."""
        return self.fetch_missing(key, "", mint)

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


class NullTokenCache(FetchingTokenCache):
    """The cache when the user turned it off: every `get` mints, nothing is kept or listed.

    `forget_registry` still clears what an earlier, cached run left behind.
    """

    def get_valid(self, key: str) -> Optional[CachedToken]:
        return None

    def fetch_missing(self, key: str, what: str, fetch: Callable[[], CachedToken]) -> CachedToken:
        return fetch()

    def put(self, key: str, token: CachedToken) -> None:
        return None

    def registries(self) -> dict[str, str]:
        return {}
