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
Endpoint overrides come from AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL_ECR_PUBLIC,
AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL (see settings.py), read here because Debian 12's
botocore predates them. With an override, the FIPS and dual-stack switches are not applied
(botocore refuses the combination); otherwise a FIPS or dual-stack registry host selects the
matching API endpoint.
"""

from __future__ import annotations

import contextlib
import json
import math
import time

from docker_credential_convox import __version__
from docker_credential_convox.errors import one_line
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

MAX_ATTEMPTS = 2
METADATA_TIMEOUT = 1
METADATA_ATTEMPTS = 1
ROLE_SESSION_NAME = "docker-credential-convox"
ROLE_SESSION_SECONDS = 900  # the minimum: the role's keys serve one GetAuthorizationToken call
DEFAULT_TOKEN_LIFETIME = 12 * 3600.0  # when a response omits expiresAt
# ECR tokens live 12 hours. An expiresAt further out than this (clock skew aside) is nonsense
# and is replaced by DEFAULT_TOKEN_LIFETIME, so it can never pin a token in the cache.
MAX_TOKEN_LIFETIME = 24 * 3600.0
MESSAGE_LIMIT = 400  # characters of an AWS error message kept in the one-line error
USER_AGENT = f"docker-credential-convox/{__version__}"

SERVICE_ECR = "ecr"
SERVICE_ECR_PUBLIC = "ecr-public"

KIND_KEYS = "keys"
KIND_PROFILE = "profile"
KIND_ROLE = "role"
KIND_DEFAULT = "default"

CHAIN_DESCRIPTION = "the AWS default credential chain"


class CredentialSource:
    """Where the AWS credentials for one registry come from; holds no secret."""

    __slots__ = ("access_key_id", "external_id", "kind", "profile", "role_arn")

    def __init__(
        self,
        kind: str,
        access_key_id: Optional[str] = None,
        profile: Optional[str] = None,
        role_arn: Optional[str] = None,
        external_id: Optional[str] = None,
    ) -> None:
        self.kind = kind
        self.access_key_id = access_key_id
        self.profile = profile
        self.role_arn = role_arn
        self.external_id = external_id

    @classmethod
    def keys(cls, access_key_id: str) -> CredentialSource:
        return cls(KIND_KEYS, access_key_id=access_key_id)

    @classmethod
    def named_profile(cls, profile: str) -> CredentialSource:
        return cls(KIND_PROFILE, profile=profile)

    @classmethod
    def role(
        cls, role_arn: str, external_id: Optional[str] = None, profile: Optional[str] = None
    ) -> CredentialSource:
        return cls(KIND_ROLE, profile=profile, role_arn=role_arn, external_id=external_id)

    @classmethod
    def default_chain(cls) -> CredentialSource:
        return cls(KIND_DEFAULT)

    def describe(self) -> str:
        """The source in words, for messages."""
        if self.kind == KIND_KEYS:
            return f"the access key {self.access_key_id} stored for this registry"
        if self.kind == KIND_PROFILE:
            return f"the AWS profile {self.profile!r} recorded for this registry"
        if self.kind == KIND_ROLE:
            base = f"the AWS profile {self.profile!r}" if self.profile else CHAIN_DESCRIPTION
            external = " with an external ID" if self.external_id else ""
            return f"the role {self.role_arn} (assumed{external} from {base})"
        return CHAIN_DESCRIPTION

    def identity(self, settings: Settings) -> dict[str, object]:
        """What names this source for the token cache, without resolving any credential."""
        if self.kind == KIND_KEYS:
            return {"keys": self.access_key_id}
        if self.kind == KIND_PROFILE:
            return {"profile": self.profile}
        if self.kind == KIND_ROLE:
            return {
                "role": self.role_arn,
                "external_id": self.external_id or "",
                "profile": self.profile or "",
            }
        return {"default": settings.aws_default_chain_identity()}

    def __repr__(self) -> str:
        return f"CredentialSource({self.describe()})"


class Target:
    """The API that mints tokens for one registry: service, region and endpoint variant."""

    __slots__ = ("dualstack", "fips", "region", "service")

    def __init__(self, service: str, region: str, fips: bool = False, dualstack: bool = False):
        self.service = service
        self.region = region
        self.fips = fips
        self.dualstack = dualstack

    def cache_key(self, registry: str, source: CredentialSource, settings: Settings) -> str:
        """The token cache key: registry, API, endpoint and credential source, never a secret."""
        return json.dumps(
            [
                registry,
                self.service,
                self.region,
                settings.aws_endpoint_url(self.service) or "",
                source.identity(settings),
            ],
            sort_keys=True,
            separators=(",", ":"),
        )


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


class AwsError(Exception):
    """A failed step of minting: which AWS operation, its error code and message, and a hint."""

    def __init__(
        self,
        operation: str,
        code: str,
        message: str,
        hint: Optional[str] = None,
        credentials_method: str = "",
    ) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.operation = operation
        self.code = code
        self.message = message
        self.hint = hint
        self.credentials_method = credentials_method

    def summary(self) -> str:
        """`operation failed: Code: message`, one line."""
        return f"{self.operation} failed: {self.code}: {self.message}"


_HINTS = {
    "NoCredentials": (
        "hint: give the helper AWS credentials (`aws configure`, AWS_PROFILE, `aws sso login`), "
        "or store access keys for this registry: `docker-credential-convox registries add SERVER`"
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


def _hint(code: str, source: CredentialSource, operation: str) -> Optional[str]:
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
    source: CredentialSource,
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


def _session(
    settings: Settings, profile: Optional[str] = None, standalone: bool = False
) -> Session:
    """A botocore session with the metadata-service probe bounded (unless the user chose).

    `standalone`: ignore AWS_PROFILE, for stored keys that must not depend on other settings.
    """
    import botocore.session

    # (config file key, environment variables, default, conversion): no way to name a profile.
    session_vars = {"profile": (None, None, None, None)} if standalone else None
    session = botocore.session.Session(session_vars=session_vars, profile=profile)
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


def _client(
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


def mint_token(
    target: Target,
    source: CredentialSource,
    settings: Settings,
    diagnostics: Diagnostics,
    *,
    secret_access_key: Optional[str] = None,
    clock: Callable[[], float] = time.time,
) -> MintedToken:
    """Call GetAuthorizationToken for `target` with credentials from `source`.

    Raises AwsError (never carrying a secret) on any failure.
    """
    from botocore import exceptions as bx

    secrets: list[str] = [secret_access_key or ""]
    operation = "resolving AWS credentials"
    method = ""
    try:
        credentials: dict[str, Optional[str]]
        if source.kind == KIND_KEYS:
            # Stored keys stand alone: an AWS_PROFILE meant for other work must not interfere.
            session = _session(settings, standalone=True)
            credentials = {
                "aws_access_key_id": source.access_key_id,
                "aws_secret_access_key": secret_access_key,
            }
            method = "stored-keys"
        else:
            session = _session(settings, source.profile if source.kind != KIND_DEFAULT else None)
            resolved = session.get_credentials()
            if resolved is None:
                raise bx.NoCredentialsError()
            frozen = resolved.get_frozen_credentials()
            secrets += [frozen.secret_key or "", frozen.token or ""]
            method = str(getattr(resolved, "method", "") or "")
            credentials = {
                "aws_access_key_id": frozen.access_key,
                "aws_secret_access_key": frozen.secret_key,
                "aws_session_token": frozen.token,
            }
            diagnostics.debug(f"AWS credentials resolved by botocore's {method or '?'} provider")
        if source.kind == KIND_ROLE:
            operation = "sts:AssumeRole"
            sts = _client(session, "sts", target, settings, credentials)
            request: dict[str, Any] = {
                "RoleArn": source.role_arn,
                "RoleSessionName": ROLE_SESSION_NAME,
                "DurationSeconds": ROLE_SESSION_SECONDS,
            }
            if source.external_id:
                request["ExternalId"] = source.external_id
            role = sts.assume_role(**request)["Credentials"]
            secrets += [role["SecretAccessKey"], role["SessionToken"]]
            credentials = {
                "aws_access_key_id": role["AccessKeyId"],
                "aws_secret_access_key": role["SecretAccessKey"],
                "aws_session_token": role["SessionToken"],
            }
            method = f"assume-role via {method or 'default chain'}"
        operation = f"{target.service}:GetAuthorizationToken"
        client = _client(session, target.service, target, settings, credentials)
        now = clock()
        response = client.get_authorization_token()
        data = response["authorizationData"]
        if target.service == SERVICE_ECR:
            data = data[0]
        secrets.append(data["authorizationToken"])
        username, password = _decode_token(data["authorizationToken"])
        expires_at = _expiry(data.get("expiresAt"), now, diagnostics)
        return MintedToken(username, password, expires_at, method)
    except AwsError:
        raise
    except (bx.BotoCoreError, bx.ClientError) as exc:
        raise _to_aws_error(exc, operation, source, secrets, method) from None
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise AwsError(
            operation,
            "MalformedResponse",
            one_line(f"unexpected response ({type(exc).__name__}: {exc})", MESSAGE_LIMIT, secrets),
            credentials_method=method,
        ) from None
