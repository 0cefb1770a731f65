"""The registry index's write side: put and remove entries, and the locks their writes hold.

Only `store` and `erase` load it (a `get` or a `list` reads through registry_index.py alone).
Read-modify-write cycles hold an exclusive lock beside the index so concurrent `store`s never
lose each other; each cycle replaces the file atomically, so readers, which take no lock, see a
whole file.

A `store` or `erase` writes twice (secret store and index), so each holds a second lock, one per
registry (`registry_lock`), across both writes: a store and an erase of the same registry then
run one after the other, whatever their timing, and never interleave their writes.
"""

from __future__ import annotations

import os

from docker_credential_convox import TYPE_CHECKING, file_writes
from docker_credential_convox.errors import StateError
from docker_credential_convox.registry_index import FORMAT_VERSION, Entry, RegistryIndex

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from contextlib import AbstractContextManager
    from typing import Callable, Optional

# An index update holds the lock for milliseconds (two fsyncs): one holder keeping it this long
# is hung. A queue of holders is waited out however long it takes (file_writes.exclusive_lock).
LOCK_TIMEOUT = 30.0
# A registry's lock is held across secret-store calls (the keyring's each bounded by its timeout).
REGISTRY_LOCK_TIMEOUT = 60.0
LOCKS_DIR = "locks"
# Registry locks this process holds, by path, with their depth: an operation that takes a
# registry's lock may call another that takes it again, which must not wait on itself.
_held_registry_locks: dict[str, int] = {}


class RegistryIndexWriter(RegistryIndex):
    """The index file at `path`, read as RegistryIndex reads it and written under its locks."""

    def registry_lock_path(self, key: str) -> str:
        """The lock file of one registry key (named by a hash: keys may hold any character)."""
        import hashlib  # here, not at the top: an erase of an unknown key takes no lock

        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        return os.path.join(os.path.dirname(self.configured), LOCKS_DIR, digest + ".lock")

    def registry_lock(self, key: str, for_erase: bool = False) -> AbstractContextManager[None]:
        """Hold the lock of registry `key` for the block (see _registry_lock)."""
        import contextlib  # here, not at the top: an erase of an unknown key takes no lock

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
            locks = file_writes.ensure_private_dir(
                os.path.join(os.path.dirname(index_path), LOCKS_DIR)
            )
        except StateError:
            if not for_erase:
                raise
            yield
            return
        lock_path = os.path.join(locks, os.path.basename(path))
        with file_writes.exclusive_lock(lock_path, REGISTRY_LOCK_TIMEOUT):
            _held_registry_locks[path] = 1
            try:
                yield
            finally:
                del _held_registry_locks[path]

    def update(self, change: Callable[[dict[str, Entry]], None]) -> None:
        """Apply `change` to the entries under the lock and save the result atomically."""
        path = self._located(create=True)
        assert path is not None
        # A lock file that is a link or not the user's alone is refused in one line (Untrusted).
        with file_writes.exclusive_lock(path + ".lock", LOCK_TIMEOUT):
            entries = self._load()
            before = {key: entry.to_json() for key, entry in entries.items()}
            change(entries)
            if {key: entry.to_json() for key, entry in entries.items()} != before:
                file_writes.atomic_write(path, _text(entries))

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
        with file_writes.exclusive_lock(path + ".lock", LOCK_TIMEOUT):
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
    import json  # here, not at the top: an erase of an unknown key writes nothing

    document = {
        "version": FORMAT_VERSION,
        "registries": {key: entries[key].to_json() for key in sorted(entries)},
    }
    return json.dumps(document, indent=2) + "\n"
