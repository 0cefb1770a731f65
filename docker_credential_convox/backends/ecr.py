"""Amazon ECR and ECR Public: registry tokens minted with AWS credentials, cached until half-life.

Where a registry's AWS credentials come from, in this order (one registry-index entry each):
- access keys stored with `store` (Username = access key ID, Secret = secret access key; the
  secret lives only in the OS keyring), source `ecr-keys`;
- a profile (`store` with Username `profile:NAME`) or a role (`store` with Username
  `role:ARN`, Secret = optional external ID) recorded for the registry, `ecr-profile`/`ecr-role`;
- otherwise the AWS default chain (environment, shared config and SSO, web identity, container
  and instance credentials).
A `store` with Username `AWS` (a token from `aws ecr get-login-password`, as `docker login`
sends it) is kept in the keyring, source `ecr-login`, and returned for `LOGIN_TOKEN_LIFETIME`
after it was stored; after that the default chain takes over. The latest `store` wins.

Another name for a private ECR registry (a custom domain or a pull-through proxy in front of
it) is recorded with `store` Username `ecr-alias:<ECR host>`, source `ecr-alias`: a `get` of the
alias is answered as a `get` of the ECR host (its source, its cached tokens), with the alias's
ServerURL. The router (helper.py) sends such names here.

A `get` answered from the token cache reads two small JSON files and imports neither botocore
nor keyring: the cache key names the credential source (from the index entry and environment),
not the credentials themselves.
"""

from __future__ import annotations

import time

from docker_credential_convox import aws
from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.errors import (
    BadRequest,
    CredentialsNotFound,
    HelperError,
    SourceError,
    StoreUnavailable,
)
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.registry_index import (
    ECR_ALIAS_PREFIX,
    SOURCE_ECR_ALIAS,
    SOURCE_ECR_KEYS,
    SOURCE_ECR_LOGIN,
    SOURCE_ECR_PROFILE,
    SOURCE_ECR_ROLE,
    SOURCE_KEYRING,
    Entry,
    RegistryIndex,
)
from docker_credential_convox.servers import (
    ECR,
    ECR_PUBLIC,
    ECR_PUBLIC_REGION,
    REGISTRY,
    Server,
    parse_server,
)
from docker_credential_convox.settings import Settings
from docker_credential_convox.tokencache import CachedToken, TokenCache, describe_time

# `typing` costs milliseconds at start-up; mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Callable, Optional

    from docker_credential_convox.keychain import Keychain

LOGIN_USERNAME = "AWS"
PROFILE_PREFIX = "profile:"
ROLE_PREFIX = "role:"
# `aws ecr get-login-password` tokens last 12 hours; the helper cannot read their expiry, so it
# counts from the moment they were stored (the earliest they can have been issued is earlier,
# hence the margin).
LOGIN_TOKEN_LIFETIME = 12 * 3600.0
LOGIN_TOKEN_MARGIN = 15 * 60.0
# Sources whose secret sits in the OS keyring under (registry key, entry username).
_KEYRING_SOURCES = frozenset({SOURCE_ECR_KEYS, SOURCE_ECR_LOGIN, SOURCE_KEYRING})


def private_ecr_registry(text: str) -> Optional[Server]:
    """The private ECR registry `text` names (an alias target), or None for anything else."""
    try:
        server = parse_server(text) if text.strip() else None
    except HelperError:
        return None
    return server if server is not None and server.kind == ECR else None


