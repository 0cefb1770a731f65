"""The registry index: what the helper stores, per registry, except the secrets themselves.

The OS keyring cannot enumerate its entries, so `list` is answered from this file. Each entry
holds the server URL as the client sent it, the username and the credential source; secrets
never enter it. Reads take no lock (writes are atomic renames, so a reader sees a whole file).

This module is the read side, all a `get` or a `list` loads; the writes (put, remove, the locks
they hold) are in registry_index_writer.py, which only `store` and `erase` load.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING, fileio, minijson, minios
from docker_credential_convox.errors import StateError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Optional

FORMAT_VERSION = 1

# An entry's `Source` names its credential source (sources/ owns every kind and its Options);
# entries written before the field existed are stored logins, which it names so.
DEFAULT_SOURCE = "keyring"


class Entry:
    """One registry the helper knows: where its credentials come from, never the secret."""

    __slots__ = ("key", "options", "server_url", "source", "username")

    def __init__(
        self,
        key: str,
        server_url: str,
        username: str,
        source: str = DEFAULT_SOURCE,
        options: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.key = key
        self.server_url = server_url
        self.username = username
        self.source = source
        self.options: dict[str, str] = dict(options or {})

    def to_json(self) -> dict[str, object]:
        document: dict[str, object] = {
            "ServerURL": self.server_url,
            "Username": self.username,
            "Source": self.source,
        }
        if self.options:
            document["Options"] = dict(sorted(self.options.items()))
        return document

    @classmethod
    def from_json(cls, key: str, document: object) -> Entry:
        if not isinstance(document, dict):
            raise ValueError(f"entry {key!r} is not an object")
        server_url = document.get("ServerURL")
        username = document.get("Username")
        source = document.get("Source", DEFAULT_SOURCE)
        options = document.get("Options", {})
        if not (isinstance(server_url, str) and isinstance(username, str)):
            raise ValueError(f"entry {key!r} lacks a ServerURL or Username string")
        if not isinstance(source, str) or not isinstance(options, dict):
            raise ValueError(f"entry {key!r} has a malformed Source or Options")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in options.items()):
            raise ValueError(f"entry {key!r} has non-string Options")
        return cls(key, server_url, username, source, options)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Entry):
            return NotImplemented
        return self.to_json() == other.to_json() and self.key == other.key

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Entry(key={self.key!r}, username={self.username!r}, source={self.source!r})"


class RegistryIndex:
    """The index file at `path`, read (RegistryIndexWriter writes it).

    Its directory is used by fileio's rule (the helper's private subdirectory of a sticky one);
    one others may write, or an index file that is not the user's alone, is refused in one line
    naming the file: the index is not a cache, so it is never read past a refusal.
    """

    def __init__(self, path: str) -> None:
        self.configured = path  # as the settings name it (`path`: where the file really is)

    @property
    def path(self) -> str:
        """The index file: in the helper's private subdirectory when the configured directory
        is a sticky one like /tmp (once that exists), else where it was configured."""
        try:
            return self._located() or self.configured
        except StateError:  # refused: said when the index is read
            return self.configured

    def _located(self, create: bool = False) -> Optional[str]:
        """The index file where fileio's rule puts it (its directory made if `create`); None:
        the directory does not exist yet. StateError when it is refused."""
        directory, name = minios.split(self.configured)
        try:
            if create:  # only the writer creates: a read never loads file_writes
                from docker_credential_convox import file_writes

                found: Optional[str] = file_writes.ensure_private_dir(directory)
            else:
                found = fileio.trusted_dir(directory)
        except fileio.Untrusted as exc:
            raise StateError(self._refusal(exc)) from None
        if found is None:
            return None
        return minios.join(found, name)

    def _refusal(self, refusal: fileio.Untrusted) -> str:
        return (
            f"refusing the registry index {self.configured}, which others may have written: "
            f"{refusal.message}"
        )

    def _load(self) -> dict[str, Entry]:
        path = self._located()
        try:
            text = fileio.read_text(path, private=True) if path is not None else None
        except fileio.Untrusted as exc:
            raise StateError(self._refusal(exc)) from None
        if text is None:
            return {}
        try:
            document = minijson.loads(text)
            if not isinstance(document, dict) or not isinstance(
                document.get("registries", {}), dict
            ):
                raise ValueError("not an index document")
            if document.get("version", FORMAT_VERSION) != FORMAT_VERSION:
                raise ValueError(f"format version {document.get('version')!r} is not supported")
            return {
                key: Entry.from_json(key, value)
                for key, value in document.get("registries", {}).items()
            }
        except RecursionError:
            raise StateError(self._damaged("nested too deeply to be an index")) from None
        except ValueError as exc:
            raise StateError(self._damaged(str(exc))) from None

    def _damaged(self, reason: str) -> str:
        return (
            f"the registry index {self.path} is damaged ({reason}); "
            "repair it or move it aside and store the credentials again"
        )

    def lookup(self, key: str) -> Optional[Entry]:
        """The entry for a canonical key, or None."""
        return self._load().get(key)

    def snapshot(self) -> dict[str, Entry]:
        """Every entry by key, from one read of the file (for several lookups)."""
        return self._load()

    def entries(self) -> list[Entry]:
        """Every entry, ordered by key."""
        loaded = self._load()
        return [loaded[key] for key in sorted(loaded)]
