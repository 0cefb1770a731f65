"""The value of a shared secret: one registry's index entry and its secret, as one JSON object.

`{"version": 1, "ServerURL", "Username", "Secret", "Source"[, "Options"]}`: the registry index's
fields (registry_index.Entry) plus the secret, so a shared entry answers exactly as a local one
with the same source would. Other tooling may read and write it; the reader is strict, and a
value that is not in this format is a one-line error naming the registry, never a guess.

Strict means exactly what `registries add --shared` writes (issue 17): these fields and no
other, their JSON types, a source allowed for the kind of host with exactly its options, a
ServerURL naming the registry asked (without a user name), no control characters in names. Anyone
who may write one secret under the prefix could otherwise, say, record an ECR role for their own
host and collect the tokens each machine mints with its own credentials.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING, minijson
from docker_credential_convox.errors import HelperError
from docker_credential_convox.registry_index import Entry
from docker_credential_convox.server_keys import ECR, ECR_PUBLIC, REGISTRY, parse_server
from docker_credential_convox.sources import ROLE_PREFIX, is_role_arn

if TYPE_CHECKING:
    from typing import Optional

VERSION = 1
MAX_VALUE_BYTES = 64 * 1024  # Secrets Manager's own limit for a secret value
# The sources a shared entry may record: those that answer on any machine. (A login token
# expires within hours, an alias points at an entry of the local index, a profile is a name in
# one machine's AWS config.)
SHARED_SOURCES = ("keyring", "ecr-keys", "ecr-role")
# Which of them `registries add --shared` writes for each kind of host (server_keys.py): a login
# for an ordinary registry, access keys or a role for an ECR one. Any other pairing is refused:
# a role or keys read for an ordinary registry would mint an ECR token and hand it to that host.
SOURCES_BY_KIND = {
    REGISTRY: ("keyring",),
    ECR: ("ecr-keys", "ecr-role"),
    ECR_PUBLIC: ("ecr-keys", "ecr-role"),
}
FIELDS = frozenset({"version", "ServerURL", "Username", "Secret", "Source"})
# The Options each source records (required, allowed); a source without any writes no Options.
OPTIONS_BY_SOURCE = {
    "keyring": (frozenset(), frozenset()),
    "ecr-keys": (frozenset(), frozenset()),
    "ecr-role": (frozenset({"role_arn"}), frozenset({"role_arn", "external_id"})),
}
# Unicode categories refused in names, usernames and options: controls (an escape sequence or
# a newline would reach terminals and logs), format characters (bidi overrides, zero-width),
# line and paragraph separators, and lone surrogates (not text at all).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


class SharedFormatError(HelperError):
    """A shared secret's value is not in this helper's format."""


class SharedEntry:
    """A registry's entry and secret, as kept in its shared secret."""

    __slots__ = ("entry", "secret")

    def __init__(self, entry: Entry, secret: str) -> None:
        self.entry = entry
        self.secret = secret

    def to_text(self) -> str:
        """The SecretString to write."""
        document: dict[str, object] = {"version": VERSION, **self.entry.to_json()}
        document["Secret"] = self.secret
        return minijson.dumps(document, sort_keys=True)

    @classmethod
    def from_text(cls, key: str, name: str, text: str) -> SharedEntry:
        """The entry in the SecretString `text` of the secret `name` for registry `key`;
        SharedFormatError (naming the registry and the secret, never the value) unless it is
        exactly what `registries add --shared` writes for that registry."""
        if len(text) > MAX_VALUE_BYTES:
            raise _refused(key, name, "it is too large")
        try:
            document = minijson.loads(text)
        except (ValueError, RecursionError):
            raise _refused(key, name, "it is not JSON") from None
        if not isinstance(document, dict):
            raise _refused(key, name, "it is not a JSON object")
        why = _why_not_ours(key, document)
        if why is not None:
            raise _refused(key, name, why)
        fields = {field: str(document[field]) for field in FIELDS - {"version"}}
        options = document.get("Options", {})
        assert isinstance(options, dict)  # _why_not_ours checked it
        entry = Entry(key, fields["ServerURL"], fields["Username"], fields["Source"], dict(options))
        return cls(entry, fields["Secret"])

    def __repr__(self) -> str:
        return f"SharedEntry({self.entry.key!r}, username={self.entry.username!r}, secret=***)"


