"""The router: parse the server once, find its source, pick the backend that serves it.

`route` is the one place that decides, and says why (a `Route`; `get` follows it, `registries
doctor` explains it): the index entry a server's lookup keys find (a shorter path's entry answers
a longer path), the source it records (sources/), and for an alias the registry it is another
name for. A registry without a local entry is looked up in the shared
scope, if one is configured (shared/): its shared entry is routed the same way, and its backend
reads the secret from a read-only view of the shared document instead of the OS keyring, so
backends never learn that an entry is shared. Local entries win; `store` and `erase` on the
protocol stay local; `list` merges both. The operations the `registries` commands and `doctor` use
(store with or without verification, the default chain, list rows, a token peek or a fresh
mint) are here too, so that they never reach into a backend.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING, sources
from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.errors import CredentialsNotFound  # loaded by servers already
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.registry_index import RegistryIndex
from docker_credential_convox.server_keys import REGISTRY, Server, parse_key, parse_server
from docker_credential_convox.settings import PASS_STORE, Settings

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Callable, Optional

    from docker_credential_convox.aws.ecr_token import MintedToken
    from docker_credential_convox.backends import Backend, Records
    from docker_credential_convox.backends.ecr import EcrBackend
    from docker_credential_convox.registries.rows import Row
    from docker_credential_convox.registry_index import Entry
    from docker_credential_convox.shared.document import SharedEntry
    from docker_credential_convox.shared.entries import SharedRegistries
    from docker_credential_convox.sources import Source
    from docker_credential_convox.sources.ecr import AwsSource
    from docker_credential_convox.stores import SecretStore
    from docker_credential_convox.stores.pass_store import PassStore
    from docker_credential_convox.tokencache import CachedToken


def _now() -> float:
    import time

    return time.time()


# What answers a `get` (Route.kind).
LOCAL = "local"
SHARED = "shared"
DEFAULT_CHAIN = "default-chain"
NOTHING = "nothing"


class Route:
    """What answers a `get` of one server, and why: the router's one decision (`Helper.route`).

    `kind`: LOCAL (an index entry), SHARED (the shared scope's entry), DEFAULT_CHAIN (an ECR
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
    """The four protocol operations over every backend, sharing one registry index."""

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
        self._clock = clock
        self._records: Optional[Records] = None
        self._backends: dict[str, Backend] = {}
        self._shared: Optional[SharedRegistries] = None
        self._shared_read = False

    @property
    def shared(self) -> Optional[SharedRegistries]:
        """The registries of the configured shared scope; None when none is configured."""
        if not self._shared_read:
            if self.settings.shared_setting[0] is not None:  # else nothing shared is loaded
                from docker_credential_convox.shared.entries import SharedRegistries

                # A bad setting raises here, and again on every later use.
                self._shared = SharedRegistries.from_settings(
                    self.settings, self.diagnostics, self._clock or _now
                )
            self._shared_read = True
        return self._shared

    @property
    def secret_store(self) -> SecretStore:
        """Where secrets live (the OS keyring), made on first use (importing nothing before)."""
        if self._secret_store is None:
            if self.settings.secret_store == PASS_STORE:  # no keyring library loaded at all
                from docker_credential_convox.stores.pass_store import PassStore

                self._secret_store = PassStore.from_settings(self.settings)
            else:
                from docker_credential_convox.stores.keyring import KeyringStore

                self._secret_store = KeyringStore.from_settings(self.settings)
        return self._secret_store

    def _pass_store(self) -> Optional[PassStore]:
        """The pass store when it is the secret store (it lists what it holds), else None."""
        if self._secret_store is None and self.settings.secret_store != PASS_STORE:
            return None  # the keyring: nothing is opened to find that out
        from docker_credential_convox.stores.pass_store import PassStore

        store = self.secret_store
        return store if isinstance(store, PassStore) else None

    def _snapshot(self) -> Mapping[str, Entry]:
        """The registry index as `get` and `list` read it: with the pass store, as its logins
        make it (stores/pass_index.py)."""
        entries = self.index.snapshot()
        store = self._pass_store()
        if store is None:
            return entries
        from docker_credential_convox.stores.pass_index import entries_with_logins

        return entries_with_logins(entries, store, self.records.pending)

    @property
    def records(self) -> Records:
        if self._records is None:
            from docker_credential_convox.backends import Records

            self._records = Records(self.index, lambda: self.secret_store, self.diagnostics)
        return self._records

    def backend(self, name: str) -> Backend:
        """The backend `name` (sources.STORED or sources.MINTED), built on first use."""
        if name not in self._backends:
            if name == sources.MINTED:
                self._backends[name] = self._ecr_backend()
            else:
                from docker_credential_convox.backends.stored import StoredBackend

                self._backends[name] = StoredBackend(self.records, self.diagnostics)
        return self._backends[name]

    def _ecr_backend(self) -> EcrBackend:
        import time

        from docker_credential_convox.backends.ecr import EcrBackend

        return EcrBackend(
            self.settings,
            self.diagnostics,
            lambda: self.records,
            lambda server: self.get(server.url),
            clock=self._clock or time.time,
        )

    @property
    def ecr(self) -> EcrBackend:
        """The ECR backend, for the operations only it offers (tokens)."""
        backend = self.backend(sources.MINTED)
        return backend  # type: ignore[return-value]

    # -- the route ----------------------------------------------------------------------

    def route(self, server: Server) -> Route:
        """What answers a `get` of `server`, and why (`get` follows it; `doctor` explains it)."""
        return self._route_in(server, self._snapshot())

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

    def _shared_backend(self, name: str, shared: SharedEntry, scope_text: str) -> Backend:
        """Backend `name` over a read-only view of one shared entry (no keyring opened)."""
        from docker_credential_convox.backends import Records
        from docker_credential_convox.shared.view import SharedSecretView

        view = SharedSecretView(shared, scope_text)
        records = Records(self.index, lambda: view, self.diagnostics)
        if name == sources.MINTED:
            from docker_credential_convox.backends.ecr import EcrBackend

            return EcrBackend(
                self.settings,
                self.diagnostics,
                lambda: records,
                lambda server: self.get(server.url),
                clock=self._clock or _now,
            )
        from docker_credential_convox.backends.stored import StoredBackend

        return StoredBackend(records, self.diagnostics)

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

    def _erase_backend(self, server: Server) -> Backend:
        # ECR registries keep cached tokens even without an entry: theirs drops those too.
        return self.backend(sources.STORED if server.kind == REGISTRY else sources.MINTED)

    # -- the protocol --------------------------------------------------------------------

    def store(self, credentials: Credentials, verify: bool = True) -> None:
        """Keep `credentials`; with `verify`, first check a source the helper can check itself
        (an ECR registry's AWS credentials mint a token, which is kept; an alias's target
        answers). A login for an ordinary registry is kept unchecked: `docker login` and
        `registries add` ask the registry themselves."""
        server = parse_key(credentials.server_url)
        if "\0" in server.key:  # D-Bus strings (the Secret Service's attributes) cannot hold one
            from docker_credential_convox.errors import BadRequest

            raise BadRequest("invalid server URL: it contains a NUL character; send it without")
        source, secret = sources.from_request(server, credentials, self.diagnostics)
        # server.url is the URL as sent without its userinfo: a password in the URL is never kept.
        self.backend(source.backend).store(server, server.url, source, secret, verify=verify)
        store = self._pass_store()
        if store is not None and source.secret_username is not None:
            from docker_credential_convox.stores.pass_index import keep_only

            keep_only(store, self.index, server.key, source.secret_username)

    def get(self, server_url: str) -> Credentials:
        server = parse_key(server_url)
        # One read of the index answers an ordinary registry and an alias (whose target's
        # entry it also holds); an alias never opens the secret store.
        entries = self._snapshot()
        route = self._route_in(server, entries)
        if route.source is None:
            self.diagnostics.debug(f"{route.why} in {self.index.path}")
            raise CredentialsNotFound()
        if route.shared is not None and route.scope is not None:
            view = {route.shared.entry.key: route.shared.entry}
            backend = self._shared_backend(route.source.backend, route.shared, route.scope)
            credentials = backend.get(route.server, route.source, view)
        else:
            credentials = self.backend(route.source.backend).get(
                route.server, route.source, entries
            )
        if credentials.server_url == server.url:
            return credentials
        return Credentials(  # an alias
            server.url, credentials.username, credentials.secret, credentials.expires_at
        )

    def erase(self, server_url: str) -> None:
        """Forget the entry of exactly this server and path (never a shorter path's)."""
        self._erase(parse_key(server_url))

    def _erase(self, server: Server) -> None:
        """Erase exactly `server`'s key: its backend's entry, and with the pass store the
        logins filed outside the index under that key."""
        self._erase_backend(server).erase(server)
        store = self._pass_store()
        if store is not None:
            from docker_credential_convox.stores.pass_index import erase_outside_index

            erase_outside_index(store, self.index, server.key, self.diagnostics)

    def list(self) -> dict[str, str]:
        """Server URL -> username for every registry in the index, plus the ECR registries with
        a usable cached token (minted from the default chain, say), plus the shared registries
        without a local entry (listed through the machine's cache); no secret store call
        (the pass store's folder is read, never a secret in it)."""
        entries = self._snapshot()
        listing = self._local_listing(entries)
        for shared in self._shared_listing():
            if shared.entry.key not in entries:
                listing.setdefault(sources.listed_url(shared.entry), shared.entry.username)
        return listing

    def _local_listing(self, entries: Mapping[str, Entry]) -> dict[str, str]:
        listing = self.backend(sources.STORED).list(entries)
        for url, username in self.backend(sources.MINTED).list(entries).items():
            listing.setdefault(url, username)
        return listing

    def _shared_listing(self) -> Sequence[SharedEntry]:
        """The shared entries, or none with a warning when they cannot be listed: `list`
        answers what it can (a fleet machine may read secrets without listing them)."""
        from docker_credential_convox.errors import HelperError

        try:
            shared = self.shared
            return shared.listing() if shared is not None else []
        except HelperError as exc:
            self.diagnostics.warn(f"shared registries not listed: {exc.message}")
            return []

    # -- operations for `registries` and `doctor` ----------------------------------------

    def lookup(self, server: Server) -> Optional[Entry]:
        """The index entry recorded for exactly `server`'s key (with the pass store, also a
        login it holds outside the index, as `get` reads it)."""
        if self._pass_store() is not None:
            return self._snapshot().get(server.key)
        return self.index.lookup(server.key)

    def stored_under(self, server: Server) -> Sequence[Entry]:
        """What `registries remove` forgets for `server`: its own index entry and, when it names
        a registry (no path), every path entry under it (Docker Hub's web-login tokens, a team's
        login), ordered by key."""
        entries = self._snapshot()  # with the pass store, its logins outside the index too
        if server.key != server.registry:
            return [entries[server.key]] if server.key in entries else []
        prefix = server.key + "/"
        return [
            entries[key] for key in sorted(entries) if key == server.key or key.startswith(prefix)
        ]

    def erase_all(self, server: Server, entries: Sequence[Entry]) -> None:
        """Erase `server` (its cached tokens and orphans too, as `erase` does) and each of
        `entries` (from `stored_under`), key by key."""
        keys = [server.key, *(entry.key for entry in entries if entry.key != server.key)]
        for key in keys:
            self._erase(server.with_key(key))

    def source_of(self, server: Server, entry: Optional[Entry]) -> Optional[Source]:
        """The source an entry records (an ECR registry's default chain without one)."""
        return sources.from_entry(server.kind, entry)

    def use_default_chain(self, server: Server, verify: bool = True) -> None:
        """Make the ECR registry `server` use the default chain, checking first that it mints."""
        from docker_credential_convox.sources.ecr import EcrDefaultChain

        self.ecr.store(server, server.url, EcrDefaultChain(), None, verify=verify)

    def alias(self, server: Server, server_url: str, target: Server, verify: bool = True) -> None:
        """Record `server` as another name of the ECR registry `target`."""
        from docker_credential_convox.sources.ecr import EcrAlias

        self.ecr.store(server, server_url, EcrAlias.of(target), None, verify=verify)

    def rows(self, extra_servers: Iterable[str] = ()) -> Sequence[Row]:
        """Every registry the helper knows: index entries, then ECR registries on the default
        chain (`extra_servers`, such as Docker's routes, or holding a cached token)."""
        from docker_credential_convox.errors import HelperError
        from docker_credential_convox.registries.rows import Row

        entries = self._snapshot()
        shared_entries = self._shared_listing()
        rows: list[Row] = []
        for key in sorted(entries):
            entry = entries[key]
            try:
                kind = parse_server(entry.server_url).kind
            except HelperError:
                kind = REGISTRY
            rows.append(self._row(entry, kind))
        extra: dict[str, Row] = {}
        for server_url in [*extra_servers, *self._local_listing(entries)]:
            try:
                server = parse_server(server_url)
            except HelperError:
                continue
            if server.kind == REGISTRY or server.key in entries or server.key in extra:
                continue
            if any(found.entry.key == server.key for found in shared_entries):
                continue  # its shared entry answers, not the default chain
            chain = sources.from_entry(server.kind, None)
            assert chain is not None
            extra[server.key] = Row(
                server_url,
                server.key,
                "",
                server.kind,
                source=chain.kind,
                kind_text=chain.list_kind(server.kind),
            )
        rows.extend(extra[key] for key in sorted(extra))
        if shared_entries:
            scope_text = self.require_shared().scope.text
            rows.extend(self._shared_row(found, scope_text) for found in shared_entries)
        return rows

    @classmethod
    def _shared_row(cls, shared: SharedEntry, scope_text: str) -> Row:
        """The row of a shared entry: its source as a local entry's, and its scope."""
        from docker_credential_convox.sources import StoredLogin

        row = cls._row(shared.entry, parse_server(shared.entry.server_url).kind)
        if row.source == StoredLogin.kind:
            row.kind_text = "login"
        row.kind_text = f"{row.kind_text}, shared in {scope_text}"
        row.scope = scope_text
        return row

    @staticmethod
    def _row(entry: Entry, kind: str) -> Row:
        """The row of an index entry; a source this release cannot read shows as recorded."""
        from docker_credential_convox.registries.rows import Row
        from docker_credential_convox.server_keys import strip_userinfo

        source_class = sources.class_of(entry.source)
        source = source_class.from_entry(entry) if source_class is not None else None
        shown = source.shown_username if source is not None else entry.username
        if source is not None:
            kind_text = source.list_kind(kind)
        else:
            kind_text = entry.source if kind == REGISTRY else f"{kind}: {entry.source}"
        # strip_userinfo: an earlier release kept a password sent in the URL.
        return Row(
            strip_userinfo(entry.server_url),
            entry.key,
            shown,
            kind,
            source=entry.source,
            kind_text=kind_text,
            options=entry.options,
        )

    def store_shared(
        self, credentials: Credentials, kms_key_id: Optional[str] = None, verify: bool = True
    ) -> bool:
        """Write `credentials` as the shared entry of their registry (rotation when it exists);
        with `verify`, an ECR registry's access keys or role first mint a token. Touches no
        keyring and no index. True if the secret was created."""
        from docker_credential_convox.errors import UsageError
        from docker_credential_convox.shared.document import SHARED_SOURCES, SharedEntry

        shared = self.require_shared()
        server = parse_server(credentials.server_url)
        source, secret = sources.from_request(server, credentials, self.diagnostics)
        if source.kind not in SHARED_SOURCES:
            raise UsageError(
                f"{source.describe()} cannot be shared: a fleet shares a login, an ECR "
                "registry's access keys (--username ACCESS_KEY_ID --password-stdin) or a role "
                "(--role-arn)"
            )
        if verify and source.backend == sources.MINTED:
            from docker_credential_convox.backends.ecr import VERIFY
            from docker_credential_convox.sources.ecr import AwsSource

            assert isinstance(source, AwsSource)
            self.ecr.mint(server, source, secret, verb=VERIFY)
        entry = source.entry(server.key, server.url)
        return shared.put(SharedEntry(entry, secret or ""), kms_key_id)

    def remove_shared(self, server: Server) -> bool:
        """Delete the shared entry of `server` at once; False if there was none."""
        return self.require_shared().remove(server.key)

    def require_shared(self) -> SharedRegistries:
        """The configured shared scope; a one-line UsageError naming the setting without one."""
        shared = self.shared
        if shared is None:
            from docker_credential_convox.errors import UsageError
            from docker_credential_convox.settings import ENV_SHARED

            raise UsageError(
                f"no shared scope is configured: set {ENV_SHARED}=secretsmanager:PREFIX (or "
                f'"shared" in {self.settings.config_path})'
            )
        return shared

    def cached_token(self, server: Server, source: AwsSource) -> Optional[CachedToken]:
        """The token cached for `server` and `source`, fresh or not (no lock, no write)."""
        return self.ecr.cache.peek(self.ecr.cache_key(server, source))

    def mint_now(self, server: Server, source: AwsSource, secret: Optional[str]) -> MintedToken:
        """One GetAuthorizationToken for `server`, not cached; raises AwsError."""
        return self.ecr.mint_now(server, source, secret)
