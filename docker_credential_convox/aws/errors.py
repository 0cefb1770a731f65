"""What an AWS call's failure may say: AWS's own error code and message, or only the status,
and what to do about it.

An endpoint's answer is not AWS's when botocore could not read an AWS error out of it (a proxy's
page, an echo of the request, a body that is not the protocol's): botocore then puts the whole
body in the message, or in the exception's text. Such text is never repeated, since it may carry
what the request carried (a SecretString); the error names the HTTP status or the exception's
type instead. What is kept is cut to one line with every encoding of every secret masked.
"""

from __future__ import annotations

from docker_credential_convox import APP, TYPE_CHECKING
from docker_credential_convox.errors import AwsError, one_line

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Optional

CODE_LIMIT = 80
MESSAGE_LIMIT = 400  # characters of an AWS error message kept in the one-line error
DEADLINE_CODE = "DeadlineExceeded"  # the code of an AwsError for a call past its deadline
# botocore exceptions whose text is built from local settings only (an endpoint URL, a profile
# or region name), never from what an endpoint sent.
_LOCAL_TEXT = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "NoRegionError",
        "InvalidRegionError",
        "ProfileNotFound",
        "NoCredentialsError",
        "PartialCredentialsError",
        "TokenRetrievalError",
        "UnauthorizedSSOTokenError",
        "SSOTokenLoadError",
    }
)


def is_aws_code(code: str) -> bool:
    """Whether `code` looks like an AWS error code (`AccessDeniedException`), not a status
    number or text botocore made up from a body it could not read."""
    return (
        0 < len(code) <= CODE_LIMIT
        and code[0].isascii()
        and code[0].isalpha()
        and all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in code)
    )


def error_parts(exc: BaseException, secrets: Sequence[str], limit: int) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a botocore exception, each fit for one line of error
    text: the message at most `limit` characters, every encoding of `secrets` masked."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        response: Any = exc.response if isinstance(exc.response, dict) else {}
        error = response.get("Error") or {}
        meta = response.get("ResponseMetadata") or {}
        try:
            status = int(meta.get("HTTPStatusCode") or 0)
        except (TypeError, ValueError):
            status = 0
        code = str(error.get("Code") or "")
        if not is_aws_code(code):  # not an AWS error: what the endpoint sent is not repeated
            return (f"HTTP {status}" if status else "ClientError"), "", status
        message = str(error.get("Message") or "")
        return code, one_line(message, limit, secrets), status
    name = type(exc).__name__
    if name in _LOCAL_TEXT:
        return name, one_line(str(exc), limit, secrets), 0
    return name, "", 0


HINTS = {
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


def _hint(code: str, profile: Optional[str], operation: str) -> Optional[str]:
    """What to do about an AWS error, for stderr."""
    if code in _SSO_ERRORS:
        option = f" --profile {profile}" if profile else ""
        return (
            "hint: the AWS SSO session has expired or was never started: "
            f"run `aws sso login{option}`"
        )
    if code in ("AccessDenied", "AccessDeniedException"):
        action = "sts:AssumeRole" if operation.startswith("sts:") else "ecr:GetAuthorizationToken"
        return f"hint: the AWS principal is not allowed {action}: check its IAM policy"
    return HINTS.get(_HINT_GROUPS.get(code, code))


def mint_error(
    exc: BaseException,
    operation: str,
    profile: Optional[str],
    secrets: Sequence[str],
    credentials_method: str,
) -> AwsError:
    """The AwsError for a botocore exception raised by a mint's `operation`, with a hint
    (`profile`: the AWS profile the credentials came from, for `aws sso login`)."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.NoCredentialsError):
        code, message = "NoCredentials", "no AWS credentials were found"
    else:  # AWS's own code and message, never what an endpoint that is not AWS sent
        code, message, status = error_parts(exc, secrets, MESSAGE_LIMIT)
        if not message and code.startswith("HTTP "):
            message = "the endpoint's answer is not an AWS error"
        elif not message:
            message = code if status else "not shown, as it may quote what the endpoint sent"
    return AwsError(operation, code, message, _hint(code, profile, operation), credentials_method)
