"""Pending markers: which registries may have a secret that no index entry points to.

`store` writes a secret, then the index entry. A kill between the two leaves an orphaned
secret, and finding one means opening the secret store (importing keyring costs several cached
`get`s), which an `erase` of a registry the helper never knew must not pay: podman and skopeo
`logout` call it for any registry. So before its first write a store records a marker for the
registry's key, and removes it once both are done; an `erase` of a key with neither an index
entry nor a marker has nothing to sweep and returns without opening the store or taking a lock
(backends/__init__.py, `Records`). An erase writes no marker: it deletes the secret before the
entry, so it leaves no orphan, and it must work on a full disk.

A marker is a file in `pending/` beside the index (0700 directory, 0600 file, written
atomically), named by the key's UTF-8 bytes in hex (no hashlib: the check is on `erase`'s fast
path) and holding the key; never a secret. A key too long for a file name has no marker: its
`erase` always sweeps, as does one whose marker cannot be checked.
"""

from __future__ import annotations

import os

from docker_credential_convox import fileio

# `typing` costs milliseconds at start-up; mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

PENDING_DIR = "pending"
# A file name holds 255 bytes on the usual file systems; hex doubles the key's length.
MAX_KEY_BYTES = 120


class PendingMarkers:
    """The markers in `directory`, one per key whose two writes may be half done."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    @classmethod
    def beside(cls, index_path: str) -> PendingMarkers:
        """The markers of the registry index at `index_path`."""
        return cls(os.path.join(os.path.dirname(index_path), PENDING_DIR))

    def path(self, key: str) -> Optional[str]:
        """The marker file of `key`, or None for a key too long to name one."""
        name = key.encode("utf-8")
        if len(name) > MAX_KEY_BYTES:
            return None
        return os.path.join(self.directory, name.hex())

    def may_exist(self, key: str) -> bool:
        """Whether `key` has a marker, or one cannot be ruled out (no name, an unreadable
        directory): only False means there is nothing to sweep."""
        path = self.path(key)
        if path is None:
            return True
        try:
            os.lstat(path)
        except FileNotFoundError:
            return False
        except OSError:
            return True
        return True

    def mark(self, key: str) -> bool:
        """Record `key` as pending; True if this call made the marker (False: one was there
        already, left by a process killed mid-write, or the key has no marker name). The
        caller holds the registry's lock. StateError if it cannot be written."""
        path = self.path(key)
        if path is None or os.path.lexists(path):
            return False
        fileio.ensure_private_dir(self.directory)
        fileio.atomic_write(path, key)
        return True

    def clear(self, key: str) -> None:
        """Remove `key`'s marker (best effort: one left behind costs the next erase a sweep)."""
        path = self.path(key)
        if path is None:
            return
        try:  # noqa: SIM105 - contextlib costs milliseconds at start-up
            os.unlink(path)
        except OSError:
            pass
