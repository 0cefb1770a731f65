"""AWS Secrets Manager, the store of registries shared by a fleet: the calls and their errors.

Each call is one botocore request through aws/clients.py (timeouts, retries, endpoint override,
the machine's own region and default credential chain), bounded as a whole by the AWS deadline
(aws/deadline.py): past it, a transient "endpoint unreachable". This module is imported when a
call is to be made: a `get` answered from the machine's cache never loads it.

Every failure becomes a SharedStoreError whose `cause` is a short phrase (not found is not a
failure: `read` answers None), and whose `transient` says whether the cause may pass by itself
(throttling, an endpoint down or slow, a server error): only then may a cached value be served
past its age. The error text is AWS's code and message, cut to one line with every secret the
call carried masked: a value never reaches a message.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.aws.clients import client, session
from docker_credential_convox.aws.deadline import DeadlineExceeded, within
from docker_credential_convox.aws.errors import error_parts
from docker_credential_convox.errors import one_line
from docker_credential_convox.server_keys import Target
from docker_credential_convox.shared import SharedStoreError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, Callable, Optional

    from docker_credential_convox.settings import Settings

SERVICE = "secretsmanager"
MESSAGE_LIMIT = 300
LIST_PAGE = 100
MAX_LIST_PAGES = 50  # 5,000 shared registries; past that a scope is not one fleet's
WRITE_ATTEMPTS = 2  # a create after a concurrent delete is tried again once
# Secrets Manager error codes, by the cause users are told.
_NOT_FOUND = frozenset({"ResourceNotFoundException"})
_DENIED = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "ExpiredToken",
    }
)
_THROTTLED = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
    }
)
_KMS = frozenset(
    {
        "DecryptionFailure",
        "EncryptionFailure",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
    }
)
_SERVER = frozenset({"InternalServiceError", "InternalFailure", "ServiceUnavailable"})
_DOWN_EXCEPTIONS = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ProxyConnectionError",
        "SSLError",
        "ConnectionError",
        "HTTPClientError",
    }
)


def _error(  # noqa: PLR0911 - one return per cause
    exc: BaseException, operation: str, secrets: Sequence[str]
) -> SharedStoreError:
    """The SharedStoreError for a botocore exception raised by `operation`."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.NoCredentialsError):
        return SharedStoreError(
            "no AWS credentials",
            "",
            transient=False,
            hint="hint: give this machine AWS credentials (an instance or task role, "
            "AWS_PROFILE, `aws configure`) that may read the shared scope",
        )
    elif isinstance(exc, bx.NoRegionError):
        return SharedStoreError(
            "no AWS region configured",
            "",
            transient=False,
            hint="hint: set AWS_REGION (or a region in the AWS profile) to the shared "
            "scope's region",
        )
    # AWS's own code and message, never what an endpoint that is not AWS sent (error_parts).
    code, message, status = error_parts(exc, secrets, MESSAGE_LIMIT)
    detail = one_line(f"{operation}: {code}: {message}".rstrip(": "), MESSAGE_LIMIT, secrets)
    if code in _DENIED:
        return SharedStoreError(
            "access denied",
            detail,
            transient=False,
            hint=f"hint: this machine's AWS principal needs secretsmanager:{operation} on the "
            "shared scope's secrets (PREFIX/*)",
        )
    if code in _THROTTLED:
        return SharedStoreError("throttled by Secrets Manager", detail, transient=True)
    if code in _KMS:
        return SharedStoreError(
            "the KMS key refused",
            detail,
            transient=False,
            hint="hint: this machine's AWS principal needs kms:Decrypt on the scope's KMS key",
        )
    if code in _DOWN_EXCEPTIONS or code in _SERVER or status >= 500:
        return SharedStoreError(
            "Secrets Manager endpoint unreachable",
            detail,
            transient=True,
            hint="hint: check the network, HTTPS_PROXY and AWS_ENDPOINT_URL_SECRETS_MANAGER",
        )
    return SharedStoreError("Secrets Manager refused the request", detail, transient=False)


def _is_not_found(exc: BaseException) -> bool:
    from botocore import exceptions as bx

    if not isinstance(exc, bx.ClientError):
        return False
    error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
    code = str(error.get("Code") or "")
    # A secret scheduled for deletion answers InvalidRequestException "marked for deletion".
    marked = code == "InvalidRequestException" and "deletion" in str(error.get("Message") or "")
    return code in _NOT_FOUND or marked


