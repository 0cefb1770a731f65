"""Backends: how the credentials of a registry are answered, one module per way.

`stored.py` returns a login kept as it is; `ecr.py` mints registry tokens from AWS credentials.
Every backend has the same interface (`Backend`, as docker-credential-helpers' Add, Get, Delete
and List), is given the registry's source by the router (helper.py) and never builds another
backend; both write the index entry and the secret together through `records.py`. Backends
import their heavy libraries lazily.
"""

from __future__ import annotations

# `typing` costs milliseconds at start-up; mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Optional, Protocol

    from docker_credential_convox.protocol import Credentials
    from docker_credential_convox.registry_index import Entry
    from docker_credential_convox.servers import Server
    from docker_credential_convox.sources import Source

    class Backend(Protocol):
        """What the helper asks of a way of answering credentials."""

        def store(
            self,
            server: Server,
            server_url: str,
            source: Source,
            secret: Optional[str],
            *,
            verify: bool = False,
        ) -> None:
            """Record `source` (and its secret) for `server`; with `verify`, check it first."""

        def get(
            self, server: Server, source: Optional[Source], entries: Mapping[str, Entry]
        ) -> Credentials:
            """Credentials for `server` from `source` (None: nothing stored), or raise
            CredentialsNotFound; `entries` is the index as the router read it."""

        def erase(self, server: Server) -> None:
            """Forget what is kept for `server`; nothing kept is not an error."""

        def list(self, entries: Mapping[str, Entry]) -> dict[str, str]:
            """Server URL -> username for the registries this backend answers."""
