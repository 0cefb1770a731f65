"""Backends: how the credentials of a registry are answered, one module per way.

`stored.py` returns a login kept as it is; `ecr.py` mints registry tokens from AWS credentials.
Every backend has the same interface (`Backend` in interface.py, as docker-credential-helpers'
Add, Get, Delete and List) and is built once, by the router (helper.py). The router hands it the
registry's source and only what the operation needs: `get` a `SecretReader` (the local secret
store, opened on the first read, or a read-only view of one shared entry, shared/view.py),
`store` and `erase` the `Records` writer (records.py), which writes the index entry and the
secret together. A backend never builds another backend nor calls the router, and imports heavy
libraries lazily.

A cached ECR `get` loads this module (the package of ecr.py), so it holds nothing but what
`LocalSecrets` needs: the records and their pending markers stay off that path, and so do the
interfaces (interface.py, read by the type checker only).
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.settings import PASS_STORE

if TYPE_CHECKING:
    from typing import Optional

    from docker_credential_convox.settings import Settings
    from docker_credential_convox.stores import SecretStore


class LocalSecrets:
    """The configured secret store (the OS keyring, or pass), opened on the first use: a `get`
    answered from the token cache never opens it, nor imports keyring."""

    def __init__(self, settings: Settings, store: Optional[SecretStore] = None) -> None:
        self.settings = settings
        self._store = store

    @property
    def store(self) -> SecretStore:
        """The store, opened now."""
        if self._store is None:
            if self.settings.secret_store == PASS_STORE:  # no keyring library loaded at all
                from docker_credential_convox.stores.pass_store import PassStore

                self._store = PassStore.from_settings(self.settings)
            else:
                from docker_credential_convox.stores.keyring import KeyringStore

                self._store = KeyringStore.from_settings(self.settings)
        return self._store

    @property
    def name(self) -> str:
        return self.store.name

    def get(self, key: str, username: str) -> Optional[str]:
        return self.store.get(key, username)
