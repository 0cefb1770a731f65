"""The backends' interfaces: what the router asks of a backend, and what a `get` may ask of
where secrets live. For the type checker only: nothing imports this module at run time, so no
`get` unmarshals these classes (issue 19 item 8).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional, Protocol

from docker_credential_convox import TYPE_CHECKING

if TYPE_CHECKING:
    from docker_credential_convox.backends.records import Records
    from docker_credential_convox.protocol import Credentials
    from docker_credential_convox.registry_index import Entry
    from docker_credential_convox.server_keys import Server
    from docker_credential_convox.sources import Source


class SecretReader(Protocol):
    """What a `get` may ask of where secrets live: read one, and say where."""

    @property
    def name(self) -> str:
        """The store in a few words, for messages ("the OS keyring")."""

    def get(self, key: str, username: str) -> Optional[str]:
        """The secret filed under (key, username), or None."""


class Backend(Protocol):
    """What the router asks of a way of answering credentials."""

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
        """Record `source` (and its secret) for `server`; with `verify`, check it first."""

    def get(self, server: Server, source: Source, secrets: SecretReader) -> Credentials:
        """Credentials for `server` from `source`, or raise CredentialsNotFound."""

    def erase(self, server: Server, records: Records) -> None:
        """Forget what is kept for `server`; nothing kept is not an error."""

    def list(self, entries: Mapping[str, Entry]) -> dict[str, str]:
        """Server URL -> username for the registries this backend answers."""
