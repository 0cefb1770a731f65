"""Docker's config.json: read it, route registries to this helper, write it back losing nothing.

Docker, skopeo and docker-py read `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`).
This module changes only what it is asked to (`credHelpers` entries, secret fields of `auths`
entries); every other key and value is written back exactly as it was read, token for token:
numbers keep their spelling, strings their escapes (Go writes `<` as `\\u003c`), keys their order.
Only the whitespace between tokens is renewed (indented like the file was, tabs for a new file).
The faithful reading and writing of JSON is `json_roundtrip`'s; this module holds Docker's rules.

Writes are atomic (a temp file beside the target, then a rename) onto the file a symlink points
to, keeping the file's mode (0600 for a new file) and, where permitted, its owner, under a lock
file hidden beside it (`.config.json.lock`, 0600) so that parallel updates of ours never lose
each other's changes. A file that is not valid JSON is refused with one line before anything is
changed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import stat
from collections.abc import Iterator, Sequence
from typing import Callable, Optional, TypeVar, Union
from urllib.parse import urlsplit

from docker_credential_convox import file_writes, fileio
from docker_credential_convox.errors import HelperError, StateError
from docker_credential_convox.protocol import is_valid_unicode
from docker_credential_convox.registries import json_roundtrip
from docker_credential_convox.registries.errors import DockerConfigError
from docker_credential_convox.registries.json_roundtrip import JsonObject, Scalar, string_value
from docker_credential_convox.server_keys import DOCKER_HUB_KEY, parse_server

HELPER_NAME = "convox"  # docker runs docker-credential-<name>
CONFIG_FILE = "config.json"
NEW_FILE_MODE = 0o600
NEW_DIR_MODE = 0o700
# The key each client looks Docker Hub up by in credHelpers (observed: docker 28.2 asks for
# `https://index.docker.io/v1/`, skopeo 1.9 for `docker.io`); a Docker Hub route needs both.
DOCKER_HUB_CONFIG_KEYS = ("https://index.docker.io/v1/", "docker.io")
DOCKER_HUB_SERVER_URL = DOCKER_HUB_CONFIG_KEYS[0]
# Fields of an `auths` entry that hold a secret (Docker's AuthConfig); the others are kept.
SECRET_FIELDS = ("auth", "password", "identitytoken", "registrytoken")
IDENTITY_TOKEN_USERNAME = "<token>"  # noqa: S105 - how docker hands an identity token to a helper
UPDATE_ATTEMPTS = 3
# Our config updates hold the lock for milliseconds; a longer wait means something is wrong.
LOCK_TIMEOUT = 30.0


def _child_object(parent: JsonObject, name: str, where: str) -> JsonObject:
    """The object under `name`, created empty if missing or null; refused if not an object."""
    value = parent.get(name)
    if isinstance(value, JsonObject):
        return value
    if value is not None and not json_roundtrip.is_null(value):
        raise DockerConfigError(
            f'"{name}" in {where} is {json_roundtrip.kind(value)}, not a JSON object; '
            "fix it, then run this again"
        )
    created = JsonObject()
    parent.set(name, created)
    return created


def parse_document(text: str, where: str) -> JsonObject:
    """The top-level object of a config file's text; one-line DockerConfigError if it is not."""
    try:
        document = json_roundtrip.parse(text)
    except RecursionError:
        raise DockerConfigError(f"{where} is nested too deeply to be a Docker config") from None
    except ValueError as exc:
        raise DockerConfigError(
            f"{where} is not valid JSON ({exc}); fix it or move it aside, then run this again"
        ) from None
    if not isinstance(document, JsonObject):
        raise DockerConfigError(
            f"{where} holds {json_roundtrip.kind(document)}, not a JSON object; fix it or move it "
            "aside, then run this again"
        )
    return document


# --- what the helper does to a config -------------------------------------------------------


