"""The view model of `registries list`: one row per registry the helper knows, never a secret.

Built here from the router's index, ECR token cache and shared scope (`known_rows`); rendered as
a table or JSON by registries/listing.py. Imported only for that.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING, sources
from docker_credential_convox.errors import HelperError
from docker_credential_convox.server_keys import REGISTRY, parse_server, strip_userinfo
from docker_credential_convox.sources import StoredLogin

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Optional

    from docker_credential_convox.helper import Helper
    from docker_credential_convox.registry_index import Entry
    from docker_credential_convox.shared.document import SharedEntry


class Row:
    """One registry as `registries list` shows it (the view model; never a secret)."""

    __slots__ = ("key", "kind", "kind_text", "options", "scope", "server", "source", "username")

    def __init__(
        self,
        server: str,
        key: str,
        username: str,
        kind: str,
        *,
        source: str,
        kind_text: str,
        options: Optional[Mapping[str, str]] = None,
        scope: str = "local",
    ) -> None:
        self.server = server
        self.key = key
        self.username = username
        self.kind = kind  # the registry's kind (server_keys.py)
        self.source = source  # the source's kind, as the index records it
        self.kind_text = kind_text  # the KIND column
        self.options = dict(options or {})
        self.scope = scope  # "local", or the shared scope (`secretsmanager:PREFIX`)

    def to_json(self) -> dict[str, object]:
        return {
            "server": self.server,
            "key": self.key,
            "username": self.username or None,
            "kind": self.kind,
            "source": self.source,
            "options": self.options,
            "scope": self.scope,
        }


def known_rows(router: Helper, extra_servers: Iterable[str] = ()) -> list[Row]:
    """Every registry the helper knows: index entries, then ECR registries on the default
    chain (`extra_servers`, such as Docker's routes, or holding a cached token), then the
    shared scope's entries."""
    entries = router.entries()
    shared_entries = router.shared_entries()
    rows: list[Row] = []
    for key in sorted(entries):
        entry = entries[key]
        try:
            kind = parse_server(entry.server_url).kind
        except HelperError:
            kind = REGISTRY
        rows.append(entry_row(entry, kind))
    # What `list` answers besides the shared entries: the index's logins and ECR registries,
    # and those with a cached token.
    listed = [*sources.listing(entries, sources.STORED), *router.ecr.list(entries)]
    extra: dict[str, Row] = {}
    for server_url in [*extra_servers, *listed]:
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
        assert router.shared is not None  # it listed them
        scope_text = router.shared.scope.text
        rows.extend(shared_row(found, scope_text) for found in shared_entries)
    return rows


def shared_row(shared: SharedEntry, scope_text: str) -> Row:
    """The row of a shared entry: its source as a local entry's, and its scope."""
    row = entry_row(shared.entry, parse_server(shared.entry.server_url).kind)
    if row.source == StoredLogin.kind:
        row.kind_text = "login"
    row.kind_text = f"{row.kind_text}, shared in {scope_text}"
    row.scope = scope_text
    return row


def entry_row(entry: Entry, kind: str) -> Row:
    """The row of an index entry; a source this release cannot read shows as recorded."""
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