class SecretsManager:
    """The Secrets Manager calls the shared store makes, with the machine's own credentials."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None

    @property
    def endpoint(self) -> str:
        """The endpoint calls go to, for messages (no network)."""
        return self.settings.aws_endpoint_url(SERVICE) or "Secrets Manager in the AWS region"

    def _api(self) -> Any:
        if self._client is None:
            chain = session(self.settings)
            target = Target(SERVICE, chain.get_config_variable("region"))
            self._client = client(chain, SERVICE, target, self.settings, {})
        return self._client

    def _call(self, operation: str, secrets: Sequence[str], **request: Any) -> Any:
        from botocore import exceptions as bx

        try:
            return self._within_deadline(
                operation, getattr(self._api(), _method(operation)), request
            )
        except (bx.BotoCoreError, bx.ClientError) as exc:
            if _is_not_found(exc):
                raise _NotFound() from None
            raise _error(exc, operation, secrets) from None

    def _within_deadline(
        self, operation: str, method: Callable[..., Any], request: Mapping[str, Any]
    ) -> Any:
        """`method(**request)`, abandoned at the AWS deadline with a transient SharedStoreError
        naming the endpoint and the bound (botocore's own errors escape as they came)."""
        try:
            return within(self.settings.aws_deadline, lambda: method(**request))
        except DeadlineExceeded as exc:
            raise SharedStoreError(
                "Secrets Manager endpoint unreachable",
                one_line(f"{operation}: {exc.describe(self.endpoint)}", MESSAGE_LIMIT),
                transient=True,
                hint="hint: check the network, HTTPS_PROXY and AWS_ENDPOINT_URL_SECRETS_MANAGER",
            ) from None

    def read(self, name: str) -> Optional[str]:
        """The SecretString of `name`, None when there is no such secret."""
        try:
            reply = self._call("GetSecretValue", (), SecretId=name)
        except _NotFound:
            return None
        value = reply.get("SecretString")
        if not isinstance(value, str):
            raise SharedStoreError(
                "the secret holds no text", f"GetSecretValue of {name}", transient=False
            )
        return value

    def write(
        self,
        name: str,
        value: str,
        tags: Mapping[str, str],
        kms_key_id: Optional[str],
        secrets: Sequence[str] = (),
    ) -> bool:
        """Create `name` with `value` (tagged, under `kms_key_id`), or put `value` as its new
        version when it exists; True if it was created. `secrets` (the password in `value`)
        are masked in any error text.

        Another writer may delete the secret between the calls (a concurrent `remove
        --shared`): then it is created again, once; a second such race is a one-line error."""
        masked = (*secrets, value)
        tag_list = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        for _ in range(WRITE_ATTEMPTS):
            if self._create(name, value, tag_list, kms_key_id, masked):
                return True
            try:
                self._replace(name, value, tag_list, kms_key_id, masked)
            except _NotFound:
                continue  # deleted since CreateSecret said it exists: create it again
            return False
        raise SharedStoreError(
            "another writer deleted the secret each time it was written; try again",
            f"PutSecretValue of {name}",
            transient=True,
        )

    def _create(
        self,
        name: str,
        value: str,
        tag_list: list[dict[str, str]],
        kms_key_id: Optional[str],
        masked: Sequence[str],
    ) -> bool:
        """CreateSecret; False if a secret of that name exists."""
        request: dict[str, Any] = {"Name": name, "SecretString": value, "Tags": tag_list}
        if kms_key_id:
            request["KmsKeyId"] = kms_key_id
        from botocore import exceptions as bx

        try:
            self._within_deadline("CreateSecret", self._api().create_secret, request)
        except bx.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code") or "")
            if code == "ResourceExistsException":
                return False
            if _is_not_found(exc):  # "already scheduled for deletion"
                raise _scheduled(name) from None
            raise _error(exc, "CreateSecret", masked) from None
        except bx.BotoCoreError as exc:
            raise _error(exc, "CreateSecret", masked) from None
        return True

    def _replace(
        self,
        name: str,
        value: str,
        tag_list: list[dict[str, str]],
        kms_key_id: Optional[str],
        masked: Sequence[str],
    ) -> None:
        """Put `value` as the new version of the existing `name`; _NotFound if it is gone."""
        described = self._call("DescribeSecret", (), SecretId=name)
        if described.get("DeletedDate"):  # a value put now would be deleted with it
            raise _scheduled(name)
        if kms_key_id and described.get("KmsKeyId") != kms_key_id:
            self._call("UpdateSecret", (), SecretId=name, KmsKeyId=kms_key_id)
        self._call("PutSecretValue", masked, SecretId=name, SecretString=value)
        self._call("TagResource", (), SecretId=name, Tags=tag_list)

    def delete(self, name: str) -> bool:
        """Delete `name` at once (no recovery window, so it can be created again); False if
        there was none."""
        # A forced delete of a missing secret succeeds: ask first, to say there was none.
        if self.describe(name) is None:
            return False
        try:
            self._call("DeleteSecret", (), SecretId=name, ForceDeleteWithoutRecovery=True)
        except _NotFound:
            return False
        return True

    def describe(self, name: str) -> Optional[dict[str, Any]]:
        """DescribeSecret of `name` (tags, KMS key; never the value), None if there is none."""
        try:
            reply: dict[str, Any] = self._call("DescribeSecret", (), SecretId=name)
        except _NotFound:
            return None
        return reply

    def list_names(self, prefix: str) -> list[tuple[str, dict[str, str]]]:
        """(name, tags) of every secret whose name starts with `prefix`."""
        found: list[tuple[str, dict[str, str]]] = []
        request: dict[str, Any] = {
            "Filters": [{"Key": "name", "Values": [prefix]}],
            "MaxResults": LIST_PAGE,
        }
        for _ in range(MAX_LIST_PAGES):
            reply = self._call("ListSecrets", (), **request)
            for secret in reply.get("SecretList", []):
                name = secret.get("Name")
                if isinstance(name, str) and name.startswith(prefix):
                    tags = {
                        str(tag.get("Key")): str(tag.get("Value"))
                        for tag in secret.get("Tags") or []
                    }
                    found.append((name, tags))
            token = reply.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
        return found


def _scheduled(name: str) -> SharedStoreError:
    return SharedStoreError(
        f"its secret {name} is scheduled for deletion: restore it (aws secretsmanager "
        "restore-secret) or wait until it is deleted, then add again",
        "",
        transient=False,
    )


class _NotFound(Exception):
    """No such secret (not an error to the callers: they answer None or False)."""


def _method(operation: str) -> str:
    """botocore's method name for an operation (GetSecretValue -> get_secret_value)."""
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in operation).lstrip("_")
