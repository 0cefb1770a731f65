"""What the `registries` commands do to the helper beyond the protocol's four operations.

Each is a function over the router (helper.py), built on its public parts: the index as `get`
reads it (`entries`), `store_source` and `erase_server`, the shared scope, and the ECR backend's
minting. None reaches into a backend's writes or re-derives a route; `registries list` builds its
rows in rows.py, and `doctor` asks the router's `route`.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING, sources
from docker_credential_convox.registries.errors import UsageError
from docker_credential_convox.server_keys import parse_server
from docker_credential_convox.settings import ENV_SHARED
from docker_credential_convox.shared.document import SHARED_SOURCES, SharedEntry
from docker_credential_convox.sources.ecr import VERIFY, AwsSource, EcrAlias, EcrDefaultChain

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Optional

    from docker_credential_convox.helper import Helper
    from docker_credential_convox.protocol import Credentials
    from docker_credential_convox.registry_index import Entry
    from docker_credential_convox.server_keys import Server
    from docker_credential_convox.shared.entries import SharedRegistries


def erase_all(router: Helper, server: Server, entries: Sequence[Entry]) -> None:
    """Erase `server` (its cached tokens and orphans too, as `erase` does) and each of
    `entries` (from helper.entries_under), key by key."""
    keys = [server.key, *(entry.key for entry in entries if entry.key != server.key)]
    for key in keys:
        router.erase_server(server.with_key(key))


def use_default_chain(router: Helper, server: Server, verify: bool = True) -> None:
    """Make the ECR registry `server` use the default chain, checking first that it mints."""
    router.store_source(server, server.url, EcrDefaultChain(), None, verify=verify)


def alias(
    router: Helper, server: Server, server_url: str, target: Server, verify: bool = True
) -> None:
    """Record `server` as another name of the ECR registry `target` (which must answer first,
    with `verify`)."""
    router.store_source(server, server_url, EcrAlias.of(target), None, verify=verify)


def require_shared(router: Helper) -> SharedRegistries:
    """The configured shared scope; a one-line UsageError naming the setting without one."""
    shared = router.shared
    if shared is None:
        raise UsageError(
            f"no shared scope is configured: set {ENV_SHARED}=secretsmanager:PREFIX (or "
            f'"shared" in {router.settings.config_path})'
        )
    return shared


def store_shared(
    router: Helper,
    credentials: Credentials,
    kms_key_id: Optional[str] = None,
    verify: bool = True,
) -> bool:
    """Write `credentials` as the shared entry of their registry (rotation when it exists);
    with `verify`, an ECR registry's access keys or role first mint a token. Touches no
    keyring and no index. True if the secret was created."""
    shared = require_shared(router)
    server = parse_server(credentials.server_url)
    source, secret = sources.from_request(server, credentials, router.diagnostics)
    if source.kind not in SHARED_SOURCES:
        raise UsageError(
            f"{source.describe()} cannot be shared: a fleet shares a login, an ECR "
            "registry's access keys (--username ACCESS_KEY_ID --password-stdin) or a role "
            "(--role-arn)"
        )
    if verify and isinstance(source, AwsSource):
        router.ecr.minter.mint(server, source, secret, verb=VERIFY)
    entry = source.entry(server.key, server.url)
    return shared.put(SharedEntry(entry, secret or ""), kms_key_id)


def remove_shared(router: Helper, server: Server) -> bool:
    """Delete the shared entry of `server` at once; False if there was none."""
    return require_shared(router).remove(server.key)
