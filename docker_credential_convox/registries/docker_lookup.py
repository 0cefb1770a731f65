"""Docker's lookup rules: the key Docker looks a registry up by, and which helper it runs.

Docker reads DOCKER_AUTH_CONFIG first, then `credHelpers` by exact key, then `credsStore`, else
the plaintext `auths`. `doctor` explains a route with these rules; the config's own reading and
writing is `docker_config`'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from docker_credential_convox.errors import HelperError
from docker_credential_convox.registries import docker_config, json_roundtrip
from docker_credential_convox.server_keys import DOCKER_HUB_KEY, Server, parse_server

ENV_DOCKER_AUTH_CONFIG = "DOCKER_AUTH_CONFIG"


def docker_lookup_key(typed: str, server: Server) -> str:
    """The key Docker looks SERVER up by: the image reference's host[:port]; Hub's index URL."""
    if server.key == DOCKER_HUB_KEY:
        return docker_config.DOCKER_HUB_SERVER_URL
    return docker_config.config_keys_for(typed)[0]


def names_server(config_key: str, server: Server) -> bool:
    """Whether the config key `config_key` names the registry `server` (any spelling)."""
    try:
        return parse_server(config_key).key == server.key
    except HelperError:
        return False


def creds_store(config: docker_config.DockerConfig) -> str:
    """The config's `credsStore` (the helper for every registry without credHelpers), or ""."""
    node = config.document.get("credsStore")
    if isinstance(node, json_roundtrip.Scalar) and isinstance(node.value, str):
        return node.value
    return ""


def plaintext_keys(config: docker_config.DockerConfig, server: Server) -> list[str]:
    """The `auths` keys that hold a plaintext secret for `server`."""
    return [
        login.config_key
        for login in config.plaintext_logins()
        if names_server(login.config_key, server)
    ]


def docker_auth_config_keys(environ: Mapping[str, str], server: Server) -> list[str]:
    """The `auths` keys of DOCKER_AUTH_CONFIG naming `server` (Docker reads it before helpers)."""
    text = environ.get(ENV_DOCKER_AUTH_CONFIG, "")
    if not text.strip():
        return []
    try:
        document = json.loads(text)
    except ValueError:
        return []  # Docker ignores a value it cannot parse
    auths = document.get("auths") if isinstance(document, dict) else None
    if not isinstance(auths, dict):
        return []
    return [key for key in auths if isinstance(key, str) and names_server(key, server)]


def unmatched_helper_keys(
    config: docker_config.DockerConfig, key: str, server: Server
) -> list[str]:
    """credHelpers keys that name `server` but are not its lookup key `key`: Docker matches
    credHelpers by the exact key, so it runs no helper for them."""
    helpers = config.cred_helpers()
    return [other for other in helpers if other != key and names_server(other, server)]


def resolve_helper(config: docker_config.DockerConfig, key: str) -> tuple[str, str]:
    """The helper Docker runs for lookup key `key` ("" for none), and why, by Docker's rules:
    credHelpers by exact key, else credsStore."""
    helper = config.cred_helpers().get(key)
    if helper is not None:
        return helper, f'credHelpers["{key}"] in {config.path}'
    store = creds_store(config)
    if store:
        return store, f"credsStore in {config.path}, with no credHelpers entry for {key}"
    return "", ""
