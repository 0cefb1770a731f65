"""Minting an ECR token now: for a `get` the token cache cannot answer, a verified `store`, doctor.

`aws/` (and botocore through it) load with this module; a `get` answered from the cache loads
neither (backends/ecr.py builds an `EcrMinter` on first need).
"""

from __future__ import annotations

import time

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.aws.clients import endpoint_for
from docker_credential_convox.aws.ecr_token import mint_token
from docker_credential_convox.errors import AwsError, SourceError
from docker_credential_convox.filecache import describe_time
from docker_credential_convox.server_keys import token_api
from docker_credential_convox.sources.ecr import AwsSource, EcrDefaultChain
from docker_credential_convox.tokencache import CachedToken

if TYPE_CHECKING:
    from typing import Callable, Optional

    from docker_credential_convox.aws.ecr_token import MintedToken
    from docker_credential_convox.backends.interface import SecretReader
    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.server_keys import Server
    from docker_credential_convox.settings import Settings

MINT = "cannot get an ECR token for"  # how a failed mint's message begins (`store`: VERIFY)


class EcrMinter:
    """Mints ECR tokens with a registry's credential source, on `settings`' endpoints."""

    def __init__(
        self, settings: Settings, diagnostics: Diagnostics, clock: Callable[[], float]
    ) -> None:
        self.settings = settings
        self.diagnostics = diagnostics
        self.clock = clock

    def mint_for_get(self, server: Server, source: AwsSource, secrets: SecretReader) -> CachedToken:
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
        verb: str = MINT,
    ) -> CachedToken:
        """Mint a token for `server` now with `source` (and `secret`, the one it keeps, if any);
        a SourceError names the registry, source and AWS error."""
        target = token_api(server)
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
        return mint_token(
            token_api(server),
            source.credential_plan(),
            self.settings,
            self.diagnostics,
            secret=secret,
            clock=self.clock,
        )
