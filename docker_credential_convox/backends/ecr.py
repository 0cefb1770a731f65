"""Amazon ECR and ECR Public: registry tokens minted with AWS credentials, cached until half-life.

The registry's source (sources/ecr.py) says where the AWS credentials come from: access keys
stored with `store`, a profile or a role recorded for the registry, else the AWS default chain.
A token stored by `docker login -u AWS` is returned for `LOGIN_TOKEN_LIFETIME` after it was
stored; after that the default chain takes over. The latest `store` wins. An alias of an ECR
registry reaches this backend as its target (the router resolves it, and checks when it stores
one that the target answers).

A `get` answered from the token cache reads two small JSON files and imports neither botocore
nor keyring: the cache key names the credential source (from the index entry and environment),
not the credentials themselves.
"""

from __future__ import annotations

import time

from docker_credential_convox import TYPE_CHECKING, minijson
from docker_credential_convox.errors import (
    AwsError,
    CredentialsNotFound,
    HelperError,
    SourceError,
    StoreUnavailable,
)
from docker_credential_convox.filecache import describe_time
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.server_keys import ECR_PUBLIC, Target, token_api
from docker_credential_convox.sources import MINTED, listing
from docker_credential_convox.sources.ecr import (
    LOGIN_USERNAME,
    AwsSource,
    EcrAlias,
    EcrDefaultChain,
    EcrLoginToken,
)
from docker_credential_convox.tokencache import CachedToken, TokenCache

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Callable, Optional

    from docker_credential_convox.aws.ecr_token import MintedToken
    from docker_credential_convox.backends import SecretReader
    from docker_credential_convox.backends.records import Records
    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.registry_index import Entry
    from docker_credential_convox.server_keys import Server
    from docker_credential_convox.settings import Settings
    from docker_credential_convox.sources import Source
    from docker_credential_convox.tokencache_fetch import FetchingTokenCache

VERIFY = "unable to authenticate to"


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

    def fetching_cache(self) -> FetchingTokenCache:
        """The token cache, able to mint, write and forget too (tokencache_fetch.py loads now)."""
        from docker_credential_convox.tokencache_fetch import FetchingTokenCache

        cache = FetchingTokenCache.taking_over(self.cache)
        self.cache = cache  # every later call uses it: one memory, one refusal
        return cache

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
                key, lambda: self._mint_for_get(server, aws_source, secrets)
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

    def _mint_for_get(
        self, server: Server, source: AwsSource, secrets: SecretReader
    ) -> CachedToken:
        """Mint for `get`, with the secret the source keeps (if any) read from `secrets`."""
        secret = None
        if source.secret_username is not None:
            secret = secrets.get(server.key, source.secret_username)
            if secret is None:
                raise SourceError(
                    f"cannot get an ECR token for {server.key}: the secret access key for "
                    f"{source.username} is missing from {secrets.name}",
                    hint="hint: store the access keys for this registry again",
                )
        return self.mint(server, source, secret)

    def mint(
        self,
        server: Server,
        source: AwsSource,
        secret: Optional[str] = None,
        verb: str = "cannot get an ECR token for",
    ) -> CachedToken:
        """Mint a token for `server` now with `source` (and `secret`, the one it keeps, if any);
        a SourceError names the registry, source and AWS error."""
        from docker_credential_convox.aws.clients import endpoint_for  # aws/: only to mint

        target = self.target(server)
        self.diagnostics.debug(
            f"minting a token for {server.key} with {source.describe()} "
            f"at {endpoint_for(target, self.settings)}"
        )
        issued_at = self.clock()
        started = time.monotonic()
        try:
            minted = self.mint_now(server, source, secret)
        except AwsError as exc:
            self.diagnostics.debug(
                f"minting for {server.key} failed after {time.monotonic() - started:.2f}s "
                f"at step {exc.operation!r} ({exc.code})"
            )
            resolved = (
                f" (credentials from botocore's {exc.credentials_method} provider)"
                if exc.credentials_method and type(source) is EcrDefaultChain
                else ""
            )
            raise SourceError(
                f"{verb} {server.key} using {source.describe()}{resolved}: {exc.summary()}",
                hint=exc.hint.replace("SERVER", server.key) if exc.hint else None,
            ) from None
        token = CachedToken(
            server.key, minted.username, minted.password, issued_at, minted.expires_at
        )
        now = self.clock()
        if not token.is_usable(now):
            raise SourceError(
                f"{verb} {server.key}: AWS issued a token that expires at "
                f"{describe_time(token.expires_at)}, already past by this machine's clock "
                f"({describe_time(now)})",
                hint="hint: check the system clock and time zone",
            )
        self.diagnostics.debug(
            f"minted a token for {server.key} in {time.monotonic() - started:.2f}s, valid until "
            f"{describe_time(token.expires_at)}, refreshed after {describe_time(token.refresh_at)}"
        )
        return token

    def mint_now(self, server: Server, source: AwsSource, secret: Optional[str]) -> MintedToken:
        """One GetAuthorizationToken for `server`, uncached; raises AwsError (for `doctor`)."""
        from docker_credential_convox.aws.ecr_token import (
            mint_token,
        )  # aws/ and botocore: only to mint

        return mint_token(
            self.target(server),
            source.credential_plan(),
            self.settings,
            self.diagnostics,
            secret=secret,
            clock=self.clock,
        )

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

    # -- store ---------------------------------------------------------------------------

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
        token = self.mint(server, source, secret, verb=VERIFY) if verify else None
        with records.index.registry_lock(server.key):
            self._record(source.entry(server.key, server_url), secret, records)
        if token is not None:
            self.fetching_cache().put(self.cache_key(server, source), token)
        self.diagnostics.debug(f"{server.key} now uses {source.describe()}")

    def _use_default_chain(
        self, server: Server, source: AwsSource, verify: bool, records: Records
    ) -> None:
        """Check that the default chain mints for `server`, then forget any recorded source
        (it would win over the chain)."""
        if verify:
            self.mint(server, source, verb=VERIFY)
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
        self.fetching_cache().forget_registry(entry.key)

    # -- erase and list ------------------------------------------------------------------

    def erase(self, server: Server, records: Records) -> None:
        # Tokens go first: killed between the index and keyring writes, no cached token may
        # keep the erased registry in `list`. Dropping them too early costs only a mint.
        cache = self.fetching_cache()
        dropped = cache.forget_registry(server.key)
        records.erase(server.key)
        dropped += cache.forget_registry(server.key)  # minted by a `get` meanwhile
        self.diagnostics.debug(f"erased {server.key} ({dropped} cached token(s) dropped)")

    def list(self, entries: Mapping[str, Entry]) -> dict[str, str]:
        """The entries this backend answers, and ECR registries with a usable cached token
        (minted from the default chain, say); no network call."""
        found = listing(entries, MINTED)
        for registry, username in self.cache.registries().items():
            if registry not in entries:
                found.setdefault(registry, username)
        return found
