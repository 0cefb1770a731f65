"""`pass` (gpg-encrypted files) as a secret store, in docker-credential-pass's own layout.

Selected by DOCKER_CREDENTIAL_CONVOX_SECRET_STORE=pass (or "secret_store": "pass" in config.json)
for machines without a Secret Service. The layout is docker-credential-pass's (pass/pass.go):
in the store ($PASSWORD_STORE_DIR, else ~/.password-store), the folder
`docker-credential-helpers`, one directory per server URL named by its base64url encoding
(padded, as Go's base64.URLEncoding), one entry per username, the secret as the entry's
content. So an entry either helper writes is read by the other.

How the two helpers' entries meet:
- A directory is read as the registry key its decoded URL parses to, so an entry the Go helper
  filed under `https://host/` answers `host` too. Ours files under one spelling per key: the key
  itself (the bare `host[:port][/path]` Docker sends), Docker Hub under `https://index.docker.io/v1/`.
- One login per registry, as the Go helper reads it (the first username in the directory): once
  a store has written the index, `keep_only` removes every other username and spelling of the key.
- `pass` itself is run for every write and read of a secret (`insert -m -f`, the secret on
  stdin; `show`; `rm -f`), bounded by PASS_TIMEOUT; which entries exist is read from the
  directories, as the Go helper does (`pass ls` prints a decorated tree).
- The store can enumerate (`logins`): the router reads the logins outside the registry index as
  stored logins, and index entries with no login left in it as none (stores/pass_index.py), so
  `get` and `list` answer what docker-credential-pass stored and erased.
"""

from __future__ import annotations

import binascii
import os

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.errors import HelperError, StoreUnavailable, one_line
from docker_credential_convox.server_keys import DOCKER_HUB_KEY, OPAQUE_PREFIX, parse_key
from docker_credential_convox.stores import StoreNotAnswering

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Optional

    from docker_credential_convox.settings import Settings

PASS_FOLDER = "docker-credential-helpers"  # noqa: S105 - docker-credential-pass's folder
SUFFIX = ".gpg"
HUB_URL = "https://index.docker.io/v1/"  # how Docker names Docker Hub to a helper
# A call decrypts or encrypts one small file (tens of milliseconds; a second when gpg-agent
# starts); past this gpg waits for something that will not come (a pinentry nobody answers).
PASS_TIMEOUT = 60.0
MESSAGE_LIMIT = 300
# A store retries an insert whose directory a concurrent `pass rm` removed (see put).
INSERT_ATTEMPTS = 3
NOT_INITIALIZED = "pass init"  # what pass's own error says to run
GPG_ID = ".gpg-id"  # the file `pass init` writes: the keys a folder's secrets are encrypted to


def encode(server_url: str) -> str:
    """The directory name of a server URL: base64url with padding (Go's URLEncoding)."""
    text = binascii.b2a_base64(server_url.encode("utf-8"), newline=False).decode("ascii")
    return text.replace("+", "-").replace("/", "_")


def decode(name: str) -> Optional[str]:
    """The server URL a directory name encodes, or None if it encodes none."""
    try:
        raw = binascii.a2b_base64(name.replace("-", "+").replace("_", "/").encode("ascii"))
        return raw.decode("utf-8")
    except (ValueError, UnicodeError):
        return None


def url_for(key: str) -> str:
    """The server URL ours files a registry key under: the spelling Docker sends (an opaque
    key's text as sent)."""
    if key == DOCKER_HUB_KEY:
        return HUB_URL
    if key.startswith(DOCKER_HUB_KEY + "/"):
        return HUB_URL + key[len(DOCKER_HUB_KEY) + 1 :]
    return key.removeprefix(OPAQUE_PREFIX)


def key_of(server_url: str) -> str:
    """The registry key of a server URL found in the store (an opaque key if it parses not,
    as the protocol keys it)."""
    try:
        return parse_key(server_url).key
    except HelperError:  # blank: no request can name it
        return server_url


class Login:
    """One directory of the folder: its name, the URL it encodes, its usernames (sorted)."""

    __slots__ = ("directory", "server_url", "usernames")

    def __init__(self, directory: str, server_url: str, usernames: list[str]) -> None:
        self.directory = directory
        self.server_url = server_url
        self.usernames = usernames


