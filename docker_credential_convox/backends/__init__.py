"""Sources of credentials. Each backend serves the registries `servers` routes to it.

Every backend has the same small interface (`Backend`); the helper picks one per server
and never looks inside. Backends import their heavy libraries lazily.
"""

from __future__ import annotations

# `typing` costs milliseconds at start-up; mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from docker_credential_convox.protocol import Credentials
    from docker_credential_convox.servers import Server

    class Backend(Protocol):
        """What the helper asks of a source of credentials."""

        def store(self, server: Server, credentials: Credentials) -> None:
            """Keep `credentials` for `server` (raises HelperError subclasses on failure)."""

        def get(self, server: Server) -> Credentials:
            """Credentials for `server`, or raise CredentialsNotFound."""

        def erase(self, server: Server) -> None:
            """Forget what is kept for `server`; nothing kept is not an error."""