def config_keys_for(server_text: str) -> list[str]:
    """The credHelpers keys under which clients will look `server_text` up.

    The server as typed, minus scheme, credentials, path and trailing slash (how Docker names a
    registry in an image reference: bare host[:port]); every Docker Hub alias gets both keys.
    """
    server = parse_server(server_text)
    if server.registry == DOCKER_HUB_KEY:
        return list(DOCKER_HUB_CONFIG_KEYS)
    text = server_text.strip()
    netloc = urlsplit(text if "://" in text else "//" + text).netloc.rpartition("@")[2]
    return [netloc or server.registry]


def _same_registry(config_key: str, server_key: str) -> bool:
    # Docker reads `auths` and `credHelpers` per host (a path in a config key is ignored).
    try:
        return parse_server(config_key).registry == server_key
    except HelperError:
        return False


class PlaintextLogin:
    """A username and secret written in plain text in an `auths` entry."""

    __slots__ = ("config_key", "secret", "username")

    def __init__(self, config_key: str, username: str, secret: str) -> None:
        self.config_key = config_key
        self.username = username
        self.secret = secret

    def __repr__(self) -> str:
        return f"PlaintextLogin(config_key={self.config_key!r}, username={self.username!r})"


class UnreadableLogin:
    """An `auths` entry with a secret that cannot be decoded (left as it is)."""

    __slots__ = ("config_key", "reason")

    def __init__(self, config_key: str, reason: str) -> None:
        self.config_key = config_key
        self.reason = reason


def _decode_auth(encoded: str) -> Optional[tuple[str, str]]:
    """(username, password) from an `auth` field (base64 of `user:password`), or None."""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep:
        return None
    return username, password


