"""The router: parse the server once, find what answers it, ask the backend that serves it.

`route` is the one decision, with its reason (a `Route`: `get` follows it, `registries doctor`
explains it): the index entry a server's lookup keys find (a shorter path's entry answers a
longer path), the source it records (sources/), and for an alias the registry it names. A
registry without a local entry is looked up in the shared scope, if one is configured (shared/),
and routed the same way; its backend reads the secret from a read-only view of that entry, so
backends never learn that it is shared. Local entries win; `store` and `erase` stay local;
`list` merges both.

Data flows down: each backend is built once, here, and handed what one call needs (a secret
reader for `get`, the `Records` writer for `store` and `erase`); nothing below calls back up.
Each protocol operation has a form over what is already parsed (`answer` a route, `store_source`,
`erase_server`), which the `registries` commands (registries/operations.py) and the kubelet
provider use. Imports inside functions keep a module off the paths that never need it
(tests/test_startup.py names them).
"""

from __future__ import annotations

import time

from docker_credential_convox import TYPE_CHECKING, sources
from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.errors import (
    BadRequest,
    CredentialsNotFound,
    HelperError,
    SourceError,
)
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.registry_index import RegistryIndex
from docker_credential_convox.server_keys import REGISTRY, Server, parse_key
from docker_credential_convox.settings import PASS_STORE, Settings

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Callable, Optional

    from docker_credential_convox.backends import LocalSecrets
    from docker_credential_convox.backends.ecr import EcrBackend
    from docker_credential_convox.backends.interface import Backend, SecretReader
    from docker_credential_convox.backends.records import Records
    from docker_credential_convox.backends.stored import StoredBackend
    from docker_credential_convox.registry_index import Entry
    from docker_credential_convox.shared.document import SharedEntry
    from docker_credential_convox.shared.entries import SharedRegistries
    from docker_credential_convox.sources import Source
    from docker_credential_convox.stores import SecretStore
    from docker_credential_convox.stores.pass_store import PassStore

# What answers a `get` (Route.kind).
LOCAL = "local"
SHARED = "shared"
DEFAULT_CHAIN = "default-chain"
NOTHING = "nothing"


class Route:
    """What answers a `get` of one server, and why: the router's one decision (`Helper.route`).

    `kind`: LOCAL (an index entry, or a source the caller chose: the kubelet provider's
    workload role), SHARED (the shared scope's entry), DEFAULT_CHAIN (an ECR
    registry with no usable entry: AWS's default chain) or NOTHING (credentials not found).
    `server` is the server answered (a shorter path's key, or an alias's target) and `source` its
    credential source; `entry_key` is the key of the entry whose source answers, `via` the key of
    the alias entry that led there, `scope` the shared scope's text and `shared` its entry.
    """

    __slots__ = ("entry_key", "kind", "scope", "server", "shared", "source", "via", "why")

    def __init__(
        self,
        kind: str,
        server: Server,
        source: Optional[Source],
        why: str,
        *,
        entry_key: Optional[str] = None,
        via: Optional[str] = None,
        scope: Optional[str] = None,
        shared: Optional[SharedEntry] = None,
    ) -> None:
        self.kind = kind
        self.server = server
        self.source = source
        self.why = why
        self.entry_key = entry_key
        self.via = via
        self.scope = scope
        self.shared = shared

    def __repr__(self) -> str:
        return f"Route({self.kind}, {self.server.key!r}: {self.why})"