class PassStore:
    """Secrets by (registry key, username) in `pass`, as docker-credential-pass keeps them."""

    name = "the pass store"
    can_enumerate = True

    def __init__(
        self, directory: str, environ: Mapping[str, str], timeout: float = PASS_TIMEOUT
    ) -> None:
        self.directory = directory
        # pass and gpg read their own settings (GNUPGHOME, PASSWORD_STORE_*): pass them all on,
        # with the store named explicitly so pass and our directory reads agree.
        self._environ = {**environ, "PASSWORD_STORE_DIR": directory}
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> PassStore:
        """The store the environment names (nothing is run until a secret is needed)."""
        return cls(settings.password_store_dir, settings.environ, PASS_TIMEOUT)

    # -- the folder, read as docker-credential-pass reads it -------------------------------

    @property
    def folder(self) -> str:
        return os.path.join(self.directory, PASS_FOLDER)

    def logins(self) -> dict[str, list[Login]]:
        """Registry key -> its directories in the folder, ours (the key's spelling) first; the
        first username of the first is the login docker-credential-pass answers."""
        try:
            names = sorted(os.listdir(self.folder))
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot read the pass store's folder {self.folder}: "
                f"{exc.strerror or type(exc).__name__}; check its permissions"
            ) from None
        found: dict[str, list[Login]] = {}
        for name in names:
            server_url = decode(name)
            if server_url is None:
                continue
            try:
                entries = os.listdir(os.path.join(self.folder, name))
            except OSError:  # not a directory, or unreadable: not an entry
                continue
            usernames = sorted(entry[: -len(SUFFIX)] for entry in entries if entry.endswith(SUFFIX))
            if usernames:
                key = key_of(server_url)
                found.setdefault(key, []).append(Login(name, server_url, usernames))
        for key, logins in found.items():
            ours = encode(url_for(key))
            logins.sort(key=lambda login: login.directory != ours)
        return found

    # -- running pass ------------------------------------------------------------------------

    def _run(self, what: str, args: list[str], stdin: str = "", secret: str = "") -> str:
        """`pass ARGS` with `stdin`, bounded; its stdout. Errors name the cause, never `secret`."""
        code, out, err = self._call(what, args, stdin)
        if code != 0:
            self._raise(what, err, secret)
        return out

    def _call(self, what: str, args: list[str], stdin: str) -> tuple[int, str, str]:
        """`pass ARGS` with `stdin`, bounded: its exit code, stdout and stderr."""
        import signal
        import subprocess

        try:
            process = subprocess.Popen(
                ["pass", *args],  # noqa: S607 - found on PATH, as docker-credential-pass does
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._environ,
                start_new_session=True,  # so a timeout ends gpg too, not only pass's shell
            )
        except FileNotFoundError:
            raise StoreUnavailable(
                "the pass store needs the `pass` program, which is not installed: install it "
                "(apt-get install pass) or unset DOCKER_CREDENTIAL_CONVOX_SECRET_STORE"
            ) from None
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot run pass: {exc.strerror or type(exc).__name__}"
            ) from None
        try:
            out, err = process.communicate(stdin.encode("utf-8"), timeout=self._timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                process.kill()
            process.communicate()
            raise StoreNotAnswering(
                f"pass did not {what} within {self._timeout:g} s (gpg may be waiting for a "
                "passphrase nobody can type here): use a gpg key gpg-agent can unlock without "
                "a prompt, or unlock it first (`pass show` once in a terminal)"
            ) from None
        return process.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def _raise(self, what: str, stderr: str, secret: str) -> None:
        detail = one_line(stderr.replace("Error:", ""), MESSAGE_LIMIT, [secret])
        if NOT_INITIALIZED in stderr or "password store is empty" in stderr:
            raise StoreUnavailable(
                f"the pass store {self.directory} is not initialized: run `pass init GPG-ID` "
                "with the ID of your gpg key (`gpg --quick-gen-key` makes one), then try again"
            )
        if "decryption failed" in stderr:
            detail += (
                " (if the key has a passphrase, gpg cannot ask for it here: unlock the key in"
                " gpg-agent first, `pass show` in a terminal, or use a key without one)"
            )
        raise StoreUnavailable(
            f"pass failed to {what} in {self.directory}: {detail or 'no reason given'}"
        )

    def _check_initialized(self, directory: str) -> None:
        """Refuse to write before `pass init`: pass would first make the entry's directories,
        and docker-credential-pass 0.6.4's `list` fails on an empty one."""
        # pass reads the .gpg-id nearest the entry: its directory, the folder, the store.
        for path in (os.path.join(self.folder, directory), self.folder, self.directory):
            if os.path.exists(os.path.join(path, GPG_ID)):
                return
        self._raise("store a secret", NOT_INITIALIZED, "")

    @staticmethod
    def _check_username(username: str) -> None:
        # The username is a file name in the store (as docker-credential-pass files it).
        if not username or "/" in username or username in (".", "..") or "\0" in username:
            raise StoreUnavailable(
                f"the pass store cannot file a secret under the username {username!r} (it "
                "becomes a file name): use a username without `/`, or the OS keyring"
            )

    def _entry(self, directory: str, username: str) -> str:
        return f"{PASS_FOLDER}/{directory}/{username}"

    def _remove(self, directory: str, username: str) -> None:
        # `rm -f`: a file alone (pass also removes the directories it leaves empty).
        self._run("delete a secret", ["rm", "-f", self._entry(directory, username)])

    # -- the SecretStore interface -----------------------------------------------------------

    def put(self, key: str, username: str, secret: str) -> None:
        """File `secret` under (key, username), in the spelling ours files the key under."""
        self._check_username(username)
        ours = encode(url_for(key))
        self._check_initialized(ours)
        args = ["insert", "--multiline", "--force", self._entry(ours, username)]
        for _ in range(INSERT_ATTEMPTS):
            code, _out, err = self._call("store a secret", args, secret)
            if code == 0:
                return
            # `pass rm` of another registry's last login (ours or docker-credential-pass's)
            # removes the folder it leaves empty (`rmdir -p`), maybe between this insert's
            # `mkdir -p` and its write: the entry's directory is gone then, and a retry works.
            if os.path.isdir(os.path.join(self.folder, ours)):
                break
        import contextlib

        with contextlib.suppress(OSError):  # pass made it before gpg failed: leave none empty
            os.rmdir(os.path.join(self.folder, ours))
        self._raise("store a secret", err, secret)

    def keep_only(self, key: str, username: str) -> None:
        """Remove every login of `key` but ours for `username` (other usernames, other
        spellings), so docker-credential-pass, which reads the first username it finds, reads
        that one. Run once the index names it: a store killed before then keeps the old login."""
        ours = encode(url_for(key))
        for login in self.logins().get(key, []):
            for other in login.usernames:
                if (login.directory, other) != (ours, username):
                    self._remove(login.directory, other)

    def get(self, key: str, username: str) -> Optional[str]:
        """The secret filed under (key, username), or None."""
        for login in self.logins().get(key, []):
            if username in login.usernames:
                code, shown, err = self._call(
                    "read a secret", ["show", self._entry(login.directory, username)], ""
                )
                if code == 0:
                    # As docker-credential-pass: pass 1.7.1+ ends `show` with a newline.
                    return shown.rstrip("\r\n")
                path = os.path.join(self.folder, login.directory, username + SUFFIX)
                if os.path.exists(path):
                    self._raise("read a secret", err, "")
                # Erased since the folder was read: as if it had never been there.
        return None

    def delete(self, key: str, username: str) -> None:
        """Remove the secret under (key, username), under every spelling of the key."""
        for login in self.logins().get(key, []):
            if username in login.usernames:
                self._remove(login.directory, username)

    def find_username(self, key: str) -> Optional[str]:
        """The username docker-credential-pass would answer for `key`, or None."""
        found = self.logins().get(key)
        return found[0].usernames[0] if found else None

    def location(self, key: str) -> str:
        """Where the secrets of `key` live, in words."""
        return f"the pass store, {self.folder}/{encode(url_for(key))}"

    def describe(self) -> str:
        """The store in use, for `doctor`."""
        return f"pass ({self.directory})"