class DockerConfig:
    """One config.json as read: its path, text (None if missing) and editable document."""

    def __init__(self, path: str, text: Optional[str], document: JsonObject) -> None:
        self.path = path
        self.text = text
        self.document = document

    @classmethod
    def load(cls, config_dir: str) -> DockerConfig:
        """Read `config_dir/config.json` (a missing file is an empty config)."""
        return cls.load_file(os.path.join(config_dir, CONFIG_FILE))

    @classmethod
    def load_file(cls, path: str, what: str = "Docker config") -> DockerConfig:
        """Read a file in config.json's format at `path` (podman's auth.json is one); `what`
        names it in errors."""
        text = _read(path, what)
        if text is None or not text.strip():
            return cls(path, text, JsonObject())
        return cls(path, text, parse_document(text, f"{what} {path}"))

    # -- credHelpers -----------------------------------------------------------------------

    def _cred_helpers(self) -> JsonObject:
        return _child_object(self.document, "credHelpers", f"Docker config {self.path}")

    def cred_helpers(self) -> dict[str, str]:
        """credHelpers as a plain mapping (entries that are not strings left out)."""
        found = self.document.get("credHelpers")
        if not isinstance(found, JsonObject):
            return {}
        return {
            key: string_value(found.get(key))
            for key in found.names()
            if string_value(found.get(key))
        }

    def helpers_for(self, server_key: str) -> dict[str, str]:
        """credHelpers entries (config key -> helper) that name the registry `server_key`."""
        return {
            key: helper
            for key, helper in self.cred_helpers().items()
            if _same_registry(key, server_key)
        }

    def routed(self, server_key: Optional[str] = None, helper: str = HELPER_NAME) -> list[str]:
        """The credHelpers keys routed to `helper` (only those naming `server_key`, if given)."""
        return [
            key
            for key, value in self.cred_helpers().items()
            if value == helper and (server_key is None or _same_registry(key, server_key))
        ]

    def route(self, config_keys: Sequence[str], helper: str = HELPER_NAME) -> dict[str, str]:
        """Point credHelpers[key] at `helper` for each key; the other helpers they named."""
        helpers = self._cred_helpers()
        replaced: dict[str, str] = {}
        for key in config_keys:
            previous = string_value(helpers.get(key))
            if previous and previous != helper:
                replaced[key] = previous
            if previous != helper:
                helpers.set(key, Scalar.of(helper))
        return replaced

    def unroute(self, server_key: str, helper: str = HELPER_NAME) -> list[str]:
        """Drop the credHelpers entries that send `server_key` to `helper`; the keys dropped."""
        found = self.document.get("credHelpers")
        if not isinstance(found, JsonObject):
            return []
        dropped = [
            key
            for key in found.names()
            if string_value(found.get(key)) == helper and _same_registry(key, server_key)
        ]
        for key in dropped:
            found.delete(key)
        return dropped

    # -- auths ------------------------------------------------------------------------------

    def _auths(self) -> Optional[JsonObject]:
        found = self.document.get("auths")
        return found if isinstance(found, JsonObject) else None

    def auth_keys_for(self, server_key: str) -> list[str]:
        """The `auths` keys that name the registry `server_key` (any spelling Docker accepts)."""
        auths = self._auths()
        if auths is None:
            return []
        return [key for key in auths.names() if _same_registry(key, server_key)]

    def strip_secrets(self, server_key: str) -> list[str]:
        """Remove the secret fields of every `auths` entry for `server_key`; the keys changed.

        A key written twice keeps a secret in each copy: every copy is stripped, not only the
        last one (the one decoders read).
        """
        auths = self._auths()
        if auths is None:
            return []
        changed: list[str] = []
        for key in self.auth_keys_for(server_key):
            removed = [
                field
                for entry in auths.every(key)
                if isinstance(entry, JsonObject)
                for field in SECRET_FIELDS
                if entry.delete(field)
            ]
            if removed:
                changed.append(key)
        return changed

    def drop_empty_auths(self, server_key: str) -> list[str]:
        """Remove the `auths` entries for `server_key` that hold nothing (`{}`, every copy)."""
        auths = self._auths()
        if auths is None:
            return []
        dropped: list[str] = []
        for key in self.auth_keys_for(server_key):
            copies = auths.every(key)
            if all(isinstance(entry, JsonObject) and not entry.members for entry in copies):
                auths.delete(key)
                dropped.append(key)
        return dropped

    def plaintext_logins(self) -> list[Union[PlaintextLogin, UnreadableLogin]]:
        """Every `auths` entry with a secret in it, decoded like Docker decodes it."""
        auths = self._auths()
        if auths is None:
            return []
        found: list[Union[PlaintextLogin, UnreadableLogin]] = []
        for key in auths.names():
            entry = auths.get(key)
            if not isinstance(entry, JsonObject):
                continue
            username, password = (
                string_value(entry.get("username")),
                string_value(entry.get("password")),
            )
            encoded = string_value(entry.get("auth"))
            if encoded:
                decoded = _decode_auth(encoded)
                if decoded is None:
                    found.append(
                        UnreadableLogin(key, "its `auth` field is not base64 user:password")
                    )
                    continue
                username, password = decoded
            token = string_value(entry.get("identitytoken"))
            fields = (("identitytoken", token), ("username", username), ("password", password))
            broken = next((name for name, value in fields if not is_valid_unicode(value)), None)
            if broken:  # no keyring can keep it, and its encoder's error would quote it
                found.append(UnreadableLogin(key, f"its `{broken}` field is not valid Unicode"))
            elif token:
                found.append(PlaintextLogin(key, IDENTITY_TOKEN_USERNAME, token))
            elif username and password:
                found.append(PlaintextLogin(key, username, password))
        return found

    # -- writing ----------------------------------------------------------------------------

    def render(self) -> str:
        return json_roundtrip.render(self.document, json_roundtrip.detect_indent(self.text or ""))

    def changed(self) -> bool:
        """Whether the document differs from the file as read (ignoring whitespace)."""
        if self.text is None or not self.text.strip():
            return bool(self.document.members)
        return json_roundtrip.tokens(self.render()) != json_roundtrip.tokens(self.text)

    def save(self) -> None:
        """Write the document back atomically, keeping the file's mode (0600 if new)."""
        write_config(self.path, self.render())


