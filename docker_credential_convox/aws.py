"""AWS clients built from one credential source, and the one call that mints a registry token.

botocore is imported only inside `mint_token`, never at module level: a `get` answered from the
token cache must not pay for it. (boto3 only wraps botocore's session and client; the helper
uses botocore directly and saves boto3's import.)

Bounds, so that a machine without AWS credentials fails in seconds instead of hanging:
- every API call: connect timeout 2 s, read timeout 10 s (settings.py; the environment variables
  DOCKER_CREDENTIAL_CONVOX_AWS_CONNECT_TIMEOUT and ..._READ_TIMEOUT change them), at most
  `MAX_ATTEMPTS` attempts in botocore's "standard" retry mode;
- the instance-metadata probe of the default chain: `METADATA_TIMEOUT` s per request and
  `METADATA_ATTEMPTS` attempt (botocore makes two requests, a token PUT and a GET), so about 2 s
  when 169.254.169.254 swallows packets. AWS_METADATA_SERVICE_TIMEOUT and
  AWS_METADATA_SERVICE_NUM_ATTEMPTS, when set, win; AWS_EC2_METADATA_DISABLED=true skips the probe.
The region calls without a region of their own take (Secrets Manager, STS for a profile's role)
is AWS_REGION, else AWS_DEFAULT_REGION, else the profile's (settings.aws_region); botocore alone
would ignore AWS_REGION.
Endpoint overrides come from AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL_ECR_PUBLIC,
AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL (see settings.py), read here because Debian 12's
botocore predates them. With an override, the FIPS and dual-stack switches are not applied
(botocore refuses the combination); otherwise a FIPS or dual-stack registry host selects the
matching API endpoint.
"""

from __future__ import annotations

import contextlib
import math
import time

from docker_credential_convox import APP, __version__
from docker_credential_convox.errors import AwsError, one_line
from docker_credential_convox.servers import SERVICE_ECR, Target
from docker_credential_convox.settings import (
    ENV_AWS_METADATA_SERVICE_NUM_ATTEMPTS,
    ENV_AWS_METADATA_SERVICE_TIMEOUT,
    Settings,
)

# `typing` costs milliseconds at start-up; mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Callable, Optional

    from botocore.session import Session

    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.sources.ecr import AwsSource

MAX_ATTEMPTS = 2
METADATA_TIMEOUT = 1
METADATA_ATTEMPTS = 1
ROLE_SESSION_NAME = APP
ROLE_SESSION_SECONDS = 900  # the minimum: the role's keys serve one GetAuthorizationToken call
DEFAULT_TOKEN_LIFETIME = 12 * 3600.0  # when a response omits expiresAt
# ECR tokens live 12 hours. An expiresAt further out than this (clock skew aside) is nonsense
# and is replaced by DEFAULT_TOKEN_LIFETIME, so it can never pin a token in the cache.
MAX_TOKEN_LIFETIME = 24 * 3600.0
MESSAGE_LIMIT = 400  # characters of an AWS error message kept in the one-line error
USER_AGENT = f"{APP}/{__version__}"


class Attempt:
    """One mint under way, for the steps that produce credentials: the registry's API, and how
    far it got (the AWS operation, the provider that answered, every secret seen so far, which
    any error text masks)."""

    __slots__ = ("diagnostics", "method", "operation", "secrets", "target")

    def __init__(self, target: Target, diagnostics: Diagnostics, secret: Optional[str]) -> None:
        self.target = target
        self.diagnostics = diagnostics
        self.operation = "resolving AWS credentials"
        self.method = ""
        self.secrets: list[str] = [secret or ""]


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


