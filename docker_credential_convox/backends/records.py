"""`Records` writes a registry's index entry and its secret together, under the registry's lock.

The router builds one for `store` and `erase` only (backends/__init__.py): a `get` never loads
this module, the pending markers it keeps, nor the index's write side (registry_index_writer.py).

Each `store` and `erase` holds the registry's lock (RegistryIndexWriter.registry_lock) across its
secret-store and index writes, so a store and an erase of one registry never interleave: any
mix of them, and of `list` and `get`, ends as some serial order of them would.

Write order, chosen so that an interrupted process never leaves a visible half-state:
- store: a pending marker for the key (pending_markers.py), the secret into the store, the index
  entry, then the marker is removed. Killed before the marker's removal, the index has no entry
  (or the previous one), so `get`/`list` behave as if the store never happened; the orphaned
  secret is overwritten by the next store or swept by the next erase, which the marker sends to
  the store.
- erase: the secret, then the index entry, and nothing new written (a user whose disk is full
  must still be able to log out): no marker, and where the index cannot be rewritten for lack of
  space the entry is removed in place (RegistryIndexWriter.remove). Killed in between, the entry
  points at no secret: `get` answers not found (with a warning), `list` still names the registry
  until the next erase removes the entry, and no orphan can be left behind. If the store refuses
  the delete (locked, hung), the erase fails with the registry as it was.
- An erase of a key with no index entry and no marker returns at once: no lock, no secret store.
  A marker left by a killed process stays until an erase has swept its key (a store that finds
  one keeps it), so such an erase can never miss an orphan this release made. An orphan left
  by an earlier release, which wrote no markers, is no longer swept by an erase of a registry
  without an entry: it is invisible (`get` and `list` answer from the index), a store of the
  same registry and username overwrites it, and that registry's next erase deletes it.
"""

from __future__ import annotations

import os

from docker_credential_convox import TYPE_CHECKING, sources
from docker_credential_convox.errors import StateError, StoreUnavailable
from docker_credential_convox.pending_marker_writes import PendingMarkerWriter
from docker_credential_convox.pending_markers import may_hold

if TYPE_CHECKING:
    from typing import Optional

    from docker_credential_convox.backends import LocalSecrets
    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.registry_index import Entry
    from docker_credential_convox.registry_index_writer import RegistryIndexWriter
    from docker_credential_convox.stores import SecretStore


# A secret orphaned by an interrupted store or erase is found by key alone; bound the sweep.
MAX_ORPHANS_SWEPT = 16


class Records:
    """The registry index and the secret store, written as one."""

    def __init__(
        self,
        index: RegistryIndexWriter,
        secrets: LocalSecrets,
        diagnostics: Diagnostics,
        pending: Optional[PendingMarkerWriter] = None,
    ) -> None:
        self.index = index
        self.secrets = secrets  # opened on first use: an erase of an unknown key never opens it
        self.diagnostics = diagnostics
        self.pending = pending or PendingMarkerWriter.beside(index.path)

    @property
    def store(self) -> SecretStore:
        """The secret store, opened now."""
        return self.secrets.store

    def write(self, entry: Entry, secret: Optional[str]) -> None:
        """Keep `secret` (if any) under the entry's secret username, then record `entry`; a
        secret the replaced entry kept under another username is deleted. The caller holds
        the registry's lock."""
        kept = sources.kept_secret(entry)
        marked = False
        if secret is not None and kept is not None:
            marked = self.pending.mark(entry.key)
            self.store.put(entry.key, kept, secret)
        replaced = self.index.put(entry)
        old = sources.kept_secret(replaced) if replaced is not None else None
        if old is not None and old != kept:
            try:
                self.store.delete(entry.key, old)
            except StoreUnavailable as exc:
                self.diagnostics.warn(
                    f"the old secret for {entry.key} is still in {self.store.name}: {exc.message}"
                )
                marked = False  # the marker stays: the next erase sweeps the old secret
                self._mark_quietly(entry.key)
        if marked:
            self.pending.clear(entry.key)

    def _mark_quietly(self, key: str) -> None:
        try:
            self.pending.mark(key)
        except StateError as exc:
            self.diagnostics.debug(f"cannot mark {key} as pending: {exc.message}")

    def erase(self, key: str) -> Optional[Entry]:
        """Remove the secret of `key` and its entry (or sweep orphans when there is no entry);
        the removed entry, or None. Writes no new file (see the module's docstring)."""
        if not self.may_hold(key):
            return None
        with self.index.registry_lock(key, for_erase=True):
            leftover = self.pending.may_exist(key)  # left by a killed store
            entry = self.index.lookup(key) if os.path.exists(self.index.path) else None
            kept = sources.kept_secret(entry) if entry is not None else None
            if kept is not None:
                self.store.delete(key, kept)  # refused: the registry stays as it was
            removed = self.index.remove(key) if entry is not None else None
            if (removed is None or leftover) and not self.sweep_orphans(key):
                return removed  # the marker stays for the next erase
            self.pending.clear(key)
            return removed

    def may_hold(self, key: str) -> bool:
        """Whether an erase of `key` may have anything to do (pending_markers.may_hold)."""
        return may_hold(self.index, self.pending, key)

    def sweep_orphans(self, key: str) -> bool:
        """Delete secrets filed under `key` that no index entry points to (best effort); True
        when none is left."""
        try:
            for _ in range(MAX_ORPHANS_SWEPT):
                username = self.store.find_username(key)
                if username is None:
                    return True
                self.store.delete(key, username)
                self.diagnostics.debug(f"swept an orphaned secret for {key}")
        except StoreUnavailable as exc:
            # Erasing what is not stored must succeed (skopeo crashes otherwise).
            self.diagnostics.debug(f"could not sweep {self.store.name} for {key}: {exc.message}")
        return False
