"""The one call that mints a registry token: ECR's or ECR Public's GetAuthorizationToken."""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import time

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.aws.clients import client, endpoint_for
from docker_credential_convox.aws.credentials import resolve
from docker_credential_convox.aws.deadline import Attempt
from docker_credential_convox.aws.errors import mint_error
from docker_credential_convox.errors import AwsError, one_line
from docker_credential_convox.server_keys import SERVICE_ECR

if TYPE_CHECKING:
    from typing import Callable, Optional

    from docker_credential_convox.aws.credentials import CredentialPlan
    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.server_keys import Target
    from docker_credential_convox.settings import Settings

DEFAULT_TOKEN_LIFETIME = 12 * 3600.0  # when a response omits expiresAt
# ECR tokens live 12 hours. An expiresAt further out than this (clock skew aside) is nonsense
# and is replaced by DEFAULT_TOKEN_LIFETIME, so it can never pin a token in the cache.
MAX_TOKEN_LIFETIME = 24 * 3600.0


class MintedToken:
    """A registry login from GetAuthorizationToken: username, password and expiry (epoch s)."""

    __slots__ = ("credentials_method", "expires_at", "password", "username")

    def __init__(
        self, username: str, password: str, expires_at: float, credentials_method: str = ""
    ) -> None:
        self.username = username
        self.password = password
        self.expires_at = expires_at
        self.credentials_method = credentials_method

    def __repr__(self) -> str:
        return (
            f"MintedToken(username={self.username!r}, password=***, expires_at={self.expires_at})"
        )


def _decode_token(authorization_token: str) -> tuple[str, str]:
    """(username, password) from base64 `AWS:<password>`."""
    try:
        decoded = base64.b64decode(authorization_token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise ValueError("the authorization token is not base64 text") from None
    username, sep, password = decoded.partition(":")
    if not sep or not username or not password:
        raise ValueError("the authorization token is not of the form user:password")
    return username, password


def _expiry(value: object, now: float, diagnostics: Diagnostics) -> float:
    """The token's expiry in epoch seconds; a missing or absurd one becomes the usual 12 h."""
    expires: Optional[float] = None
    timestamp = getattr(value, "timestamp", None)
    if callable(timestamp):
        expires = float(timestamp())
    elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
        with contextlib.suppress(ValueError, OverflowError):
            expires = float(value)
    if expires is None:
        return now + DEFAULT_TOKEN_LIFETIME
    if not math.isfinite(expires) or expires - now > MAX_TOKEN_LIFETIME:
        diagnostics.debug(
            f"AWS sent an expiresAt of {one_line(str(value), 40)}, not a time within "
            f"{MAX_TOKEN_LIFETIME / 3600:g} hours; taking the usual 12 hours instead"
        )
        return now + DEFAULT_TOKEN_LIFETIME
    return expires


def mint_token(
    target: Target,
    plan: CredentialPlan,
    settings: Settings,
    diagnostics: Diagnostics,
    *,
    secret: Optional[str] = None,
    clock: Callable[[], float] = time.time,
) -> MintedToken:
    """Call GetAuthorizationToken for `target` with the credentials `plan` names (and the
    stored `secret`, for access keys).

    Raises AwsError (never carrying a secret) on any failure.
    """
    from botocore import exceptions as bx

    attempt = Attempt(target, diagnostics, secret, settings.aws_deadline)
    try:
        chain, credentials = resolve(plan, settings, attempt, secret)
        attempt.operation = f"{target.service}:GetAuthorizationToken"
        api = client(chain, target.service, target, settings, credentials)
        now = clock()
        response = attempt.call(api.get_authorization_token, endpoint_for(target, settings))
        data = response["authorizationData"]
        if target.service == SERVICE_ECR:
            data = data[0]
        attempt.secrets.append(data["authorizationToken"])
        username, password = _decode_token(data["authorizationToken"])
        expires_at = _expiry(data.get("expiresAt"), now, diagnostics)
        return MintedToken(username, password, expires_at, attempt.method)
    except AwsError:
        raise
    except (bx.BotoCoreError, bx.ClientError) as exc:
        raise mint_error(
            exc, attempt.operation, plan.profile, attempt.secrets, attempt.method
        ) from None
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise AwsError(  # the type only: the text may quote the token it could not read
            attempt.operation,
            "MalformedResponse",
            f"unexpected response ({type(exc).__name__})",
            credentials_method=attempt.method,
        ) from None