_HINTS = {
    "NoCredentials": (
        "hint: give the helper AWS credentials (`aws configure`, AWS_PROFILE, `aws sso login`), "
        f"or store access keys for this registry: `{APP} registries add SERVER`"
    ),
    "ProfileNotFound": (
        "hint: check the profile's name in the AWS config files "
        "(AWS_CONFIG_FILE, default ~/.aws/config)"
    ),
    "bad-credentials": (
        "hint: AWS does not accept these credentials: check the access key ID and secret"
    ),
    "expired": "hint: the AWS session credentials have expired: refresh them and try again",
    "unreachable": (
        "hint: the AWS API could not be reached: check the network, HTTPS_PROXY, and any "
        "AWS_ENDPOINT_URL_* setting"
    ),
}
_HINT_GROUPS = {
    "UnrecognizedClientException": "bad-credentials",
    "InvalidClientTokenId": "bad-credentials",
    "InvalidSignatureException": "bad-credentials",
    "SignatureDoesNotMatch": "bad-credentials",
    "ExpiredToken": "expired",
    "ExpiredTokenException": "expired",
    "RequestExpired": "expired",
    "EndpointConnectionError": "unreachable",
    "ConnectTimeoutError": "unreachable",
    "ReadTimeoutError": "unreachable",
    "ConnectionClosedError": "unreachable",
    "ProxyConnectionError": "unreachable",
    "SSLError": "unreachable",
}
_SSO_ERRORS = frozenset({"TokenRetrievalError", "UnauthorizedSSOTokenError", "SSOTokenLoadError"})


def _hint(code: str, source: AwsSource, operation: str) -> Optional[str]:
    """What to do about an AWS error, for stderr."""
    if code in _SSO_ERRORS:
        profile = f" --profile {source.profile}" if source.profile else ""
        return (
            "hint: the AWS SSO session has expired or was never started: "
            f"run `aws sso login{profile}`"
        )
    if code in ("AccessDenied", "AccessDeniedException"):
        action = "sts:AssumeRole" if operation.startswith("sts:") else "ecr:GetAuthorizationToken"
        return f"hint: the AWS principal is not allowed {action}: check its IAM policy"
    return _HINTS.get(_HINT_GROUPS.get(code, code))


def _to_aws_error(
    exc: BaseException,
    operation: str,
    source: AwsSource,
    secrets: Sequence[str],
    credentials_method: str,
) -> AwsError:
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
        code = str(error.get("Code") or "ClientError")
        message = str(error.get("Message") or exc)
    elif isinstance(exc, bx.NoCredentialsError):
        code, message = "NoCredentials", "no AWS credentials were found"
    else:
        code, message = type(exc).__name__, str(exc) or type(exc).__name__
    return AwsError(
        operation,
        one_line(code, 80, secrets),
        one_line(message, MESSAGE_LIMIT, secrets),
        _hint(code, source, operation),
        credentials_method,
    )


def session(settings: Settings, profile: Optional[str] = None, standalone: bool = False) -> Session:
    """A botocore session with the metadata-service probe bounded (unless the user chose).

    `standalone`: ignore AWS_PROFILE, for stored keys that must not depend on other settings.
    """
    import botocore.session

    # (config file key, environment variables, default, conversion): no way to name a profile.
    session_vars = {"profile": (None, None, None, None)} if standalone else None
    session = botocore.session.Session(session_vars=session_vars, profile=profile)
    region = settings.aws_region
    if region is not None:  # AWS_REGION, which botocore ignores, wins over AWS_DEFAULT_REGION
        session.set_config_variable("region", region)
    if not settings.environ.get(ENV_AWS_METADATA_SERVICE_TIMEOUT):
        session.set_config_variable("metadata_service_timeout", METADATA_TIMEOUT)
    if not settings.environ.get(ENV_AWS_METADATA_SERVICE_NUM_ATTEMPTS):
        session.set_config_variable("metadata_service_num_attempts", METADATA_ATTEMPTS)
    session.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=_lenient_timestamp
    )
    return session


def _lenient_timestamp(value: Any) -> Any:
    """botocore's timestamp parsing, but a value it cannot parse is handed over as it came.

    botocore raises RuntimeError for an epoch beyond datetime's range (an expiresAt of 1e17),
    which would lose the whole reply; `_expiry` judges the raw value instead.
    """
    from botocore.parsers import DEFAULT_TIMESTAMP_PARSER

    try:
        return DEFAULT_TIMESTAMP_PARSER(value)
    except (RuntimeError, OverflowError, ValueError):
        return value


