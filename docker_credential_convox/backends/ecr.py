"""Amazon ECR and ECR Public: registry tokens minted with AWS credentials, cached until half-life.

The registry's source (sources/ecr.py) says where the AWS credentials come from: access keys
stored with `store`, a profile or a role recorded for the registry, else the AWS default chain.
A token stored by `docker login -u AWS` is returned for `LOGIN_TOKEN_LIFETIME` after it was
stored; after that the default chain takes over. The latest `store` wins. An alias of an ECR
registry reaches this backend as its target (the router resolves it, and checks when it stores
one that the target answers).

A `get` answered from the token cache reads two small JSON files and imports neither botocore
nor keyring: the cache key names the credential source (from the index entry and environment),
not the credentials themselves. This module is that answer; minting (ecr_mint.py, with the token
cache's fetch side) and recording a source (ecr_store.py: `store`, `erase`) load on first need.
"""

from __future__ import annotations

import time

from docker_credential_convox import TYPE_CHECKING, minijson
from docker_credential_convox.errors import CredentialsNotFound, HelperError, StoreUnavailable
from docker_credential_convox.filecache import describe_time
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.server_keys import ECR_PUBLIC, Target, token_api
from docker_credential_convox.sources import MINTED, listing
from docker_credential_convox.sources.ecr import (
    LOGIN_USERNAME,
    AwsSource,
    EcrDefaultChain,
    EcrLoginToken,
)
from docker_credential_convox.tokencache import CachedToken, TokenCache

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Callable, Optional

    from docker_credential_convox.backends.ecr_mint import EcrMinter
    from docker_credential_convox.backends.ecr_store import EcrRecorder
    from docker_credential_convox.backends.interface import SecretReader
    from docker_credential_convox.backends.records import Records
    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.registry_index import Entry
    from docker_credential_convox.server_keys import Server
    from docker_credential_convox.settings import Settings
    from docker_credential_convox.sources import Source
    from docker_credential_convox.tokencache_fetch import FetchingTokenCache


class EcrBackend:
    """Tokens for ECR and ECR Public registries, minted from each registry's credential source."""

    def __init__(
        self,
        settings: Settings,
        diagnostics: Diagnostics,
        *,
        clock: Callable[[], float] = time.time,
        cache: Optional[TokenCache] = None,
    ) -> None:
        self.settings = settings
        self.diagnostics = diagnostics
        self.clock = clock
        if cache is None and not settings.cache_enabled:
            # It mints on every `get`: its fetch side is needed at once.
            from docker_credential_convox.tokencache_fetch import NullTokenCache

            cache = NullTokenCache(settings.token_cache_path, diagnostics, clock)
        # What a cache hit reads; taken over by its fetch side on the first mint or change.
        self.cache = cache or TokenCache(settings.token_cache_path, diagnostics, clock)
        self._minter: Optional[EcrMinter] = None

    def fetching_cache(self) -> FetchingTokenCache:
        """The token cache, able to mint, write and forget too (tokencache_fetch.py loads now)."""
        from docker_credential_convox.tokencache_fetch import FetchingTokenCache

        cache = FetchingTokenCache.taking_over(self.cache)
        self.cache = cache  # every later call uses it: one memory, one refusal
        return cache

    @property
    def minter(self) -> EcrMinter:
        """What mints tokens now (backends/ecr_mint.py, with aws/: loaded on first use)."""
        if self._minter is None:
            from docker_credential_convox.backends.ecr_mint import EcrMinter

            self._minter = EcrMinter(self.settings, self.diagnostics, self.clock)
        return self._minter

    @staticmethod
    def target(server: Server) -> Target:
        """The API that mints tokens for `server`: the region and endpoint come from the host."""
        return token_api(server)

    def cache_key(self, server: Server, source: AwsSource) -> str:
        """The token cache key: registry, API, endpoint and credential source, never a secret."""
        target = self.target(server)
        return minijson.dumps(
            [
                server.key,
                target.service,
                target.region,
                self.settings.aws_endpoint_url(target.service) or "",
                source.identity(self.settings),
            ],
            sort_keys=True,
            separators=(",", ":"),
        )

    # -- get -----------------------------------------------------------------------------

    def cached(self, server: Server, source: AwsSource) -> Optional[CachedToken]:
        """The token cached for `server` and `source`, fresh or not (no lock, no write)."""
        return self.cache.peek(self.cache_key(server, source))

    def get(self, server: Server, source: Source, secrets: SecretReader) -> Credentials:
        login_note = ""
        if isinstance(source, EcrLoginToken):
            stored = self._stored_login(server, source, secrets)
            if stored is not None:
                return stored
            login_note = source.expiry_note(server.key)
        aws_source = source if isinstance(source, AwsSource) else EcrDefaultChain()
        key = self.cache_key(server, aws_source)
        try:
            token = self.cache.hit(key) or self.fetching_cache().mint_missing(
                key, lambda: self.minter.mint_for_get(server, aws_source, secrets)
            )
        except CredentialsNotFound:
            raise
        except HelperError as exc:
            if server.kind == ECR_PUBLIC:
                # Public images can be pulled anonymously: "not found" lets clients do that.
                self.diagnostics.warn(
                    f"{exc.message}; continuing without credentials (anonymous pull)"
                )
                raise CredentialsNotFound() from None
            if login_note:
                exc.hint = f"{login_note}\n{exc.hint}" if exc.hint else login_note
            raise
        return Credentials(server.url, token.username, token.secret, token.expires_at)

    def _stored_login(
        self, server: Server, source: EcrLoginToken, secrets: SecretReader
    ) -> Optional[Credentials]:
        """The token stored with Username AWS while it is still valid, else None."""
        if not source.is_current(self.clock()):
            self.diagnostics.debug(
                f"the token stored for {server.key} expired at "
                f"{describe_time(source.expires_at)}; minting one from the AWS default "
                "credential chain instead"
            )
            return None
        try:
            secret = secrets.get(server.key, LOGIN_USERNAME)
        except StoreUnavailable as exc:
            self.diagnostics.warn(f"cannot read the token stored for {server.key}: {exc.message}")
            return None
        if not secret:
            self.diagnostics.warn(
                f"the token stored for {server.key} is missing from {secrets.name}; "
                "minting one from the AWS default credential chain instead"
            )
            return None
        return Credentials(server.url, LOGIN_USERNAME, secret)

    # -- store, erase and list ------------------------------------------------------------

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
        """Record where `server`'s credentials come from (backends/ecr_store.py)."""
        self.recorder().store(server, server_url, source, secret, records, verify=verify)

    def erase(self, server: Server, records: Records) -> None:
        """Forget what is recorded for `server` and its cached tokens (backends/ecr_store.py)."""
        self.recorder().erase(server, records)

    def recorder(self) -> EcrRecorder:
        """What records or forgets a registry's source (loaded now, with the cache's fetch
        side): `store` and `erase` only."""
        from docker_credential_convox.backends.ecr_store import EcrRecorder

        cache = self.fetching_cache()
        return EcrRecorder(cache, lambda: self.minter, self.cache_key, self.diagnostics, self.clock)

    def list(self, entries: Mapping[str, Entry]) -> dict[str, str]:
        """The entries this backend answers, and ECR registries with a usable cached token
        (minted from the default chain, say); no network call."""
        found = listing(entries, MINTED)
        for registry, username in self.cache.registries().items():
            if registry not in entries:
                found.setdefault(registry, username)
        return found
