"""The value of a shared secret: one registry's index entry and its secret, as one JSON object.

`{"version": 1, "ServerURL", "Username", "Secret", "Source"[, "Options"]}`: the registry index's
fields (registry_index.Entry) plus the secret, so a shared entry answers exactly as a local one
with the same source would. Other tooling may read and write it; the reader is strict, and a
value that is not in this format is a one-line error naming the registry, never a guess.
"""

from __future__ import annotations

from docker_credential_convox import jsonlite
from docker_credential_convox.errors import HelperError
from docker_credential_convox.registry_index import Entry

# `typing` costs milliseconds at start-up; mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

VERSION = 1
MAX_VALUE_BYTES = 64 * 1024  # Secrets Manager's own limit for a secret value
# The sources a shared entry may record: those that answer on any machine. (A login token
# expires within hours, an alias points at an entry of the local index, a profile is a name in
# one machine's AWS config.)
SHARED_SOURCES = ("keyring", "ecr-keys", "ecr-role")


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
        return jsonlite.dumps(document, sort_keys=True)

    @classmethod
    def from_text(cls, key: str, name: str, text: str) -> SharedEntry:
        """The entry in the SecretString `text` of the secret `name` for registry `key`;
        SharedFormatError (naming the registry, never the value) if it is not ours."""

        def refuse(why: str) -> SharedFormatError:
            return SharedFormatError(
                f"the shared secret {name} for {key} is not in {_format_name()}: {why}",
                hint="hint: write it again with `docker-credential-convox registries add "
                f"{key} --shared`",
            )

        if len(text) > MAX_VALUE_BYTES:
            raise refuse("it is too large")
        try:
            document = jsonlite.loads(text)
        except (ValueError, RecursionError):
            raise refuse("it is not JSON") from None
        if not isinstance(document, dict):
            raise refuse("it is not a JSON object")
        if document.get("version") != VERSION:
            raise refuse(f"its version is not {VERSION}")
        fields = {}
        for field in ("ServerURL", "Username", "Secret", "Source"):
            value = document.get(field)
            if not isinstance(value, str):
                raise refuse(f"{field} is missing or not a string")
            fields[field] = value
        options = document.get("Options", {})
        if not isinstance(options, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in options.items()
        ):
            raise refuse("Options is not an object of strings")
        if fields["Source"] not in SHARED_SOURCES:
            raise refuse(f"its Source {fields['Source'][:40]!r} is not one a fleet can share")
        if not fields["Username"]:
            raise refuse("its Username is empty")
        from docker_credential_convox.servers import parse_server

        try:
            named = parse_server(fields["ServerURL"]).key
        except HelperError:
            named = None
        if named != key:
            raise refuse("its ServerURL names another registry")
        entry = Entry(key, fields["ServerURL"], fields["Username"], fields["Source"], options)
        return cls(entry, fields["Secret"])

    def __repr__(self) -> str:
        return f"SharedEntry({self.entry.key!r}, username={self.entry.username!r}, secret=***)"


def _format_name() -> str:
    return f"the helper's format (a JSON object with version {VERSION})"


def parse_optional(key: str, name: str, text: Optional[str]) -> Optional[SharedEntry]:
    """`SharedEntry.from_text`, passing None (no such secret) through."""
    return None if text is None else SharedEntry.from_text(key, name, text)