def client(
    session: Session,
    service: str,
    target: Target,
    settings: Settings,
    credentials: dict[str, Optional[str]],
) -> Any:
    from botocore.config import Config

    endpoint = settings.aws_endpoint_url(service)
    # botocore rejects FIPS or dual-stack together with an explicit endpoint.
    use_variants = endpoint is None
    config = Config(
        connect_timeout=settings.aws_connect_timeout,
        read_timeout=settings.aws_read_timeout,
        retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        user_agent_extra=USER_AGENT,
        use_fips_endpoint=target.fips and use_variants,
        use_dualstack_endpoint=target.dualstack and use_variants and service != "sts",
    )
    return session.create_client(
        service,
        region_name=target.region,
        endpoint_url=endpoint,
        config=config,
        aws_access_key_id=credentials.get("aws_access_key_id"),
        aws_secret_access_key=credentials.get("aws_secret_access_key"),
        aws_session_token=credentials.get("aws_session_token"),
    )


def endpoint_for(target: Target, settings: Settings) -> str:
    """The endpoint a client for `target` would call, for debug lines (no network)."""
    return settings.aws_endpoint_url(target.service) or (
        f"{target.service} in {target.region}"
        + (" (FIPS)" if target.fips else "")
        + (" (dual-stack)" if target.dualstack else "")
    )


def _decode_token(authorization_token: str) -> tuple[str, str]:
    """(username, password) from base64 `AWS:<password>`."""
    import base64
    import binascii

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


def chain_credentials(
    settings: Settings, attempt: Attempt, profile: Optional[str] = None
) -> tuple[Session, dict[str, Optional[str]]]:
    """Credentials from botocore's chain (a named profile, or the default chain)."""
    from botocore import exceptions as bx

    chain = session(settings, profile)
    resolved = chain.get_credentials()
    if resolved is None:
        raise bx.NoCredentialsError()
    frozen = resolved.get_frozen_credentials()
    attempt.secrets += [frozen.secret_key or "", frozen.token or ""]
    attempt.method = str(getattr(resolved, "method", "") or "")
    attempt.diagnostics.debug(
        f"AWS credentials resolved by botocore's {attempt.method or '?'} provider"
    )
    return chain, {
        "aws_access_key_id": frozen.access_key,
        "aws_secret_access_key": frozen.secret_key,
        "aws_session_token": frozen.token,
    }


def assume_role(
    chain: Session,
    settings: Settings,
    attempt: Attempt,
    credentials: dict[str, Optional[str]],
    *,
    role_arn: str,
    external_id: Optional[str],
) -> dict[str, Optional[str]]:
    """The role's session credentials, from sts:AssumeRole called with `credentials`."""
    attempt.operation = "sts:AssumeRole"
    # STS in the registry's region, FIPS when the registry is.
    sts = client(chain, "sts", attempt.target, settings, credentials)
    request: dict[str, Any] = {
        "RoleArn": role_arn,
        "RoleSessionName": ROLE_SESSION_NAME,
        "DurationSeconds": ROLE_SESSION_SECONDS,
    }
    if external_id:
        request["ExternalId"] = external_id
    role = sts.assume_role(**request)["Credentials"]
    attempt.secrets += [role["SecretAccessKey"], role["SessionToken"]]
    attempt.method = f"assume-role via {attempt.method or 'default chain'}"
    return {
        "aws_access_key_id": role["AccessKeyId"],
        "aws_secret_access_key": role["SecretAccessKey"],
        "aws_session_token": role["SessionToken"],
    }


def mint_token(
    target: Target,
    source: AwsSource,
    settings: Settings,
    diagnostics: Diagnostics,
    *,
    secret: Optional[str] = None,
    clock: Callable[[], float] = time.time,
) -> MintedToken:
    """Call GetAuthorizationToken for `target` with credentials from `source` (and its stored
    `secret`, for access keys).

    Raises AwsError (never carrying a secret) on any failure.
    """
    from botocore import exceptions as bx

    attempt = Attempt(target, diagnostics, secret)
    try:
        chain, credentials = source.aws_credentials(settings, attempt, secret)
        attempt.operation = f"{target.service}:GetAuthorizationToken"
        api = client(chain, target.service, target, settings, credentials)
        now = clock()
        response = api.get_authorization_token()
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
        raise _to_aws_error(
            exc, attempt.operation, source, attempt.secrets, attempt.method
        ) from None
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise AwsError(
            attempt.operation,
            "MalformedResponse",
            one_line(
                f"unexpected response ({type(exc).__name__}: {exc})",
                MESSAGE_LIMIT,
                attempt.secrets,
            ),
            credentials_method=attempt.method,
        ) from None