def _format_name() -> str:
    return f"the helper's format (a JSON object with version {VERSION})"


def _refused(key: str, name: str, why: str) -> SharedFormatError:
    return SharedFormatError(
        f"the shared secret {name} for {key} is not in {_format_name()}: {why}",
        hint=f"hint: write it again with `docker-credential-convox registries add {key} --shared`",
    )


def _shown(text: object) -> str:
    """A name from the document, for a message: quoted, escaped, cut (never a value)."""
    return ascii(str(text)[:40])


def _why_not_ours(  # noqa: PLR0911, PLR0912 - one return per check
    key: str, document: dict[str, object]
) -> Optional[str]:
    """Why `document` is not what this helper writes for registry `key`; None if it is."""
    version = document.get("version")
    if type(version) is not int or version != VERSION:  # not True, not 1.0
        return f"its version is not {VERSION}"
    extra = sorted(set(document) - FIELDS - {"Options"})
    if extra:
        return f"it has a field the helper does not write ({_shown(extra[0])})"
    for field in sorted(FIELDS - {"version"}):
        if not isinstance(document.get(field), str):
            return f"{field} is missing or not a string"
    server_url, username = str(document["ServerURL"]), str(document["Username"])
    source, secret = str(document["Source"]), str(document["Secret"])
    authority = server_url.split("://", 1)[-1].partition("/")[0]
    if not _is_plain(server_url) or "@" in authority:
        return "its ServerURL holds a control character or a user name"
    try:
        server = parse_server(server_url)
    except HelperError:
        return "its ServerURL names another registry"
    if server.key != key:
        return "its ServerURL names another registry"
    if source not in SHARED_SOURCES:
        return f"its Source {_shown(source)} is not one a fleet can share"
    if source not in SOURCES_BY_KIND.get(server.kind, ()):
        host = "an ordinary registry" if server.kind == REGISTRY else "an ECR registry"
        return f"its Source {_shown(source)} is not one shared for {host}"
    if not username:
        return "its Username is empty"
    if not _is_plain(username):
        return "its Username holds a control character"
    try:
        secret.encode("utf-8")
    except UnicodeEncodeError:
        return "its Secret is not text"
    options = document.get("Options", {})
    if not isinstance(options, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in options.items()
    ):
        return "Options is not an object of strings"
    required, allowed = OPTIONS_BY_SOURCE[source]
    if ("Options" in document and not options) or not required <= set(options) <= allowed:
        return f"its Options are not what the helper writes for {source}"  # none: no field
    if not all(value and _is_plain(value) for value in options.values()):
        return "its Options hold an empty value or a control character"
    return _why_not_source(source, username, secret, options)


def _why_not_source(  # noqa: PLR0911 - one return per check
    source: str, username: str, secret: str, options: dict[str, str]
) -> Optional[str]:
    """Why the fields are not what `source` records; None if they are."""
    if source == "ecr-role":
        role_arn = options["role_arn"]
        if not is_role_arn(role_arn):
            return "its Options' role_arn is not a role ARN"
        if not username.startswith(ROLE_PREFIX) or username[len(ROLE_PREFIX) :].strip() != role_arn:
            return "its Username is not role: and the role ARN of its Options"
        if secret:
            return "its Secret is not empty (a shared role keeps none)"
        return None
    if not secret:
        return "its Secret is empty"
    if source == "ecr-keys" and any(ch.isspace() or ch == ":" for ch in username):
        return "its Username is not an access key ID"
    return None


def _is_plain(text: str) -> bool:
    """Whether `text` holds no character of REFUSED_CATEGORIES."""
    if text.isprintable():  # fast path: printable text has none of them but spaces
        return True
    import unicodedata

    return not any(unicodedata.category(ch) in REFUSED_CATEGORIES for ch in text)


def parse_optional(key: str, name: str, text: Optional[str]) -> Optional[SharedEntry]:
    """`SharedEntry.from_text`, passing None (no such secret) through."""
    return None if text is None else SharedEntry.from_text(key, name, text)
