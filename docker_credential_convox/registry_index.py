"""The registry index: what the helper stores, per registry, except the secrets themselves.

The OS keyring cannot enumerate its entries, so `list` is answered from this file. Each entry
holds the server URL as the client sent it, the username and the credential source; secrets
never enter it. Reads take no lock (writes are atomic renames, so a reader sees a whole file);
read-modify-write cycles hold an exclusive lock so concurrent `store`s never lose each other.

A `store` or `erase` writes twice (secret store and index), so each holds a second lock, one per
registry (`registry_lock`), across both writes: a store and an erase of the same registry then
run one after the other, whatever their timing, and never interleave their writes.
"""

from __future__ import annotations

import os

from docker_credential_convox import TYPE_CHECKING, fileio, minijson
from docker_credential_convox.errors import StateError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from contextlib import AbstractContextManager
    from typing import Callable, Optional

FORMAT_VERSION = 1
# Index updates hold the lock for milliseconds; a longer wait means something is wrong.
LOCK_TIMEOUT = 30.0
# A registry's lock is held across secret-store calls (the keyring's each bounded by its timeout).
REGISTRY_LOCK_TIMEOUT = 60.0
LOCKS_DIR = "locks"
# Registry locks this process holds, by path, with their depth: an operation that takes a
# registry's lock may call another that takes it again, which must not wait on itself.
_held_registry_locks: dict[str, int] = {}

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
    """The index file at `path`, with an exclusive lock beside it for updates.

    Its directory is used by fileio's rule (the helper's private subdirectory of a sticky one);
    one others may write, or an index file that is not the user's alone, is refused in one line
    naming the file: the index is not a cache, so it is never read past a refusal.
    """

    def __init__(self, path: str) -> None:
        self._configured = path

    @property
    def path(self) -> str:
        """The index file: in the helper's private subdirectory when the configured directory
        is a sticky one like /tmp (once that exists), else where it was configured."""
        try:
            return self._located() or self._configured
        except StateError:  # refused: said when the index is read
            return self._configured

    def _located(self, create: bool = False) -> Optional[str]:
        """The index file where fileio's rule puts it (its directory made if `create`); None:
        the directory does not exist yet. StateError when it is refused."""
        directory, name = os.path.split(self._configured)
        try:
            if create:
                found: Optional[str] = fileio.ensure_private_dir(directory)
            else:
                found = fileio.trusted_dir(directory)
        except fileio.Untrusted as exc:
            raise StateError(self._refusal(exc)) from None
        if found is None:
            return None
        return os.path.join(found, name)

    def _refusal(self, refusal: fileio.Untrusted) -> str:
        return (
            f"refusing the registry index {self._configured}, which others may have written: "
            f"{refusal.message}"
        )

    def registry_lock_path(self, key: str) -> str:
        """The lock file of one registry key (named by a hash: keys may hold any character)."""
        import hashlib

        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        return os.path.join(os.path.dirname(self._configured), LOCKS_DIR, digest + ".lock")

    def registry_lock(self, key: str, for_erase: bool = False) -> AbstractContextManager[None]:
        """Hold the lock of registry `key` for the block (see _registry_lock)."""
        import contextlib  # here, not at the top: no `get` takes a registry lock

        return contextlib.contextmanager(self._registry_lock)(key, for_erase)

    def _registry_lock(self, key: str, for_erase: bool = False) -> Iterator[None]:
        """Hold the lock of registry `key` for the block (re-entrant within this process).

        `for_erase`: where no lock file can be made (a config directory that cannot exist or be
        written), nothing can be stored either, so an erase goes on without the lock: erasing
        what is not there must still succeed.
        """
        path = self.registry_lock_path(key)
        if _held_registry_locks.get(path):
            _held_registry_locks[path] += 1
            try:
                yield
            finally:
                _held_registry_locks[path] -= 1
            return
        try:
            index_path = self._located(create=True)
            assert index_path is not None
            locks = fileio.ensure_private_dir(os.path.join(os.path.dirname(index_path), LOCKS_DIR))
        except StateError:
            if not for_erase:
                raise
            yield
            return
        lock_path = os.path.join(locks, os.path.basename(path))
        with fileio.exclusive_lock(lock_path, REGISTRY_LOCK_TIMEOUT):
            _held_registry_locks[path] = 1
            try:
                yield
            finally:
                del _held_registry_locks[path]

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

    def _save(self, path: str, entries: Mapping[str, Entry]) -> None:
        fileio.atomic_write(path, _text(entries))

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

    def update(self, change: Callable[[dict[str, Entry]], None]) -> None:
        """Apply `change` to the entries under the lock and save the result atomically."""
        path = self._located(create=True)
        assert path is not None
        # A lock file that is a link or not the user's alone is refused in one line (Untrusted).
        with fileio.exclusive_lock(path + ".lock", LOCK_TIMEOUT):
            entries = self._load()
            before = {key: entry.to_json() for key, entry in entries.items()}
            change(entries)
            if {key: entry.to_json() for key, entry in entries.items()} != before:
                self._save(path, entries)

    def put(self, entry: Entry) -> Optional[Entry]:
        """Record `entry`, returning the one it replaced."""
        replaced: list[Entry] = []

        def change(entries: dict[str, Entry]) -> None:
            old = entries.get(entry.key)
            if old is not None:
                replaced.append(old)
            entries[entry.key] = entry

        self.update(change)
        return replaced[0] if replaced else None

    def remove(self, key: str) -> Optional[Entry]:
        """Forget the entry for `key`, returning it (None if there was none)."""
        path = self._located()
        if path is None or not os.path.exists(path):
            return None
        removed: list[Entry] = []

        def change(entries: dict[str, Entry]) -> None:
            old = entries.pop(key, None)
            if old is not None:
                removed.append(old)

        try:
            self.update(change)
        except StateError:
            # A full disk has no room for the new file of an atomic rewrite: erase must still
            # remove the entry (its secret is gone already), so overwrite the file in place.
            if not self._remove_in_place(key):
                raise
        return removed[0] if removed else None

    def _remove_in_place(self, key: str) -> bool:
        """Remove `key`'s entry by overwriting the index in place, padded with spaces to its old
        length, so no new block is needed (on a full disk); False if it cannot be done.

        Only when the atomic rewrite failed: a crash during the one write, or a reader (they take
        no lock) in the microseconds it lasts, could see a mix of the two versions.
        """
        path = self._located()
        if path is None:
            return True
        with fileio.exclusive_lock(path + ".lock", LOCK_TIMEOUT):
            entries = self._load()
            if entries.pop(key, None) is None:
                return True
            data = _text(entries).encode("utf-8")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
            except OSError:
                return False
            try:
                size = os.fstat(fd).st_size
                if len(data) > size:
                    return False
                os.pwrite(fd, data + b" " * (size - len(data)), 0)
                os.fsync(fd)
            except OSError:
                return False
            finally:
                os.close(fd)
        return True


def _text(entries: Mapping[str, Entry]) -> str:
    """The index file's text for `entries`."""
    import json

    document = {
        "version": FORMAT_VERSION,
        "registries": {key: entries[key].to_json() for key in sorted(entries)},
    }
    return json.dumps(document, indent=2) + "\n"
