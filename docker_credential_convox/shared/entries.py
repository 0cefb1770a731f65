"""The shared registries of one scope, as the router and the `registries` commands ask for them.

`find` answers a `get` (a registry's entry, or None), `listing` answers `list`, `put` and
`remove` serve `registries add|remove --shared`. Reads go through the per-machine cache
(cache.py), so a `get` answered from it loads neither botocore nor keyring, nor the cache's
fetch side (cache_fetch.py, with filecache_fetch and os); a failed read is a one-line
SourceError that names the registry, the scope and the cause, never the value.
"""

from __future__ import annotations

import time

from docker_credential_convox import APP, TYPE_CHECKING, minijson
from docker_credential_convox.errors import BadRequest, HelperError, SourceError, one_line
from docker_credential_convox.server_keys import REGISTRY
from docker_credential_convox.shared import SharedStoreError
from docker_credential_convox.shared.cache import SharedCache
from docker_credential_convox.shared.document import SharedEntry, parse_optional
from docker_credential_convox.shared.scope import parse_scope

if TYPE_CHECKING:
    from typing import Callable, Optional

    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.server_keys import Server
    from docker_credential_convox.settings import Settings
    from docker_credential_convox.shared.cache_fetch import FetchingSharedCache
    from docker_credential_convox.shared.scope import Scope
    from docker_credential_convox.stores.secretsmanager import SecretsManager

TAG_MANAGED_BY = "managed-by"
TAG_REGISTRY = f"{APP}:registry"
TAG_SOURCE = f"{APP}:source"
LIST_SLOT = "list"
ENTRY_SLOT = "entry:"
REFUSED = "refused"  # the listing slot's record of a refused ListSecrets: [cause, detail, hint]