class Helper:
    """`route` and the four protocol operations over every backend, sharing one index."""

    def __init__(
        self,
        settings: Settings,
        diagnostics: Diagnostics,
        index: Optional[RegistryIndex] = None,
        secret_store: Optional[SecretStore] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> None:
        self.settings = settings
        self.diagnostics = diagnostics
        self.index = index or RegistryIndex(settings.index_path)
        self._secret_store = secret_store
        self._clock = clock or time.time
        self._secrets: Optional[LocalSecrets] = None
        self._records: Optional[Records] = None
        self._stored: Optional[StoredBackend] = None
        self._ecr: Optional[EcrBackend] = None
        self._shared: Optional[SharedRegistries] = None
        self._shared_read = False

    # -- what it routes over, each made on first use ---------------------------------------

    @property
    def shared(self) -> Optional[SharedRegistries]:
        """The registries of the configured shared scope; None when none is configured."""
        if not self._shared_read:
            if self.settings.shared_setting[0] is not None:  # else nothing shared is loaded
                from docker_credential_convox.shared.entries import SharedRegistries

                # A bad setting raises here, and again on every later use.
                self._shared = SharedRegistries.from_settings(
                    self.settings, self.diagnostics, self._clock
                )
            self._shared_read = True
        return self._shared

    @property
    def secrets(self) -> LocalSecrets:
        """The local secret store (the OS keyring, or pass), opened when a secret is used."""
        if self._secrets is None:
            from docker_credential_convox.backends import LocalSecrets

            self._secrets = LocalSecrets(self.settings, self._secret_store)
        return self._secrets

    def _pass_store(self) -> Optional[PassStore]:
        """The pass store when it is the secret store (it lists what it holds), else None."""
        if self._secret_store is None and self.settings.secret_store != PASS_STORE:
            return None  # the keyring: nothing is opened to find that out
        from docker_credential_convox.stores.pass_store import PassStore

        store = self.secrets.store
        return store if isinstance(store, PassStore) else None

    def _may_hold(self, key: str) -> bool:
        """Whether an erase of `key` may find anything, read without a writer or a lock."""
        from docker_credential_convox.pending_markers import PendingMarkers, may_hold

        return may_hold(self.index, PendingMarkers.beside(self.index.path), key)

    def entries(self) -> Mapping[str, Entry]:
        """The registry index as `get` and `list` read it: with the pass store, as its logins
        make it (stores/pass_index.py)."""
        entries = self.index.snapshot()
        store = self._pass_store()
        if store is None:
            return entries
        from docker_credential_convox.pending_markers import PendingMarkers
        from docker_credential_convox.stores.pass_index import entries_with_logins

        return entries_with_logins(entries, store, PendingMarkers.beside(self.index.path))

    def _writer(self) -> Records:
        """The index and the secret store written as one, for `store` and `erase` only."""
        if self._records is None:
            from docker_credential_convox.backends.records import Records
            from docker_credential_convox.registry_index_writer import RegistryIndexWriter

            index = RegistryIndexWriter(self.index.configured)
            self._records = Records(index, self.secrets, self.diagnostics)
        return self._records

    @property
    def ecr(self) -> EcrBackend:
        """The ECR backend: also what only it offers, minting now and its token cache."""
        if self._ecr is None:
            from docker_credential_convox.backends.ecr import EcrBackend

            self._ecr = EcrBackend(self.settings, self.diagnostics, clock=self._clock)
        return self._ecr

    def _backend(self, name: str) -> Backend:
        """The backend `name` (sources.STORED or sources.MINTED), built once."""
        if name == sources.MINTED:
            return self.ecr
        if self._stored is None:
            from docker_credential_convox.backends.stored import StoredBackend

            self._stored = StoredBackend(self.index, self.diagnostics)
        return self._stored

    # -- the route ----------------------------------------------------------------------

    def route(self, server: Server) -> Route:
        """What answers a `get` of `server`, and why (`get` follows it; `doctor` explains it)."""
        return self._route_in(server, self.entries())

    def _route_in(self, server: Server, entries: Mapping[str, Entry]) -> Route:
        """The route of `server` given the index's entries: a local entry (its key, then shorter
        paths'), else the shared scope's, else an ECR registry's default chain, else nothing."""
        if not server.opaque and not self._has_local(server, entries):
            shared = self._shared_route(server)
            if shared is not None:
                return shared
        route = self._follow(server, entries)
        if route.kind == NOTHING and self._shared is not None and not server.opaque:
            route.why += f", here or in {self._shared.scope.text}"
        return route

    def _follow(self, server: Server, entries: Mapping[str, Entry]) -> Route:
        """The route within `entries` (the index, or a view of one shared entry)."""
        keys = server.lookup_keys() if server.kind == REGISTRY else [server.key]
        found = next((key for key in keys if key in entries), None)
        if found is None:
            why = f"no entry for {server.key}" + (" nor any shorter path" if len(keys) > 1 else "")
        elif found != server.key:
            self.diagnostics.debug(f"no entry for {server.key}; answering from {found}")
            why = f"the entry of {found}, the longest stored prefix of {server.key}"
            server = server.with_key(found)
        else:
            why = f"the entry of {found}"
        source = sources.from_entry(server.kind, entries.get(found) if found else None)
        if source is None:
            return Route(NOTHING, server, None, why)
        via = None
        try:
            target = source.answered_as(server, self.diagnostics)
        except CredentialsNotFound:  # an alias naming no ECR registry (it has warned)
            why = f"{why}, recorded as an ECR alias without a valid ECR registry"
            return Route(NOTHING, server, None, why, entry_key=found)
        if target is not server:
            self.diagnostics.debug(f"{server.key} is an alias of {target.key}")
            via, found, server = found, target.key, target
            why = f"{why}, another name of the ECR registry {target.key}"
            source = sources.from_entry(target.kind, entries.get(target.key))
            assert source is not None  # an alias's target is an ECR registry: never nothing
            if target.key not in entries:
                found = None
        if source.kind != DEFAULT_CHAIN:
            return Route(LOCAL, server, source, why, entry_key=found, via=via)
        if found is None:
            why = f"nothing is recorded for {server.key}"
        return Route(
            DEFAULT_CHAIN, server, source, f"{why}: tokens from the AWS default chain", via=via
        )

    @staticmethod
    def _has_local(server: Server, entries: Mapping[str, Entry]) -> bool:
        keys = server.lookup_keys() if server.kind == REGISTRY else [server.key]
        return any(key in entries for key in keys)

    def _shared_route(self, server: Server) -> Optional[Route]:
        """The route through the shared entry for `server`, None when there is none."""
        shared = self.shared
        if shared is None:
            return None
        found = shared.find(server)
        scope = shared.scope.text
        if found is None:
            self.diagnostics.debug(f"no shared entry for {server.key} in {scope}")
            return None
        self.diagnostics.debug(f"{server.key}: answering from {scope}")
        route = self._follow(server, {found.entry.key: found.entry})
        if route.kind == NOTHING:  # an alias naming no ECR registry: as if none were shared
            return None
        route.kind, route.scope, route.shared = SHARED, scope, found
        route.why = f"{route.why} in {scope}"
        return route

    # -- the protocol --------------------------------------------------------------------

    def get(self, server_url: str) -> Credentials:
        server = parse_key(server_url)
        credentials = self.answer(self.route(server))
        if credentials.server_url == server.url:
            return credentials
        return Credentials(  # a shorter path's entry, or an alias
            server.url, credentials.username, credentials.secret, credentials.expires_at
        )

    def answer(self, route: Route) -> Credentials:
        """The credentials `route` leads to (CredentialsNotFound where it leads nowhere); a
        shared route's backend reads the secret from that entry, any other from the local store."""
        if route.source is None:
            self.diagnostics.debug(f"{route.why} in {self.index.path}")
            raise CredentialsNotFound()
        secrets: SecretReader = self.secrets
        if route.shared is not None and route.scope is not None:
            from docker_credential_convox.shared.view import SharedSecretView

            secrets = SharedSecretView(route.shared, route.scope)
        return self._backend(route.source.backend).get(route.server, route.source, secrets)

    def store(self, credentials: Credentials, verify: bool = True) -> None:
        """Keep `credentials` (see `store_source` for what `verify` checks)."""
        server = parse_key(credentials.server_url)
        if "\0" in server.key:  # D-Bus strings (the Secret Service's attributes) cannot hold one
            raise BadRequest("invalid server URL: it contains a NUL character; send it without")
        source, secret = sources.from_request(server, credentials, self.diagnostics)
        # server.url is the URL as sent without its userinfo: a password in the URL is never kept.
        self.store_source(server, server.url, source, secret, verify=verify)

    def store_source(
        self,
        server: Server,
        server_url: str,
        source: Source,
        secret: Optional[str],
        verify: bool = True,
    ) -> None:
        """Record `source` (and its secret) for `server`; with `verify`, first check a source the
        helper can check itself (an ECR registry's AWS credentials mint a token, which is kept;
        the registry an alias names answers). A login for an ordinary registry is kept
        unchecked: `docker login` and `registries add` ask the registry themselves."""
        if verify:
            target = source.answered_as(server, self.diagnostics)
            if target is not server:
                try:
                    self.get(target.url)
                except CredentialsNotFound:
                    from docker_credential_convox.sources.ecr import VERIFY

                    raise SourceError(f"{VERIFY} {target.key}: no credentials for it") from None
        backend = self._backend(source.backend)
        backend.store(server, server_url, source, secret, self._writer(), verify=verify)
        store = self._pass_store()
        if store is not None and source.secret_username is not None:
            from docker_credential_convox.stores.pass_index import keep_only

            keep_only(store, self._writer().index, server.key, source.secret_username)

    def erase(self, server_url: str) -> None:
        """Forget the entry of exactly this server and path (never a shorter path's)."""
        self.erase_server(parse_key(server_url))

    def erase_server(self, server: Server) -> None:
        """Erase exactly `server`'s key: its backend's entry (an ECR registry's cached tokens,
        even without one), and with the pass store the logins filed outside the index."""
        store = self._pass_store()
        if server.kind == REGISTRY and store is None and not self._may_hold(server.key):
            return  # podman and skopeo `logout` of a registry never stored: nothing loaded
        name = sources.STORED if server.kind == REGISTRY else sources.MINTED
        self._backend(name).erase(server, self._writer())
        if store is not None:
            from docker_credential_convox.stores.pass_index import erase_outside_index

            erase_outside_index(store, self._writer().index, server.key, self.diagnostics)

    def list(self) -> dict[str, str]:
        """Server URL -> username for every registry in the index, plus the ECR registries with
        a usable cached token (minted from the default chain, say), plus the shared registries
        without a local entry (listed through the machine's cache); no secret store call
        (the pass store's folder is read, never a secret in it)."""
        entries = self.entries()
        listing = self._backend(sources.STORED).list(entries)
        for url, username in self.ecr.list(entries).items():
            listing.setdefault(url, username)
        for shared in self.shared_entries():
            if shared.entry.key not in entries:
                listing.setdefault(sources.listed_url(shared.entry), shared.entry.username)
        return listing

    def shared_entries(self) -> Sequence[SharedEntry]:
        """The shared entries, or none with a warning when they cannot be listed: `list`
        answers what it can (a fleet machine may read secrets without listing them)."""
        try:
            shared = self.shared
            return shared.listing() if shared is not None else []
        except HelperError as exc:
            self.diagnostics.warn(f"shared registries not listed: {exc.message}")
            return []


def entries_under(entries: Mapping[str, Entry], server: Server) -> list[Entry]:
    """`server`'s own entry and, when it names a registry (no path), every path entry under it
    (Docker Hub's web-login tokens, a team's login), by key: what `registries remove` forgets,
    and what makes the kubelet provider key its answers by image."""
    if server.key != server.registry:
        return [entries[server.key]] if server.key in entries else []
    prefix = server.key + "/"
    return [entries[key] for key in sorted(entries) if key == server.key or key.startswith(prefix)]
