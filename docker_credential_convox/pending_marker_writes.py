"""Making and removing pending markers (pending_markers.py says what they are), for `store` and
for an `erase` that has something to erase; under the registry's lock, by file_writes' rules."""

from __future__ import annotations

import os

from docker_credential_convox import file_writes
from docker_credential_convox.errors import StateError
from docker_credential_convox.pending_markers import PendingMarkers


class PendingMarkerWriter(PendingMarkers):
    """The markers in `directory`, read and written."""

    def mark(self, key: str) -> bool:
        """Record `key` as pending; True if this call made the marker (False: one was there
        already, left by a process killed mid-write, or the key has no marker name). The
        caller holds the registry's lock. StateError if it cannot be written."""
        name = self._file_name(key)
        if name is None:
            return False
        directory = os.path.join(file_writes.ensure_private_dir(self._parent), self._name)
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