class EcrBackend:
    """Tokens for ECR and ECR Public registries, minted from each registry's credential source."""

    def __init__(
        self,
        settings: Settings,
        diagnostics: Diagnostics,
        index: RegistryIndex,
        keychain: Callable[[], Keychain],
        *,
        clock: Callable[[], float] = time.time,
        cache: Optional[TokenCache] = None,
    ) -> None:
        self.settings = settings
        self.diagnostics = diagnostics
        self.index = index
        self._keychain = keychain
        self.clock = clock
        self.cache = cache or TokenCache(
            settings.token_cache_path, diagnostics, clock, enabled=settings.cache_enabled
        )

    # -- where credentials come from -----------------------------------------------------

    @staticmethod
    def target(server: Server) -> aws.Target:
        """The API that mints tokens for `server`: the region and endpoint come from the host."""
        if server.kind == ECR_PUBLIC or server.ecr is None:
            return aws.Target(aws.SERVICE_ECR_PUBLIC, ECR_PUBLIC_REGION)
        registry = server.ecr
        return aws.Target(aws.SERVICE_ECR, registry.region, registry.fips, registry.dualstack)

    @staticmethod
    def source_of(entry: Optional[Entry]) -> aws.CredentialSource:
        """The credential source an index entry records (the default chain without one)."""
        if entry is None:
            return aws.CredentialSource.default_chain()
        options = entry.options
        if entry.source == SOURCE_ECR_KEYS:
            return aws.CredentialSource.keys(entry.username)
        if entry.source == SOURCE_ECR_PROFILE and options.get("profile"):
            return aws.CredentialSource.named_profile(options["profile"])
        if entry.source == SOURCE_ECR_ROLE and options.get("role_arn"):
            return aws.CredentialSource.role(
                options["role_arn"], options.get("external_id"), options.get("profile")
            )
        return aws.CredentialSource.default_chain()

    # -- get -----------------------------------------------------------------------------

    def get(self, server: Server) -> Credentials:
        return self.get_entry(server, self.index.lookup(server.key))

    def get_alias(
        self, alias: Server, entry: Entry, entries: Optional[Mapping[str, Entry]] = None
    ) -> Credentials:
        """Credentials for `alias`, another name of the ECR registry its entry names: the
        target's own (its recorded source, cached tokens shared), with the ServerURL asked for.
        `entries`, when given, is the index already read (no second read of the file)."""
        target = private_ecr_registry(entry.options.get("target", ""))
        if target is None:
            self.diagnostics.warn(
                f"{alias.key} is recorded as an ECR alias without a valid ECR registry; "
                f"store it again with the username {ECR_ALIAS_PREFIX}<ECR registry host>"
            )
            raise CredentialsNotFound()
        self.diagnostics.debug(f"{alias.key} is an alias of {target.key}")
        target_entry = (
            entries.get(target.key) if entries is not None else self.index.lookup(target.key)
        )
        credentials = self.get_entry(target, target_entry)
        return Credentials(alias.url, credentials.username, credentials.secret)

    def get_entry(self, server: Server, entry: Optional[Entry]) -> Credentials:
        """Credentials for `server`, whose index entry (or None) the caller has read."""
        if entry is not None and entry.source == SOURCE_KEYRING:
            # Stored before this backend existed: an ordinary username and secret.
            from docker_credential_convox.backends.keyring import KeyringBackend

            return KeyringBackend(self.index, self._keychain(), self.diagnostics).get_entry(
                server, entry
            )
        login_note = ""
        if entry is not None and entry.source == SOURCE_ECR_LOGIN:
            stored = self._stored_login(server, entry)
            if stored is not None:
                return stored
            login_note = self._login_expiry_note(entry)
            entry = None
        source = self.source_of(entry)
        target = self.target(server)
        key = target.cache_key(server.key, source, self.settings)
        try:
            token = self.cache.fetch(key, lambda: self._mint(server, target, source))
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
        return Credentials(server.url, token.username, token.secret)

    def _mint(
        self,
        server: Server,
        target: aws.Target,
        source: aws.CredentialSource,
        secret_access_key: Optional[str] = None,
        verb: str = "cannot get an ECR token for",
    ) -> CachedToken:
        """Mint a token for `server` now; a SourceError names the registry, source and AWS error."""
        if source.kind == aws.KIND_KEYS and secret_access_key is None:
            assert source.access_key_id is not None
            secret_access_key = self._keychain().get(server.key, source.access_key_id)
            if secret_access_key is None:
                raise SourceError(
                    f"{verb} {server.key}: the secret access key for {source.access_key_id} "
                    "is missing from the OS keyring",
                    hint="hint: store the access keys for this registry again",
                )
        self.diagnostics.debug(
            f"minting a token for {server.key} with {source.describe()} "
            f"at {aws.endpoint_for(target, self.settings)}"
        )
        issued_at = self.clock()
        started = time.monotonic()
        try:
            minted = aws.mint_token(
                target,
                source,
                self.settings,
                self.diagnostics,
                secret_access_key=secret_access_key,
                clock=self.clock,
            )
        except aws.AwsError as exc:
            self.diagnostics.debug(
                f"minting for {server.key} failed after {time.monotonic() - started:.2f}s "
                f"at step {exc.operation!r} ({exc.code})"
            )
            resolved = (
                f" (credentials from botocore's {exc.credentials_method} provider)"
                if exc.credentials_method and source.kind == aws.KIND_DEFAULT
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

    def _stored_login(self, server: Server, entry: Entry) -> Optional[Credentials]:
        """The token stored with Username AWS while it is still valid, else None."""
        expires_at = self._login_expires_at(entry)
        if self.clock() >= expires_at - LOGIN_TOKEN_MARGIN:
            self.diagnostics.debug(
                f"the token stored for {server.key} expired at {describe_time(expires_at)}; "
                "minting one from the AWS default credential chain instead"
            )
            return None
        try:
            secret = self._keychain().get(server.key, LOGIN_USERNAME)
        except StoreUnavailable as exc:
            self.diagnostics.warn(f"cannot read the token stored for {server.key}: {exc.message}")
            return None
        if not secret:
            self.diagnostics.warn(
                f"the token stored for {server.key} is missing from the OS keyring; "
                "minting one from the AWS default credential chain instead"
            )
            return None
        return Credentials(server.url, LOGIN_USERNAME, secret)

    @staticmethod
    def _login_expires_at(entry: Entry) -> float:
        try:
            return float(entry.options.get("stored_at", "0")) + LOGIN_TOKEN_LIFETIME
        except ValueError:
            return 0.0

    def _login_expiry_note(self, entry: Entry) -> str:
        return (
            f"note: the token stored with `docker login -u AWS` for {entry.key} expired at "
            f"{describe_time(self._login_expires_at(entry))}; log in again or give the helper "
            "AWS credentials"
        )

    # -- store ---------------------------------------------------------------------------

    def store(self, server: Server, credentials: Credentials, verify: bool = True) -> None:
        """Record where `server`'s credentials come from; with `verify`, mint a token first.

        Username `AWS`: a ready-made token (never verified: docker login just used it).
        Username `profile:NAME` / `role:ARN`: a profile or role (Secret: the role's external
        ID, or empty). Anything else: an access key ID, with the secret access key as Secret.
        A failed verification stores nothing.
        """
        if credentials.username == LOGIN_USERNAME:
            self._store_login(server, credentials)
            return
        source, entry, secret = self._parse_store(server, credentials)
        target = self.target(server)
        token = None
        if verify:
            token = self._mint(server, target, source, secret, verb="unable to authenticate to")
        with self.index.registry_lock(server.key):
            if secret is not None:
                self._keychain().set(server.key, entry.username, secret)
            self._record(server, entry)
        if token is not None:
            self.cache.put(target.cache_key(server.key, source, self.settings), token)
        self.diagnostics.debug(f"{server.key} now uses {source.describe()}")

    def store_alias(self, alias: Server, credentials: Credentials, verify: bool = True) -> None:
        """Record `alias` (not an ECR host) as another name of the ECR registry that the
        Username `ecr-alias:HOST` names; with `verify`, get a token for that registry first
        (from its own recorded source, or the default chain). A failure stores nothing."""
        target = private_ecr_registry(credentials.username[len(ECR_ALIAS_PREFIX) :])
        if target is None:
            raise BadRequest(
                f"`{credentials.username}` does not name an Amazon ECR registry: expected "
                f"{ECR_ALIAS_PREFIX}ACCOUNT.dkr.ecr.REGION.amazonaws.com"
            )
        if alias.kind != REGISTRY:
            raise BadRequest(f"{alias.key} is itself a registry the helper mints tokens for")
        if credentials.secret:
            self.diagnostics.warn(f"the Secret is ignored for {alias.key}: an alias needs none")
        if verify:
            try:
                self.get(target)
            except CredentialsNotFound:
                raise SourceError(
                    f"unable to authenticate to {target.key}: no credentials for it"
                ) from None
        entry = Entry(
            alias.key,
            credentials.server_url,
            LOGIN_USERNAME,
            SOURCE_ECR_ALIAS,
            {"target": target.key},
        )
        with self.index.registry_lock(alias.key):
            self._record(alias, entry)
        self.diagnostics.debug(f"{alias.key} is now an alias of {target.key}")

    def _parse_store(
        self, server: Server, credentials: Credentials
    ) -> tuple[aws.CredentialSource, Entry, Optional[str]]:
        """The source, index entry and secret (keys only) that a store request describes."""
        username = credentials.username
        url = credentials.server_url
        if username.startswith(PROFILE_PREFIX):
            profile = username[len(PROFILE_PREFIX) :].strip()
            if not profile:
                raise BadRequest("no profile name after `profile:` in the username")
            if credentials.secret:
                self.diagnostics.warn(f"the Secret is ignored for {username}: profiles need none")
            options = {"profile": profile}
            entry = Entry(server.key, url, username, SOURCE_ECR_PROFILE, options)
            return aws.CredentialSource.named_profile(profile), entry, None
        if username.startswith(ROLE_PREFIX):
            role_arn = username[len(ROLE_PREFIX) :].strip()
            if not (role_arn.startswith("arn:") and ":role/" in role_arn):
                raise BadRequest(
                    f"`{username}` does not name a role: "
                    "expected role:arn:aws:iam::ACCOUNT:role/NAME"
                )
            external_id = credentials.secret.strip() or None
            options = {"role_arn": role_arn}
            if external_id:
                options["external_id"] = external_id  # AWS documents it as not secret
            entry = Entry(server.key, url, username, SOURCE_ECR_ROLE, options)
            return aws.CredentialSource.role(role_arn, external_id), entry, None
        if any(ch.isspace() or ch == ":" for ch in username):
            raise BadRequest(
                f"`{username}` is not an AWS access key ID; for an ECR registry the username "
                "is an access key ID, `AWS`, `profile:NAME` or `role:ARN`"
            )
        if not credentials.secret:
            raise BadRequest(f"no secret access key for {username}: give it as the password")
        entry = Entry(server.key, url, username, SOURCE_ECR_KEYS)
        return aws.CredentialSource.keys(username), entry, credentials.secret

    def _store_login(self, server: Server, credentials: Credentials) -> None:
        if not credentials.secret:
            raise BadRequest(
                "no token: with the username AWS the password is a token from "
                "`aws ecr get-login-password`"
            )
        with self.index.registry_lock(server.key):
            try:
                self._keychain().set(server.key, LOGIN_USERNAME, credentials.secret)
            except StoreUnavailable as exc:
                # `docker login` must not fail: the token is dropped, `get` mints its own.
                self.diagnostics.warn(
                    f"the token for {server.key} is not kept ({exc.message}); `get` will mint "
                    "tokens from the AWS default credential chain instead"
                )
                return
            stored_at = str(int(self.clock()))
            self._record(
                server,
                Entry(
                    server.key,
                    credentials.server_url,
                    LOGIN_USERNAME,
                    SOURCE_ECR_LOGIN,
                    {"stored_at": stored_at},
                ),
            )
        self.diagnostics.debug(f"stored the login token for {server.key} in the OS keyring")

    def _record(self, server: Server, entry: Entry) -> None:
        """Put `entry` in the index, drop a secret it replaces and the registry's cached tokens."""
        replaced = self.index.put(entry)
        if (
            replaced is not None
            and replaced.source in _KEYRING_SOURCES
            and (entry.source not in _KEYRING_SOURCES or replaced.username != entry.username)
        ):
            self._delete_secret(server.key, replaced.username)
        self.cache.forget_registry(server.key)

    def _delete_secret(self, key: str, username: str) -> None:
        try:
            self._keychain().delete(key, username)
        except StoreUnavailable as exc:
            self.diagnostics.warn(
                f"the old secret for {key} is still in the OS keyring: {exc.message}"
            )

    # -- erase ---------------------------------------------------------------------------

    def erase(self, server: Server) -> None:
        from docker_credential_convox.backends.keyring import KeyringBackend

        keyring_backend = KeyringBackend(self.index, self._keychain(), self.diagnostics)
        # No store of this registry in between.
        with self.index.registry_lock(server.key, for_erase=True):
            entry = self.index.lookup(server.key)
            if entry is None or entry.source == SOURCE_KEYRING:
                # Nothing of ours: remove a plain entry, or sweep secrets orphaned by an
                # interrupted store (best effort; erasing what is not there succeeds).
                keyring_backend.erase(server)
            else:
                removed = self.index.remove(server.key)
                if removed is not None and removed.source in _KEYRING_SOURCES:
                    keyring_backend.delete_or_restore(removed)
        dropped = self.cache.forget_registry(server.key)
        self.diagnostics.debug(f"erased {server.key} ({dropped} cached token(s) dropped)")

    # -- list ----------------------------------------------------------------------------

    def cached_registries(self) -> dict[str, str]:
        """Registry -> username for ECR registries with a usable cached token (no network)."""
        return self.cache.registries()
