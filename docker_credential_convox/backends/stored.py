"""Stored logins: the username and secret a client gave `store`, answered as they are.

The username is in the registry index, the secret in the secret store (`Records` writes both
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

    from docker_credential_convox.backends.interface import SecretReader
    from docker_credential_convox.backends.records import Records
    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.registry_index import Entry, RegistryIndex
    from docker_credential_convox.server_keys import Server
    from docker_credential_convox.sources import Source


class StoredBackend:
    """Username in the registry index, secret in the secret store under (key, username)."""

    def __init__(self, index: RegistryIndex, diagnostics: Diagnostics) -> None:
        self.index = index  # re-read when a secret is missing: a store may have just finished
        self.diagnostics = diagnostics

    def store(
        self,
        server: Server,
        server_url: str,
        source: Source,
        secret: Optional[str],
        records: Records,
        *,
        verify: bool = False,
    ) -> None:
        """Keep the login (`verify` is the caller's: registries checks with the registry)."""
        with records.index.registry_lock(server.key):
            records.write(source.entry(server.key, server_url), secret or "")
        self.diagnostics.debug(f"stored credentials for {server.key} in {records.store.name}")

    def get(self, server: Server, source: Source, secrets: SecretReader) -> Credentials:
        return self._answer(server, source.username, secrets, reread=True)

    def _answer(
        self, server: Server, username: str, secrets: SecretReader, reread: bool
    ) -> Credentials:
        secret = secrets.get(server.key, username)
        if secret is None and reread:
            # A store or erase may have finished since the index was read: answer as after it.
            current = self.index.lookup(server.key)
            if current is None or current.source != StoredLogin.kind:
                raise CredentialsNotFound()
            if current.username != username:
                return self._answer(server, current.username, secrets, reread=False)
        if secret is None:
            self.diagnostics.warn(
                f"{server.key} is in the registry index but its secret is missing from "
                f"{secrets.name}; log in again to store it"
            )
            raise CredentialsNotFound()
        return Credentials(server.url, username, secret)

    def erase(self, server: Server, records: Records) -> None:
        if records.erase(server.key) is not None:
            self.diagnostics.debug(f"erased credentials for {server.key}")

    def list(self, entries: Mapping[str, Entry]) -> dict[str, str]:
        return sources.listing(entries, sources.STORED)
