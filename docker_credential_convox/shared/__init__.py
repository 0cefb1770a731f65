"""Registries shared by a fleet: one secret per registry in AWS Secrets Manager (issue 12).

An operator writes a registry once (`registries add SERVER --shared`); every machine pointed at
the scope (DOCKER_CREDENTIAL_CONVOX_SHARED=secretsmanager:PREFIX, settings.py) answers `get` from
it, through a per-machine cache, without any keyring. The parts, one job each:

- scope.py: the setting's scope and each registry's secret name (pure);
- document.py: the secret's value, read strictly;
- cache.py: the per-machine cache (jittered age, single flight, stale-on-error);
- entries.py: the shared registries of a scope, as the router (helper.py) asks for them;
- view.py: a read-only secret store over one shared entry, for the backends;
- stores/secretsmanager.py: the AWS calls and their errors.
"""
