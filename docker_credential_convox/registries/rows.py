"""The view model of `registries list`: one row per registry the helper knows, never a secret.

Built by Helper.rows; rendered as a table or JSON by registries/listing.py. Imported only for that.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Optional


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
        self.kind = kind  # the registry's kind (servers.py)
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
