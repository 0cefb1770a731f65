"""A stored login: the username and secret a client gave `store`, returned as they are.

The source of every ordinary registry (and of an ECR host stored before the helper minted
tokens): the index records the username, the secret store keeps the secret under it.
"""

from __future__ import annotations

from docker_credential_convox.servers import REGISTRY
from docker_credential_convox.sources import STORED, Source

# `typing` costs milliseconds at start-up; mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.protocol import Credentials
    from docker_credential_convox.servers import Server


class StoredLogin(Source):
    """Username in the registry index, secret in the secret store under (key, username)."""

    kind = "keyring"  # the index's name for it since the first release
    backend = STORED

    @classmethod
    def claims(cls, server: Server, credentials: Credentials) -> bool:
        return server.kind == REGISTRY

    @classmethod
    def from_request(
        cls, server: Server, credentials: Credentials, diagnostics: Diagnostics
    ) -> tuple[Source, Optional[str]]:
        return cls(credentials.username), credentials.secret

    @property
    def secret_username(self) -> Optional[str]:
        return self.username

    def describe(self) -> str:
        return f"the login of {self.username} stored for this registry"

    def detail(self) -> str:
        return "keyring"
