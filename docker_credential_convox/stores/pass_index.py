"""How the pass store's logins and the registry index meet (the router's side of stores/pass_store).

docker-credential-pass writes logins this helper's index never hears of, and erases logins the
index still names. With the pass store, the store decides which stored secrets exist:
- a login it holds outside the index reads as an index entry of a stored login (its URL as the
  directory spells it, the first username, as docker-credential-pass answers), unless a pending
  marker says an interrupted store or erase of ours left it (the next erase sweeps it);
- an index entry whose key has no login left in it (erased there) reads as no entry;
- an erase also removes the key's logins outside the index; a store, once the index names the new
  login, removes the key's other logins, so docker-credential-pass reads the same one.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.registry_index import Entry
from docker_credential_convox.sources import StoredLogin, kept_secret

if TYPE_CHECKING:
    from collections.abc import Mapping

    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.pending_markers import PendingMarkers
    from docker_credential_convox.registry_index_writer import RegistryIndexWriter
    from docker_credential_convox.stores.pass_store import PassStore

# Usernames filed under one key outside the index that one erase removes (bounds a loop).
MAX_LOGINS_ERASED = 16


def entries_with_logins(
    entries: Mapping[str, Entry], store: PassStore, pending: PendingMarkers
) -> dict[str, Entry]:
    """The index's `entries` as the pass store's logins make them (the module's first rules)."""
    held = store.logins()  # read after the index: a login the index names was written first
    merged = {}
    for key, entry in entries.items():
        # Only a key with no login left counts as erased: one whose username changed since the
        # index was read is a store in progress, which `get`'s second look at the index answers.
        if key in held or kept_secret(entry) is None:
            merged[key] = entry
    for key, logins in held.items():
        if key not in entries and not pending.may_exist(key):
            first = logins[0]
            merged[key] = Entry(key, first.server_url, first.usernames[0], StoredLogin.kind)
    return merged


def keep_only(store: PassStore, index: RegistryIndexWriter, key: str, username: str) -> None:
    """After a store: the key's one login is `username`'s, filed as ours, if the index still
    names it (a later store may have overtaken this one: its login stays)."""
    with index.registry_lock(key):
        entry = index.lookup(key)
        if entry is not None and kept_secret(entry) == username:
            store.keep_only(key, username)


def erase_outside_index(
    store: PassStore, index: RegistryIndexWriter, key: str, diagnostics: Diagnostics
) -> None:
    """After an erase: remove the logins the store holds for `key` without an index entry
    (written by docker-credential-pass, or under another spelling of the key)."""
    if store.find_username(key) is None:
        return
    with index.registry_lock(key, for_erase=True):
        if index.lookup(key) is not None:
            return  # a store of ours came in between: its login stays
        for _ in range(MAX_LOGINS_ERASED):
            username = store.find_username(key)
            if username is None:
                return
            store.delete(key, username)
            diagnostics.debug(f"erased {username}'s login for {key} from {store.name}")
