"""Pending markers: which registries may have a secret that no index entry points to.

`store` writes a secret, then the index entry. A kill between the two leaves an orphaned
secret, and finding one means opening the secret store (importing keyring costs several cached
`get`s), which an `erase` of a registry the helper never knew must not pay: podman and skopeo
`logout` call it for any registry. So before its first write a store records a marker for the
registry's key, and removes it once both are done; an `erase` of a key with neither an index
entry nor a marker has nothing to sweep and returns without opening the store or taking a lock
(backends/records.py, `Records`). An erase writes no marker: it deletes the secret before the
entry, so it leaves no orphan, and it must work on a full disk.

A marker is a file in `pending/` beside the index (0700 directory, 0600 file, written
atomically), named by the key's UTF-8 bytes in hex (no hashlib: the check is on `erase`'s fast
path) and holding the key; never a secret. A key too long for a file name has no marker: its
`erase` always sweeps, as does one whose marker cannot be checked.
"""

from __future__ import annotations

import os

from docker_credential_convox import TYPE_CHECKING, file_writes, fileio
from docker_credential_convox.errors import StateError

if TYPE_CHECKING:
    from typing import Optional

PENDING_DIR = "pending"
# A file name holds 255 bytes on the usual file systems; hex doubles the key's length.
MAX_KEY_BYTES = 120


class PendingMarkers:
    """The markers in `directory`, one per key whose two writes may be half done.

    `directory`'s parent (the index's directory) is used by fileio's rule: the helper's private
    subdirectory of a sticky one, and none at all if others may write it.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._parent, self._name = os.path.split(directory)

    @classmethod
    def beside(cls, index_path: str) -> PendingMarkers:
        """The markers of the registry index at `index_path`."""
        return cls(os.path.join(os.path.dirname(index_path), PENDING_DIR))

    def _file_name(self, key: str) -> Optional[str]:
        name = key.encode("utf-8")
        if len(name) > MAX_KEY_BYTES:
            return None
        return name.hex()

    def _located(self, create: bool = False) -> Optional[str]:
        """The markers' directory where fileio's rule puts it (made if `create`); None: there
        is none yet. StateError (Untrusted) where others may write."""
        if create:
            parent: Optional[str] = file_writes.ensure_private_dir(self._parent)
        else:
            parent = fileio.trusted_dir(self._parent)
        if parent is None:
            return None
        return os.path.join(parent, self._name)

    def path(self, key: str) -> Optional[str]:
        """The marker file of `key` as configured, or None for a key too long to name one."""
        name = self._file_name(key)
        return os.path.join(self.directory, name) if name is not None else None

    def may_exist(self, key: str) -> bool:
        """Whether `key` has a marker, or one cannot be ruled out (no name, an unreadable or
        untrusted directory): only False means there is nothing to sweep. A marker is never
        read, only looked for: one planted by someone else costs a sweep, nothing more."""
        name = self._file_name(key)
        if name is None:
            return True
        try:
            directory = self._located()
        except StateError:
            return True
        if directory is None:
            return False
        try:
            os.lstat(os.path.join(directory, name))
        except FileNotFoundError:
            return False
        except OSError:
            return True
        return True

    def mark(self, key: str) -> bool:
        """Record `key` as pending; True if this call made the marker (False: one was there
        already, left by a process killed mid-write, or the key has no marker name). The
        caller holds the registry's lock. StateError if it cannot be written."""
        name = self._file_name(key)
        if name is None:
            return False
        directory = self._located(create=True)
        assert directory is not None
        path = os.path.join(directory, name)
        if os.path.lexists(path):
            return False
        file_writes.ensure_private_dir(directory)
        file_writes.atomic_write(path, key)
        return True

    def clear(self, key: str) -> None:
        """Remove `key`'s marker (best effort: one left behind costs the next erase a sweep)."""
        name = self._file_name(key)
        if name is None:
            return
        try:
            directory = self._located()
        except StateError:
            return
        if directory is None:
            return
        try:  # noqa: SIM105 - contextlib costs milliseconds at start-up
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass
