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
  AWS_METADATA_SERVICE_NUM_ATTEMPTS, when set, win; AWS_EC2_METADATA_DISABLED=true skips the probe;
- a total deadline (settings.py, DOCKER_CREDENTIAL_CONVOX_AWS_DEADLINE, default 20 s) over a
  mint's API calls together (AssumeRole, then GetAuthorizationToken) and over each Secrets Manager
  call: the read timeout is per read, so an endpoint that trickles its answer a byte at a time
  would hold a call for ever. `within` runs the call in a daemon thread and stops waiting at the
  deadline; the thread is abandoned and dies with the process. Resolving credentials is not
  bounded by it: a credential_process may wait for a person (an MFA code).
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

from docker_credential_convox import APP, TYPE_CHECKING, __version__
from docker_credential_convox.errors import AwsError, one_line
from docker_credential_convox.server_keys import SERVICE_ECR, Target
from docker_credential_convox.settings import (
    DEFAULT_AWS_DEADLINE,
    ENV_AWS_DEADLINE,
    ENV_AWS_METADATA_SERVICE_NUM_ATTEMPTS,
    ENV_AWS_METADATA_SERVICE_TIMEOUT,
    Settings,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Callable, Optional, TypeVar

    from botocore.session import Session

    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.sources.ecr import AwsSource

    Answer = TypeVar("Answer")

MAX_ATTEMPTS = 2
METADATA_TIMEOUT = 1
METADATA_ATTEMPTS = 1
ROLE_SESSION_NAME = APP
# cloud-provider-aws's ecr-credential-provider names its web-identity sessions so.
WEB_IDENTITY_SESSION_NAME = "ecr-credential-provider"
ROLE_SESSION_SECONDS = 900  # the minimum: the role's keys serve one GetAuthorizationToken call
DEFAULT_TOKEN_LIFETIME = 12 * 3600.0  # when a response omits expiresAt
# ECR tokens live 12 hours. An expiresAt further out than this (clock skew aside) is nonsense
# and is replaced by DEFAULT_TOKEN_LIFETIME, so it can never pin a token in the cache.
MAX_TOKEN_LIFETIME = 24 * 3600.0
MESSAGE_LIMIT = 400  # characters of an AWS error message kept in the one-line error
USER_AGENT = f"{APP}/{__version__}"
DEADLINE_CODE = "DeadlineExceeded"  # the code of an AwsError for a call past its deadline


class DeadlineExceeded(Exception):
    """A call still unanswered at its deadline (its thread is abandoned)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g} s")
        self.seconds = seconds

    def describe(self, endpoint: str) -> str:
        """One line naming the endpoint and the bound (never anything the endpoint sent)."""
        return f"no complete answer from {endpoint} within {self.seconds:g} s ({ENV_AWS_DEADLINE})"


def within(seconds: float, call: Callable[[], Answer]) -> Answer:
    """`call()`'s answer, or DeadlineExceeded once `seconds` have passed without one: the call
    runs in a daemon thread, left behind at the deadline (no drip of bytes can extend it)."""
    if seconds <= 0:
        raise DeadlineExceeded(0.0)
    import threading  # here: a cached `get` never calls AWS

    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed to the waiting thread as it came
            outcome.append((False, exc))

    worker = threading.Thread(target=run, name=f"{APP} AWS call", daemon=True)
    worker.start()
    worker.join(seconds)
    if not outcome:
        raise DeadlineExceeded(seconds)
    answered, value = outcome[0]
    if not answered:
        raise value
    answer: Answer = value
    return answer


class Attempt:
    """One mint under way, for the steps that produce credentials: the registry's API, and how
    far it got (the AWS operation, the provider that answered, every secret seen so far, which
    any error text masks), and the deadline its API calls share."""

    __slots__ = (
        "deadline",
        "deadline_at",
        "diagnostics",
        "method",
        "operation",
        "secrets",
        "target",
    )

    def __init__(
        self,
        target: Target,
        diagnostics: Diagnostics,
        secret: Optional[str],
        deadline: float = DEFAULT_AWS_DEADLINE,
    ) -> None:
        self.target = target
        self.diagnostics = diagnostics
        self.operation = "resolving AWS credentials"
        self.method = ""
        self.secrets: list[str] = [secret or ""]
        self.deadline = deadline
        self.deadline_at: Optional[float] = None  # set by the first API call

    def call(self, request: Callable[[], Answer], endpoint: str) -> Answer:
        """`request()` (an API call to `endpoint`) within what is left of the deadline, which
        starts with the first call; past it, an AwsError naming the endpoint and the bound."""
        if self.deadline_at is None:
            self.deadline_at = time.monotonic() + self.deadline
        try:
            return within(self.deadline_at - time.monotonic(), request)
        except DeadlineExceeded:
            raise AwsError(
                self.operation,
                DEADLINE_CODE,
                one_line(
                    DeadlineExceeded(self.deadline).describe(endpoint), MESSAGE_LIMIT, self.secrets
                ),
                _HINTS["unreachable"],
                self.method,
            ) from None


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
    DEADLINE_CODE: "unreachable",
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

    from docker_credential_convox.awserrors import error_parts

    if isinstance(exc, bx.NoCredentialsError):
        code, message = "NoCredentials", "no AWS credentials were found"
    else:  # AWS's own code and message, never what an endpoint that is not AWS sent
        code, message, status = error_parts(exc, secrets, MESSAGE_LIMIT)
        if not message and code.startswith("HTTP "):
            message = "the endpoint's answer is not an AWS error"
        elif not message:
            message = code if status else "not shown, as it may quote what the endpoint sent"
    return AwsError(operation, code, message, _hint(code, source, operation), credentials_method)


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
    *,
    unsigned: bool = False,
) -> Any:
    """A client for `service` at `target`'s endpoint; `unsigned` for calls whose proof is in the
    request (AssumeRoleWithWebIdentity), which then resolve no credentials at all."""
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
    if unsigned:
        from botocore import UNSIGNED

        config = config.merge(Config(signature_version=UNSIGNED))
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


def _sts_target(target: Target) -> Target:
    """The STS endpoint a role is assumed at for a registry's API (dual-stack never applies)."""
    return Target("sts", target.region, target.fips)


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
    endpoint = endpoint_for(_sts_target(attempt.target), settings)
    role = attempt.call(lambda: sts.assume_role(**request), endpoint)["Credentials"]
    attempt.secrets += [role["SecretAccessKey"], role["SessionToken"]]
    attempt.method = f"assume-role via {attempt.method or 'default chain'}"
    return {
        "aws_access_key_id": role["AccessKeyId"],
        "aws_secret_access_key": role["SecretAccessKey"],
        "aws_session_token": role["SessionToken"],
    }


def web_identity_credentials(
    settings: Settings, attempt: Attempt, role_arn: str, token: str
) -> tuple[Session, dict[str, Optional[str]]]:
    """A role's session credentials from sts:AssumeRoleWithWebIdentity (an unsigned call: the
    token is the proof), as cloud-provider-aws's ecr-credential-provider gets them."""
    attempt.operation = "sts:AssumeRoleWithWebIdentity"
    attempt.secrets.append(token)
    chain = session(settings, standalone=True)
    # Placeholders, never sent (the call is unsigned): they keep botocore from resolving the
    # node's own credentials, which this call must not need.
    placeholder: dict[str, Optional[str]] = {
        "aws_access_key_id": "unsigned",
        "aws_secret_access_key": "unsigned",
    }
    sts = client(chain, "sts", attempt.target, settings, placeholder, unsigned=True)
    role = sts.assume_role_with_web_identity(
        RoleArn=role_arn,
        RoleSessionName=WEB_IDENTITY_SESSION_NAME,
        WebIdentityToken=token,
        DurationSeconds=ROLE_SESSION_SECONDS,
    )["Credentials"]
    attempt.secrets += [role["SecretAccessKey"], role["SessionToken"]]
    attempt.method = "assume-role-with-web-identity"
    return chain, {
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

    attempt = Attempt(target, diagnostics, secret, settings.aws_deadline)
    try:
        chain, credentials = source.aws_credentials(settings, attempt, secret)
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
        raise _to_aws_error(
            exc, attempt.operation, source, attempt.secrets, attempt.method
        ) from None
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise AwsError(  # the type only: the text may quote the token it could not read
            attempt.operation,
            "MalformedResponse",
            f"unexpected response ({type(exc).__name__})",
            credentials_method=attempt.method,
        ) from None
