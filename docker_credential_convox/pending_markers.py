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

This module is the read side, which an `erase` of a registry never stored needs alone (through
minios, like a `get`); pending_marker_writes.py makes and removes markers, for `store` and an
`erase` with something to erase.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING, fileio, minios
from docker_credential_convox.errors import StateError

if TYPE_CHECKING:
    from typing import Optional, TypeVar

    from docker_credential_convox.registry_index import RegistryIndex

    Markers = TypeVar("Markers", bound="PendingMarkers")

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
        self._parent, self._name = minios.split(directory)

    @classmethod
    def beside(cls: type[Markers], index_path: str) -> Markers:
        """The markers of the registry index at `index_path`."""
        return cls(minios.join(minios.dirname(index_path), PENDING_DIR))

    def _file_name(self, key: str) -> Optional[str]:
        name = key.encode("utf-8")
        if len(name) > MAX_KEY_BYTES:
            return None
        return name.hex()

    def _located(self) -> Optional[str]:
        """The markers' directory where fileio's rule puts it; None: there is none yet.
        StateError (Untrusted) where others may write."""
        parent = fileio.trusted_dir(self._parent)
        if parent is None:
            return None
        return minios.join(parent, self._name)

    def path(self, key: str) -> Optional[str]:
        """The marker file of `key` as configured, or None for a key too long to name one."""
        name = self._file_name(key)
        return minios.join(self.directory, name) if name is not None else None

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
            minios.lstat(minios.join(directory, name))
        except FileNotFoundError:
            return False
        except OSError:
            return True
        return True


def may_hold(index: RegistryIndex, markers: PendingMarkers, key: str) -> bool:
    """Whether an erase of `key` may have anything to do: an index entry, or a pending marker
    (an interrupted store or erase may have left a secret). Reads two files; no lock, no
    secret store, no writer loaded."""
    try:
        if index.lookup(key) is not None:
            return True
    except StateError:
        return True  # the locked path reports it as before
    return markers.may_exist(key)