class SharedRegistries:
    """The registries shared in `scope`, read through the machine's cache."""

    def __init__(
        self,
        scope: Scope,
        settings: Settings,
        diagnostics: Diagnostics,
        *,
        clock: Callable[[], float] = time.time,
        rand: Optional[Callable[[], float]] = None,
        api: Optional[SecretsManager] = None,
    ) -> None:
        self.scope = scope
        self.settings = settings
        self.diagnostics = diagnostics
        # What a hit reads; taken over by its fetch side on the first miss or change.
        self.cache = SharedCache(
            settings.runtime_dir,
            scope.text,
            diagnostics,
            max_age=settings.shared_max_age,
            stale_for=settings.shared_stale_for,
            clock=clock,
            rand=rand,
        )
        self._api = api

    @classmethod
    def from_settings(
        cls, settings: Settings, diagnostics: Diagnostics, clock: Callable[[], float] = time.time
    ) -> Optional[SharedRegistries]:
        """The configured scope's registries; None when no scope is configured."""
        text, origin = settings.shared_setting
        if text is None:
            return None
        return cls(parse_scope(text, origin), settings, diagnostics, clock=clock)

    @property
    def api(self) -> SecretsManager:
        if self._api is None:
            from docker_credential_convox.stores.secretsmanager import SecretsManager

            self._api = SecretsManager(self.settings)
        return self._api

    def fetching_cache(self) -> FetchingSharedCache:
        """The machine's cache, able to ask, write and forget too (cache_fetch.py loads now)."""
        # Imported here: a `get` the cache answers (a value, or a remembered "not shared") never
        # asks, and the fetch side brings filecache_fetch and os, ~15% of such a `get`. Not
        # from cache.py, which the fetch side builds on: that would be an import loop.
        from docker_credential_convox.shared.cache_fetch import FetchingSharedCache

        cache = FetchingSharedCache.taking_over(self.cache)
        self.cache = cache  # every later call uses it: one directory, one refusal
        return cache

    def _cached_or_asked(
        self, slot: str, what: str, ask: Callable[[], Optional[str]]
    ) -> Optional[str]:
        """The value of `slot`: the cache's when it answers (its read side alone), else asked
        through its fetch side (once across processes). Raises SharedStoreError."""
        cached = self.cache.hit(slot, what)
        if cached is not None:
            return cached.value
        return self.fetching_cache().ask_missing(slot, what, ask)

    def _failed(self, doing: str, exc: SharedStoreError) -> SourceError:
        return SourceError(f"{doing} in {self.scope.text}: {exc.message}", hint=exc.hint)

    # -- reads -------------------------------------------------------------------------------

    def find(self, server: Server) -> Optional[SharedEntry]:
        """The shared entry answering `server` (its key, then the longest shorter path that is
        shared), or None. At most two reads whatever the depth: the key itself, then the path
        the scope's cached listing names (the registry's own key where the listing cannot be
        had), never one read per prefix."""
        keys = server.lookup_keys() if server.kind == REGISTRY else [server.key]
        found = self.entry(keys[0])
        if found is not None or len(keys) == 1:
            return found
        shorter = self._shared_prefix(keys[1:])
        if shorter is None:
            return None
        found = self.entry(shorter)
        if found is not None:
            self.diagnostics.debug(f"no shared entry for {server.key}; answering from {shorter}")
        return found

    def _shared_prefix(self, keys: list[str]) -> Optional[str]:
        """The first of `keys` (shorter paths, longest first) the listing holds; the last (the
        registry's own) when the scope cannot be listed; None when it holds none of them."""
        try:
            listed = set(self.keys())
        except HelperError as exc:
            self.diagnostics.debug(
                f"{exc.message}; asking for the registry's own entry {keys[-1]} only"
            )
            return keys[-1]
        return next((key for key in keys if key in listed), None)

    def entry(self, key: str) -> Optional[SharedEntry]:
        """The shared entry of exactly `key`, or None."""
        try:
            name = self.scope.name_of(key)
        except BadRequest:
            return None  # too long to have been written
        try:
            text = self._cached_or_asked(
                ENTRY_SLOT + key, f"the shared entry for {key}", lambda: self.api.read(name)
            )
        except SharedStoreError as exc:
            raise self._failed(f"cannot read the shared entry for {key}", exc) from None
        return parse_optional(key, name, text)

    def keys(self) -> list[str]:
        """The registry keys shared in the scope (one cached ListSecrets per max age). A refusal
        (a fleet role without secretsmanager:ListSecrets) is cached for the max age too, so a
        `get` does not ask again each time; it raises as any other failure."""

        def ask() -> str:
            found = set()
            try:
                names = self.api.list_names(self.scope.prefix + "/")
            except SharedStoreError as exc:
                if exc.transient:
                    raise
                return minijson.dumps({REFUSED: [exc.cause, exc.detail, exc.hint or ""]})
            for name, tags in names:
                key = self.scope.key_of(name)
                if key is not None and tags.get(TAG_REGISTRY, key) == key:
                    found.add(key)
            return minijson.dumps(sorted(found))

        try:
            text = self._cached_or_asked(LIST_SLOT, f"the list of {self.scope.text}", ask)
        except SharedStoreError as exc:
            raise self._failed("cannot list the shared registries", exc) from None
        try:
            keys = minijson.loads(text or "[]")
        except ValueError:
            keys = []
        refused = keys.get(REFUSED) if isinstance(keys, dict) else None
        if (
            isinstance(refused, list)
            and len(refused) == 3
            and all(isinstance(part, str) for part in refused)
        ):
            cause, detail, hint = (one_line(part, 400) for part in refused)
            error = SharedStoreError(cause, detail, transient=False, hint=hint or None)
            raise self._failed("cannot list the shared registries", error)
        return [key for key in keys if isinstance(key, str)] if isinstance(keys, list) else []

    def listing(self) -> list[SharedEntry]:
        """Every shared entry that reads (one that does not is skipped with a warning)."""
        entries: list[SharedEntry] = []
        for key in self.keys():
            try:
                found = self.entry(key)
            except HelperError as exc:
                self.diagnostics.warn(exc.message)
                continue
            if found is not None:
                entries.append(found)
        return entries

    # -- writes (the operator's `registries add|remove --shared`) ------------------------------

    def put(self, shared: SharedEntry, kms_key_id: Optional[str] = None) -> bool:
        """Write `shared` (create, or a new version: rotation); True if it was created."""
        key = shared.entry.key
        tags = {
            TAG_MANAGED_BY: APP,
            TAG_REGISTRY: key,
            TAG_SOURCE: shared.entry.source,
        }
        try:
            created = self.api.write(
                self.scope.name_of(key), shared.to_text(), tags, kms_key_id, (shared.secret,)
            )
        except SharedStoreError as exc:
            raise self._failed(f"cannot write the shared entry for {key}", exc) from None
        finally:
            self.fetching_cache().forget(ENTRY_SLOT + key)
            self.fetching_cache().forget(LIST_SLOT)
        return created

    def remove(self, key: str) -> bool:
        """Delete the shared entry of `key` at once; False if there was none."""
        try:
            return self.api.delete(self.scope.name_of(key))
        except SharedStoreError as exc:
            raise self._failed(f"cannot delete the shared entry for {key}", exc) from None
        finally:
            self.fetching_cache().forget(ENTRY_SLOT + key)
            self.fetching_cache().forget(LIST_SLOT)
