"""The helper's exception family: one-line messages for stdout, hints for stderr.

Here: the base class and what every request may raise. A failure that only one part can raise
lives beside it, off the paths that never raise it: the `registries` commands' in
registries/errors.py, the shared store's in shared/, a keyring that does not answer in stores/.

Callers test the class, never the text (like `IsErrCredentialsNotFound` in the Go helpers).
No message may contain a secret: messages reach stdout, logs and the user's terminal.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Optional, TextIO


NOT_FOUND_MESSAGE = "credentials not found in native keychain"
MISSING_SERVER_URL_MESSAGE = "no credentials server URL"
MISSING_USERNAME_MESSAGE = "no credentials username"
# No keyring backend answers: the three ways out, each with what sets it up.
NO_KEYRING_MESSAGE = (
    "no usable OS keyring: no Secret Service answers on the D-Bus session bus; "
    "start one (gnome-keyring-daemon or KeePassXC), "
    "or keep secrets in pass (gpg-encrypted files: `pass init GPG-ID`, then "
    "DOCKER_CREDENTIAL_CONVOX_SECRET_STORE=pass), "
    "or, on a machine of a fleet, use the registries an operator shared: "
    "DOCKER_CREDENTIAL_CONVOX_SHARED=secretsmanager:PREFIX"
)
NO_KEYRING_HINT = (
    "hint: on a headless machine run the client inside a D-Bus session with an unlocked keyring:\n"
    '  dbus-run-session -- sh -c \'printf %s "$KEYRING_PASSWORD" | '
    "gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec docker login ...'\n"
    "or, without a Secret Service, use pass (as docker-credential-pass does): make a gpg key "
    "(gpg --quick-gen-key), run `pass init KEY-ID`, and set "
    "DOCKER_CREDENTIAL_CONVOX_SECRET_STORE=pass (docs/pass.md)."
)


def one_line(text: str, limit: int, secrets: Sequence[str] = ()) -> str:
    """`text` collapsed to one line of at most `limit` characters, each of `secrets` masked in
    every encoding it may take in an echo (`secret_forms`).

    For the text of a library's exception, which may span lines and, rarely, echo a value.
    """
    if text and any(secrets):
        forms = {form for secret in secrets if secret for form in secret_forms(secret)}
        for form in sorted(forms, key=len, reverse=True):  # a longer form holds shorter ones
            text = text.replace(form, "***")
    return " ".join(text.split())[:limit]


def secret_forms(secret: str) -> list[str]:
    """`secret` as it may appear in text that echoes a request: raw, JSON-escaped (once or
    twice, ASCII-only or not), Python-escaped, URL-encoded and base64-encoded. To mask the
    basic-auth form, pass `user:secret` as a secret too."""
    import base64
    import json
    import urllib.parse

    escaped = [json.dumps(secret, ensure_ascii=flag)[1:-1] for flag in (True, False)]
    twice = [
        json.dumps(text, ensure_ascii=flag)[1:-1] for text in escaped for flag in (True, False)
    ]
    data = secret.encode("utf-8", "surrogatepass")
    encoded = [base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()]
    return [
        secret,
        *escaped,
        *twice,
        secret.encode("unicode_escape").decode("ascii"),
        ascii(secret)[1:-1],
        urllib.parse.quote(data, safe=""),
        urllib.parse.quote(data),
        urllib.parse.quote_plus(data),
        *encoded,
        *(text.rstrip("=") for text in encoded),
    ]


class HelperError(Exception):
    """A failure reported as one line on stdout (exit 1), with an optional hint on stderr."""

    def __init__(self, message: str, hint: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class CredentialsNotFound(HelperError):
    """Nothing is stored for the server; clients match this exact text."""

    def __init__(self, hint: Optional[str] = None) -> None:
        super().__init__(NOT_FOUND_MESSAGE, hint)


class MissingServerURL(HelperError):
    """The request named no server."""

    def __init__(self) -> None:
        super().__init__(MISSING_SERVER_URL_MESSAGE)


class MissingUsername(HelperError):
    """A store request without a username."""

    def __init__(self) -> None:
        super().__init__(MISSING_USERNAME_MESSAGE)


class BadRequest(HelperError):
    """What arrived on stdin or argv is not something the helper can act on."""


class StoreUnavailable(HelperError):
    """The place that holds secrets (the OS keyring) cannot be used right now."""


class StateError(HelperError):
    """One of the helper's own files cannot be read or written."""


class SourceError(HelperError):
    """A credential source (AWS, say) refused or failed to produce credentials."""


class RememberedFailure(SourceError):
    """A mint failed a moment ago for the same source: its error, answered again at once."""


class AwsError(Exception):
    """A failed step of minting: which AWS operation, its error code and message, and a hint.

    Not a HelperError: the ECR backend turns it into a SourceError that names the registry.
    """

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


def report_internal_error(
    exc: Exception, program: str, debug: bool, report: TextIO, trace: TextIO
) -> None:
    """An unexpected exception as one line on `report`: its type only, as its text may hold a
    secret; the traceback goes to `trace` only when debugging was asked for."""
    if debug:
        import traceback

        traceback.print_exc(file=trace)
    report.write(
        f"internal error in {program} ({type(exc).__name__}); "
        "set DOCKER_CREDENTIAL_CONVOX_DEBUG=1 and retry to see the details\n"
    )
