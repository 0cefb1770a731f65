"""A read-only secret store over one shared entry, so backends answer it unchanged.

The router hands a backend `Records` whose store is this view: the backend reads the secret as
it would from the OS keyring, and never learns the entry is shared. Writes are refused: shared
entries change only through `registries add|remove --shared`.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.errors import StoreUnavailable

if TYPE_CHECKING:
    from typing import Optional

    from docker_credential_convox.shared.document import SharedEntry


class SharedSecretView:
    """The secret of one shared entry, under its registry key and username."""

    def __init__(self, shared: SharedEntry, scope_text: str) -> None:
        self.shared = shared
        self.scope_text = scope_text

    @property
    def name(self) -> str:
        return f"the shared scope {self.scope_text}"

    @property
    def can_enumerate(self) -> bool:
        return False

    def get(self, key: str, username: str) -> Optional[str]:
        entry = self.shared.entry
        return self.shared.secret if (key, username) == (entry.key, entry.username) else None

    def put(self, key: str, username: str, secret: str) -> None:
        raise self._read_only(key)

    def delete(self, key: str, username: str) -> None:
        raise self._read_only(key)

    def find_username(self, key: str) -> Optional[str]:
        return None

    def location(self, key: str) -> str:
        return self.name

    def describe(self) -> str:
        return self.name

    def _read_only(self, key: str) -> StoreUnavailable:
        return StoreUnavailable(
            f"{key} is shared through {self.scope_text}: change it with "
            f"`docker-credential-convox registries add|remove {key} --shared`"
        )
