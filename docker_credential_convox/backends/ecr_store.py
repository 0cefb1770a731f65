"""Recording where an ECR registry's credentials come from (`store`), or forgetting it (`erase`).

Every change also drops the registry's cached tokens (the credentials behind them changed); a
verified `store` mints first and keeps the token. Loaded by `store` and `erase` only: a `get`
never records anything.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.errors import StoreUnavailable
from docker_credential_convox.sources.ecr import (
    LOGIN_USERNAME,
    VERIFY,
    AwsSource,
    EcrAlias,
    EcrDefaultChain,
    EcrLoginToken,
)

if TYPE_CHECKING:
    from typing import Callable, Optional

    from docker_credential_convox.backends.ecr_mint import EcrMinter
    from docker_credential_convox.backends.records import Records
    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.registry_index import Entry
    from docker_credential_convox.server_keys import Server
    from docker_credential_convox.sources import Source
    from docker_credential_convox.tokencache_fetch import FetchingTokenCache


class EcrRecorder:
    """`store` and `erase` of the ECR backend, with its token cache and (to verify) its minter."""

    def __init__(
        self,
        cache: FetchingTokenCache,
        minter: Callable[[], EcrMinter],
        cache_key: Callable[[Server, AwsSource], str],
        diagnostics: Diagnostics,
        clock: Callable[[], float],
    ) -> None:
        self.cache = cache
        self.minter = minter  # built on first use: only a verified store mints
        self.cache_key = cache_key
        self.diagnostics = diagnostics
        self.clock = clock

    def store(
        self,
        server: Server,
        server_url: str,
        source: Source,
        secret: Optional[str],
        records: Records,
        *,
        verify: bool = False,
    ) -> None:
        """Record where `server`'s credentials come from; with `verify`, mint a token first
        (a login token is never verified: docker login just used it; an alias's target is
        checked by the router). A failed verification stores nothing."""
        if isinstance(source, EcrLoginToken):
            self._store_login(server, server_url, source, secret or "", records)
        elif isinstance(source, EcrAlias):
            self._store_alias(server, server_url, source, records)
        elif type(source) is EcrDefaultChain:
            self._use_default_chain(server, source, verify, records)
        elif isinstance(source, AwsSource):
            self._store_aws(server, server_url, source, secret, records, verify=verify)
        else:  # pragma: no cover - the router sends only this backend's sources
            raise TypeError(f"{source!r} is not minted")

    def _store_aws(
        self,
        server: Server,
        server_url: str,
        source: AwsSource,
        secret: Optional[str],
        records: Records,
        *,
        verify: bool,
    ) -> None:
        token = self.minter().mint(server, source, secret, verb=VERIFY) if verify else None
        with records.index.registry_lock(server.key):
            self._record(source.entry(server.key, server_url), secret, records)
        if token is not None:
            self.cache.put(self.cache_key(server, source), token)
        self.diagnostics.debug(f"{server.key} now uses {source.describe()}")

    def _use_default_chain(
        self, server: Server, source: AwsSource, verify: bool, records: Records
    ) -> None:
        """Check that the default chain mints for `server`, then forget any recorded source
        (it would win over the chain)."""
        if verify:
            self.minter().mint(server, source, verb=VERIFY)
        if records.index.lookup(server.key) is not None:
            self.erase(server, records)

    def _store_alias(
        self, alias: Server, server_url: str, source: EcrAlias, records: Records
    ) -> None:
        """Record `alias` as another name of the ECR registry the source names."""
        target = source.target
        assert target is not None  # from_request refused anything else
        with records.index.registry_lock(alias.key):
            self._record(source.entry(alias.key, server_url), None, records)
        self.diagnostics.debug(f"{alias.key} is now an alias of {target.key}")

    def _store_login(
        self, server: Server, server_url: str, source: EcrLoginToken, secret: str, records: Records
    ) -> None:
        with records.index.registry_lock(server.key):
            # Marked pending across both writes, as Records.write does (backends/records.py).
            marked = records.pending.mark(server.key)
            try:
                records.store.put(server.key, LOGIN_USERNAME, secret)
            except StoreUnavailable as exc:
                # `docker login` must not fail: the token is dropped, `get` mints its own.
                # (The marker stays: the next erase sweeps whatever the failed write left.)
                self.diagnostics.warn(
                    f"the token for {server.key} is not kept ({exc.message}); `get` will mint "
                    "tokens from the AWS default credential chain instead"
                )
                return
            self._record(source.stamped(self.clock()).entry(server.key, server_url), None, records)
            if marked:
                records.pending.clear(server.key)
        self.diagnostics.debug(f"stored the login token for {server.key} in {records.store.name}")

    def _record(self, entry: Entry, secret: Optional[str], records: Records) -> None:
        """Write `entry` (and its secret) and drop the registry's cached tokens."""
        records.write(entry, secret)
        self.cache.forget_registry(entry.key)

    def erase(self, server: Server, records: Records) -> None:
        """Forget what is recorded for `server`, and every token cached for it."""
        # Tokens go first: killed between the index and keyring writes, no cached token may
        # keep the erased registry in `list`. Dropping them too early costs only a mint.
        dropped = self.cache.forget_registry(server.key)
        records.erase(server.key)
        dropped += self.cache.forget_registry(server.key)  # minted by a `get` meanwhile
        self.diagnostics.debug(f"erased {server.key} ({dropped} cached token(s) dropped)")
