"""Docker's side of `registries doctor`: which helper Docker runs for a registry, and whether
that is this one, found on its PATH, with no plaintext password beside it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Callable, Optional

from docker_credential_convox.registries import docker_config
from docker_credential_convox.registries.docker_lookup import (
    ENV_DOCKER_AUTH_CONFIG,
    docker_auth_config_keys,
    docker_lookup_key,
    plaintext_keys,
    resolve_helper,
    unmatched_helper_keys,
)
from docker_credential_convox.registries.doctor_report import (
    NAME,
    Finding,
    ok,
    problem,
    run_command,
)
from docker_credential_convox.server_keys import ECR, ECR_PUBLIC, Server


def check_docker(
    config: docker_config.DockerConfig,
    typed: str,
    server: Server,
    environ: Mapping[str, str],
    which: Callable[[str], Optional[str]],
) -> Finding:
    """Which helper Docker runs for `server`, by Docker's rules, and whether that is this one."""
    key = docker_lookup_key(typed, server)
    shadowing = docker_auth_config_keys(environ, server)
    if shadowing:
        return problem(
            "docker",
            f"{ENV_DOCKER_AUTH_CONFIG} in the environment holds credentials for "
            f'"{shadowing[0]}", and docker uses them before any credential helper',
            f"unset {ENV_DOCKER_AUTH_CONFIG}, or drop that entry from it",
        )
    helper, why = resolve_helper(config, key)
    if helper == docker_config.HELPER_NAME:
        return _routed_here(config, typed, server, f"runs {NAME} for {key} ({why})", which)
    if helper:
        return problem(
            "docker",
            f"runs docker-credential-{helper} for {key} ({why}), not {NAME}",
            f"{run_command('registries', 'add', typed)} (a credHelpers entry wins over credsStore)",
        )
    return _not_routed(config, typed, server, key)


def _plaintext_fix(typed: str, server: Server) -> str:
    """How to drop a plaintext copy: `import` moves it; ECR logins are re-added instead."""
    if server.kind in (ECR, ECR_PUBLIC):
        return run_command("registries", "add", typed)
    return run_command("registries", "import")


def _routed_here(
    config: docker_config.DockerConfig,
    typed: str,
    server: Server,
    route: str,
    which: Callable[[str], Optional[str]],
) -> Finding:
    executable = which(NAME)
    if executable is None:
        return problem(
            "docker",
            f"{route}, but {NAME} is not on this PATH",
            f"put {NAME} in a directory on the PATH that docker runs with",
        )
    stale = plaintext_keys(config, server)
    if stale:
        return problem(
            "docker",
            f'{route}, but auths["{stale[0]}"] still holds a plaintext password, which docker '
            "sends whenever the helper fails",
            f"{_plaintext_fix(typed, server)} (it removes the plaintext copy)",
        )
    return ok("docker", f"{route}; found at {executable}")


def _not_routed(
    config: docker_config.DockerConfig, typed: str, server: Server, key: str
) -> Finding:
    add = run_command("registries", "add", typed)
    misspelled = unmatched_helper_keys(config, key, server)
    if misspelled:
        return problem(
            "docker",
            f'credHelpers names this registry "{misspelled[0]}", but docker looks up exactly '
            f'"{key}", so it runs no helper for it',
            add,
        )
    stale = plaintext_keys(config, server)
    if stale:
        return problem(
            "docker",
            f"no credential helper is named for {key} in {config.path}, and "
            f'auths["{stale[0]}"] holds a plaintext password, which docker sends instead of '
            f"asking {NAME}",
            _plaintext_fix(typed, server),
        )
    return problem(
        "docker",
        f"no credential helper is named for {key} in {config.path}, so docker never asks "
        f"{NAME} and pulls anonymously",
        add,
    )