def _read(path: str, what: str = "Docker config") -> Optional[str]:
    try:  # never blocks: a FIFO or device in the file's place is refused in one line
        data = fileio.read_regular(path)
    except HelperError as exc:
        raise DockerConfigError(f"{what}: {exc.message}") from None
    if data is None:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DockerConfigError(
            f"{what} {path} is not UTF-8 text; fix it or move it aside"
        ) from None


def _resolve(path: str) -> str:
    """The file a (possibly dangling) symlink at `path` leads to, as Docker's Save does."""
    if os.path.islink(path):
        return os.path.realpath(path)
    return path


def write_config(path: str, text: str) -> None:
    """Replace the config file with `text` atomically, keeping its mode and owner."""
    target = _resolve(path)
    directory = os.path.dirname(target) or "."
    try:
        os.makedirs(directory, mode=NEW_DIR_MODE, exist_ok=True)
    except OSError as exc:
        raise DockerConfigError(
            f"cannot create the Docker config directory {directory}: {exc.strerror}"
        ) from None
    try:
        info: Optional[os.stat_result] = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise DockerConfigError(f"cannot read Docker config {target}: {exc.strerror}") from None
    mode = stat.S_IMODE(info.st_mode) if info is not None else NEW_FILE_MODE
    try:
        file_writes.atomic_write(target, text, mode)
    except HelperError as exc:
        raise DockerConfigError(exc.message) from None
    if info is not None and (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
        with contextlib.suppress(OSError):  # only root may give a file away; best effort
            os.chown(target, info.st_uid, info.st_gid)


T = TypeVar("T")


def lock_path_for(path: str) -> str:
    """The lock that serializes our updates of the config file at `path`.

    Hidden beside the file a symlink leads to, so every name of one file shares one lock and
    nothing that reads the directory (Docker, skopeo) mistakes it for a config.
    """
    directory, name = os.path.split(_resolve(path))
    return os.path.join(directory, f".{name}.lock")


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """Hold the update lock of the config file at `path` (its directory created if missing)."""
    lock_path = lock_path_for(path)
    try:
        os.makedirs(os.path.dirname(lock_path) or ".", mode=NEW_DIR_MODE, exist_ok=True)
    except OSError as exc:
        raise DockerConfigError(
            f"cannot create the Docker config directory {os.path.dirname(lock_path)}: "
            f"{exc.strerror}"
        ) from None
    try:
        with file_writes.exclusive_lock(lock_path, LOCK_TIMEOUT):
            yield
    except StateError as exc:
        raise DockerConfigError(f"{exc.message}; check the Docker config directory") from None


def update(config_dir: str, change: Callable[[DockerConfig], T]) -> T:
    """Load, apply `change`, write if anything changed; redo it if the file moved meanwhile.

    Our own writers (parallel `registries add` from scripts and CI) take a lock beside the file,
    so each re-reads what the one before it wrote. Docker rewrites config.json without any lock:
    re-reading just before the rename and re-applying `change` to a file that changed keeps a
    concurrent `docker login` from being lost too.
    """
    return update_file(os.path.join(config_dir, CONFIG_FILE), change)


def update_file(path: str, change: Callable[[DockerConfig], T], what: str = "Docker config") -> T:
    """`update` of a file in config.json's format at `path` (podman's auth.json is one)."""
    config = DockerConfig.load_file(path, what)
    result = change(config)
    if not config.changed():  # nothing to write: no lock, no directory created
        return result
    with _locked(path):
        for _ in range(UPDATE_ATTEMPTS):
            config = DockerConfig.load_file(path, what)
            result = change(config)
            if not config.changed():
                return result
            if _read(config.path, what) != config.text:
                continue
            config.save()
            return result
    raise DockerConfigError(
        f"{what} {path} kept changing while it was being updated; run this again"
    )
