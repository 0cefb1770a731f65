"""Registries shared by a fleet: one secret per registry in AWS Secrets Manager (issue 12).

An operator writes a registry once (`registries add SERVER --shared`); every machine pointed at
the scope (DOCKER_CREDENTIAL_CONVOX_SHARED=secretsmanager:PREFIX, settings.py) answers `get` from
it, through a per-machine cache, without any keyring. The parts, one job each:

- scope.py: the setting's scope and each registry's secret name (pure);
- document.py: the secret's value, read strictly;
- cache.py: the per-machine cache as a hit reads it (jittered age, stale while backing off);
- cache_fetch.py: its fetch side, on a miss (single flight, stale-on-error, failure memory);
- entries.py: the shared registries of a scope, as the router (helper.py) asks for them;
- view.py: a read-only secret store over one shared entry, for the backends;
- stores/secretsmanager.py: the AWS calls and their errors.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.errors import HelperError

if TYPE_CHECKING:
    from typing import Optional


class SharedStoreError(HelperError):
    """The shared store (AWS Secrets Manager) refused or failed a call: the cause in words,
    and whether it may pass by itself (`transient`: throttled, endpoint down)."""

    def __init__(self, cause: str, detail: str, transient: bool, hint: Optional[str] = None):
        super().__init__(f"{cause} ({detail})" if detail else cause, hint)
        self.cause = cause
        self.detail = detail
        self.transient = transient
