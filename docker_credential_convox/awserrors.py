"""What an AWS call's failure may say: AWS's own error code and message, or only the status.

An endpoint's answer is not AWS's when botocore could not read an AWS error out of it (a proxy's
page, an echo of the request, a body that is not the protocol's): botocore then puts the whole
body in the message, or in the exception's text. Such text is never repeated, since it may carry
what the request carried (a SecretString); the error names the HTTP status or the exception's
type instead. What is kept is cut to one line with every encoding of every secret masked.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.errors import one_line

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

CODE_LIMIT = 80
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
