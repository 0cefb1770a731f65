"""Where secrets live: a small interface, one implementation per store.

A secret store files one secret per (registry key, username). It knows nothing of registries,
credential sources or the protocol; backends ask it to put, get and delete, and messages ask it
to say where a secret lives. The writable stores: the OS keyring (`stores/keyring.py`, the
default) and `pass` in docker-credential-pass's layout (`stores/pass_store.py`, with
DOCKER_CREDENTIAL_CONVOX_SECRET_STORE=pass; not `pass.py`, a keyword no import can name), which
can also list what it holds, so the router answers its logins outside the index (helper.py).
Registries shared by a fleet live in AWS Secrets Manager (`stores/secretsmanager.py`, the calls;
shared/, the rest), one whole entry per secret: a backend answering a shared entry is handed a
read-only store over that entry (shared/view.py), so it never learns the entry is shared.

Every failure is a StoreUnavailable (errors.py) whose one-line text names the store and what to
do; nothing above this interface knows which store it talks to.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.errors import StoreUnavailable

if TYPE_CHECKING:
    from typing import Optional, Protocol

    class SecretStore(Protocol):
        """Secrets by (registry key, username)."""

        @property
        def name(self) -> str:
            """The store in a few words, for messages ("the OS keyring")."""

        @property
        def can_enumerate(self) -> bool:
            """Whether the store can list what it holds (else the registry index answers)."""

        def put(self, key: str, username: str, secret: str) -> None:
            """File `secret` under (key, username), replacing any earlier one."""

        def get(self, key: str, username: str) -> Optional[str]:
            """The secret filed under (key, username), or None."""

        def delete(self, key: str, username: str) -> None:
            """Remove the secret under (key, username); a missing one is not an error."""

        def find_username(self, key: str) -> Optional[str]:
            """Some username with a secret filed under `key` (to sweep orphans), or None."""

        def location(self, key: str) -> str:
            """Where the secrets of `key` live, in words (no call to the store)."""

        def describe(self) -> str:
            """Which implementation answers (opening the store if need be), for `doctor`."""


class StoreNotAnswering(StoreUnavailable):
    """The OS keyring's service took a call and gave no answer within the bound."""
