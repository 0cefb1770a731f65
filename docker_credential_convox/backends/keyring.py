"""Static credentials (username and secret) for ordinary registries, kept in the OS keyring.

Each `store` and `erase` holds the registry's lock (RegistryIndex.registry_lock) across its
keyring and index writes, so a store and an erase of one registry never interleave: any mix of
them, and of `list` and `get`, ends as some serial order of them would.

Write order, chosen so that an interrupted process never leaves a visible half-state:
- store: secret into the keyring first, then the index entry. Killed in between, the index has
  no entry, so `get`/`list` behave as if the store never happened; the orphaned secret is
  overwritten by the next store or swept by the next erase.
- erase: index entry first, then the keyring secret. Killed in between, `get`/`list` already
  behave as if erased (get answers from the index first); the orphan is swept by the next erase.
  If the keyring refuses the delete (locked, hung), the entry is put back and the erase fails:
  the registry stays as it was, not half-erased with its secret left behind.
`get` consults the index before the keyring, so unknown servers never touch the keyring at all.
"""

from __future__ import annotations

from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.errors import CredentialsNotFound, StoreUnavailable
from docker_credential_convox.keychain import Keychain
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.registry_index import SOURCE_KEYRING, Entry, RegistryIndex
from docker_credential_convox.servers import Server

# `typing` costs milliseconds at start-up; mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

# A secret orphaned by an interrupted store or erase is found by service alone; bound the sweep.
MAX_ORPHANS_SWEPT = 16


class KeyringBackend:
    """Username in the registry index, secret in the OS keyring under (key, username)."""

    def __init__(self, index: RegistryIndex, keychain: Keychain, diagnostics: Diagnostics) -> None:
        self.index = index
        self.keychain = keychain
        self.diagnostics = diagnostics

    def store(self, server: Server, credentials: Credentials) -> None:
        with self.index.registry_lock(server.key):
            self.keychain.set(server.key, credentials.username, credentials.secret)
            replaced = self.index.put(
                Entry(server.key, credentials.server_url, credentials.username, SOURCE_KEYRING)
            )
            if (
                replaced is not None
                and replaced.source == SOURCE_KEYRING
                and replaced.username != credentials.username
            ):
                self.keychain.delete(server.key, replaced.username)
        self.diagnostics.debug(f"stored credentials for {server.key} in the OS keyring")

    def get(self, server: Server) -> Credentials:
        return self.get_entry(server, self.index.lookup(server.key))

    def get_entry(self, server: Server, entry: Optional[Entry], reread: bool = True) -> Credentials:
        """The credentials for `server`'s index entry (already read), which this backend wrote."""
        if entry is None:
            self.diagnostics.debug(f"no entry for {server.key} in {self.index.path}")
            raise CredentialsNotFound()
        secret = self.keychain.get(server.key, entry.username)
        if secret is None and reread:
            # A store or erase may have finished since the index was read: answer as after it.
            current = self.index.lookup(server.key)
            if current is None or current.source != SOURCE_KEYRING:
                raise CredentialsNotFound()
            if current.username != entry.username:
                return self.get_entry(server, current, reread=False)
        if secret is None:
            self.diagnostics.warn(
                f"{server.key} is in the registry index but its secret is missing from the "
                "OS keyring; log in again to store it"
            )
            raise CredentialsNotFound()
        return Credentials(server.url, entry.username, secret)

    def erase(self, server: Server) -> None:
        with self.index.registry_lock(server.key, for_erase=True):
            entry = self.index.remove(server.key)
            if entry is None:
                self.sweep_orphans(server.key)
                return
            if entry.source == SOURCE_KEYRING:  # an ECR alias keeps no secret
                self.delete_or_restore(entry)
            self.diagnostics.debug(f"erased credentials for {server.key}")

    def delete_or_restore(self, removed: Entry) -> None:
        """Delete the secret of an index entry just removed; if the keyring refuses, put the
        entry back (the caller holds the registry's lock) and fail."""
        try:
            self.keychain.delete(removed.key, removed.username)
        except StoreUnavailable:
            self.index.put(removed)
            raise

    def sweep_orphans(self, key: str) -> None:
        """Delete secrets filed under `key` that no index entry points to (best effort)."""
        try:
            for _ in range(MAX_ORPHANS_SWEPT):
                username = self.keychain.find_username(key)
                if username is None:
                    return
                self.keychain.delete(key, username)
                self.diagnostics.debug(f"swept an orphaned secret for {key}")
        except StoreUnavailable as exc:
            # Erasing what is not stored must succeed (skopeo crashes otherwise).
            self.diagnostics.debug(f"could not sweep the keyring for {key}: {exc.message}")
