"""Stored logins: the username and secret a client gave `store`, answered as they are.

The username is in the registry index, the secret in the secret store (records.py writes both
under the registry's lock). `get` consults the index before the store, so unknown servers never
touch the store at all.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING, sources
from docker_credential_convox.errors import CredentialsNotFound
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.sources import StoredLogin

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Optional

    from docker_credential_convox.backends import Records
    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.registry_index import Entry
    from docker_credential_convox.server_keys import Server
    from docker_credential_convox.sources import Source


class StoredBackend:
    """Username in the registry index, secret in the secret store under (key, username)."""

    def __init__(self, records: Records, diagnostics: Diagnostics) -> None:
        self.records = records
        self.index = records.index
        self.diagnostics = diagnostics

    def store(
        self,
        server: Server,
        server_url: str,
        source: Source,
        secret: Optional[str],
        *,
        verify: bool = False,
    ) -> None:
        """Keep the login (`verify` is the caller's: registries checks with the registry)."""
        with self.index.registry_lock(server.key):
            self.records.write(source.entry(server.key, server_url), secret or "")
        self.diagnostics.debug(f"stored credentials for {server.key} in {self.records.store.name}")

    def get(
        self, server: Server, source: Optional[Source], entries: Mapping[str, Entry]
    ) -> Credentials:
        if source is None:
            self.diagnostics.debug(f"no entry for {server.key} in {self.index.path}")
            raise CredentialsNotFound()
        return self._answer(server, source.username, reread=True)

    def _answer(self, server: Server, username: str, reread: bool) -> Credentials:
        secret = self.records.store.get(server.key, username)
        if secret is None and reread:
            # A store or erase may have finished since the index was read: answer as after it.
            current = self.index.lookup(server.key)
            if current is None or current.source != StoredLogin.kind:
                raise CredentialsNotFound()
            if current.username != username:
                return self._answer(server, current.username, reread=False)
        if secret is None:
            self.diagnostics.warn(
                f"{server.key} is in the registry index but its secret is missing from "
                f"{self.records.store.name}; log in again to store it"
            )
            raise CredentialsNotFound()
        return Credentials(server.url, username, secret)

    def erase(self, server: Server) -> None:
        if self.records.erase(server.key) is not None:
            self.diagnostics.debug(f"erased credentials for {server.key}")

    def list(self, entries: Mapping[str, Entry]) -> dict[str, str]:
        return sources.listing(entries, sources.STORED)
