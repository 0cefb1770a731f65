"""podman, skopeo and buildah: the files they take credentials from, and wiring them to the helper.

What Debian 12's podman 4.3.1, skopeo 1.9.3 and buildah 1.28.2 (containers/image 5.23) do,
observed with the real binaries, rootless and as root, DOCKER_CONFIG and REGISTRY_AUTH_FILE unset:

- They ask the credential helpers of registries.conf's `credential-helpers` in turn (default
  `["containers-auth.json"]`: the auth files below). The last file that sets it wins, read in this
  order: $CONTAINERS_REGISTRIES_CONF, else ~/.config/containers/registries.conf if it exists, else
  /etc/containers/registries.conf; then /etc/containers/registries.conf.d/*.conf (skipped when the
  user's registries.conf exists); then ~/.config/containers/registries.conf.d/*.conf. (~ is HOME;
  XDG_CONFIG_HOME plays no part here.)
- The auth files, the first with an entry for the registry answering: the primary one
  ($REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json when DOCKER_CONFIG is set, else
  $XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/UID/auth.json), then
  $XDG_CONFIG_HOME/containers/auth.json, then ~/.docker/config.json. A `credHelpers` entry in any
  of them is followed when reading.
- `login` stores with the first of `credential-helpers` that succeeds; for the auth files, only
  in the primary one: through a helper if THAT file has a `credHelpers` entry for the registry,
  else as `{"auth": base64(user:password)}`. The primary file is in the runtime directory, which
  is emptied at boot, so a `credHelpers` entry there would not last.

So the wiring that lasts is a drop-in of ours in ~/.config/containers/registries.conf.d that puts
`convox` first in `credential-helpers`: every `login` stores through the helper, and every pull
asks it first (a registry it does not hold costs one `get` answering not found, then the tools go
on to their auth files). Docker's config.json is docker_config's; this module handles the other
auth files (their plaintext entries and `credHelpers` entries naming us) and the drop-in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Optional

from docker_credential_convox import APP, file_writes, fileio
from docker_credential_convox.errors import HelperError
from docker_credential_convox.registries import docker_config

HELPER_NAME = docker_config.HELPER_NAME
AUTH_FILES = "containers-auth.json"  # the reserved name for "the auth files" in the list
DEFAULT_HELPERS = (AUTH_FILES,)
AUTH_FILE_WHAT = "containers auth file"
SYSTEM_CONF = "/etc/containers/registries.conf"
SYSTEM_DROP_INS = "/etc/containers/registries.conf.d"
USER_DIR = os.path.join(".config", "containers")  # under HOME
DROP_IN_NAME = "docker-credential-convox.conf"
DROP_IN_MODE = 0o644  # a setting, no secret: as readable as the other drop-ins
DROP_IN_HEADER = """\
# Written by `docker-credential-convox registries add`: podman, skopeo and buildah ask
# docker-credential-convox first, so their `login` stores through it instead of writing the
# password into $XDG_RUNTIME_DIR/containers/auth.json. `registries remove` of the last registry
# deletes this file. See containers-registries.conf(5), credential-helpers.
"""
# The one key this module reads from registries.conf files, at top level (before any table):
# `credential-helpers = [ "a", 'b', ... ]`, possibly over several lines.
_TABLE = re.compile(r"^\s*\[", re.MULTILINE)
_HELPERS_KEY = re.compile(
    r"""^\s*(?:credential-helpers|"credential-helpers"|'credential-helpers')\s*=\s*\[(.*?)\]""",
    re.MULTILINE | re.DOTALL,
)
_STRING = re.compile(r""""((?:[^"\\]|\\.)*)"|'([^']*)'""")


def _home(environ: Mapping[str, str]) -> str:
    return environ.get("HOME") or os.path.expanduser("~")


def user_dir(environ: Mapping[str, str]) -> str:
    """~/.config/containers, where the user's registries.conf and its drop-ins live."""
    return os.path.join(_home(environ), USER_DIR)


def drop_in_path(environ: Mapping[str, str]) -> str:
    return os.path.join(user_dir(environ), "registries.conf.d", DROP_IN_NAME)


def runtime_auth_file(environ: Mapping[str, str]) -> str:
    """The primary auth file when REGISTRY_AUTH_FILE and DOCKER_CONFIG are unset."""
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "containers", "auth.json")
    return f"/run/containers/{os.getuid()}/auth.json"


def config_auth_file(environ: Mapping[str, str]) -> str:
    """$XDG_CONFIG_HOME/containers/auth.json (~/.config/...), read after the primary one."""
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(_home(environ), ".config")
    return os.path.join(base, "containers", "auth.json")


def auth_files(environ: Mapping[str, str], docker_config: str) -> list[str]:
    """The auth files podman, skopeo and buildah read besides Docker's `docker_config`."""
    candidates = [
        environ.get("REGISTRY_AUTH_FILE") or "",
        runtime_auth_file(environ),
        config_auth_file(environ),
    ]
    seen = {os.path.realpath(docker_config)}
    found = []
    for path in candidates:
        if path and os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            found.append(path)
    return found


# --- registries.conf: credential-helpers ------------------------------------------------------


def helpers_in(text: str) -> Optional[list[str]]:
    """The `credential-helpers` a registries.conf text sets, or None if it sets none."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    top = _TABLE.split("\n".join(lines), maxsplit=1)[0]
    found = _HELPERS_KEY.findall(top)
    if not found:
        return None
    return [double or single for double, single in _STRING.findall(found[-1])]


def conf_files(environ: Mapping[str, str]) -> list[str]:
    """Every registries.conf file the tools read, in the order they read them."""
    users = user_dir(environ)
    user_conf = os.path.join(users, "registries.conf")
    explicit = environ.get("CONTAINERS_REGISTRIES_CONF")
    files = [explicit or (user_conf if os.path.exists(user_conf) else SYSTEM_CONF)]
    directories = [os.path.join(users, "registries.conf.d")]
    if explicit or not os.path.exists(user_conf):
        directories.insert(0, SYSTEM_DROP_INS)
    for directory in directories:
        try:
            names = sorted(name for name in os.listdir(directory) if name.endswith(".conf"))
        except OSError:
            continue
        files.extend(os.path.join(directory, name) for name in names)
    return files


def effective_helpers(
    environ: Mapping[str, str], skip: Optional[str] = None
) -> tuple[list[str], Optional[str]]:
    """The `credential-helpers` the tools use and the file that set it (None: the default);
    `skip` leaves one file out (our drop-in, to see what it replaces)."""
    helpers, origin = list(DEFAULT_HELPERS), None
    for path in conf_files(environ):
        if path == skip:
            continue
        try:
            text = fileio.read_text(path)
        except HelperError:
            continue
        found = helpers_in(text) if text is not None else None
        if found is not None:
            helpers, origin = found, path
    return helpers, origin


def _drop_in_text(rest: Sequence[str]) -> str:
    names = ", ".join(f'"{name}"' for name in [HELPER_NAME, *rest])
    return f"{DROP_IN_HEADER}credential-helpers = [{names}]\n"


def wire(environ: Mapping[str, str]) -> list[str]:
    """Put `convox` first in the tools' credential-helpers with our drop-in; notes to show."""
    path = drop_in_path(environ)
    before, _ = effective_helpers(environ, skip=path)
    text = _drop_in_text([name for name in before if name != HELPER_NAME])
    if fileio.read_text(path) != text:
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        except OSError as exc:
            raise HelperError(f"cannot create {os.path.dirname(path)}: {exc.strerror}") from None
        file_writes.atomic_write(path, text, DROP_IN_MODE)
    helpers, origin = effective_helpers(environ)
    if helpers[:1] != [HELPER_NAME] and origin is not None:
        return [
            f"note: {origin} sets credential-helpers after {path}, so podman, skopeo and "
            f'buildah do not ask {HELPER_NAME} first; put "{HELPER_NAME}" first there'
        ]
    return []


def unwire(environ: Mapping[str, str]) -> bool:
    """Delete our drop-in; whether there was one."""
    try:
        os.unlink(drop_in_path(environ))
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise HelperError(f"cannot delete {drop_in_path(environ)}: {exc.strerror}") from None
    return True


# --- the auth files ---------------------------------------------------------------------------


def load(path: str) -> docker_config.DockerConfig:
    return docker_config.DockerConfig.load_file(path, AUTH_FILE_WHAT)


def strip_secrets(paths: Sequence[str], server_key: str) -> list[tuple[str, str]]:
    """Remove every plaintext secret for `server_key` from the auth files: (path, key) each."""
    stripped: list[tuple[str, str]] = []
    for path in paths:
        if not os.path.exists(path):
            continue
        keys = docker_config.update_file(
            path, lambda config: config.strip_secrets(server_key), AUTH_FILE_WHAT
        )
        stripped.extend((path, key) for key in keys)
    return stripped


def unroute(paths: Sequence[str], server_key: str) -> None:
    """Drop the `credHelpers` entries naming us for `server_key` (and its empty `auths`)."""

    def change(config: docker_config.DockerConfig) -> None:
        if config.unroute(server_key):
            config.drop_empty_auths(server_key)

    for path in paths:
        if os.path.exists(path):
            docker_config.update_file(path, change, AUTH_FILE_WHAT)


def plaintext_keys(paths: Sequence[str], server_key: str) -> list[tuple[str, str]]:
    """(path, key) of every auth-file entry with a secret for `server_key`; unreadable files
    are skipped (the tools fail on them with their own message)."""
    found: list[tuple[str, str]] = []
    for path in paths:
        try:
            config = load(path)
        except HelperError:
            continue
        keys = set(config.auth_keys_for(server_key))
        found.extend(
            (path, login.config_key)
            for login in config.plaintext_logins()
            if login.config_key in keys
        )
    return found


# --- what add, import and remove do -----------------------------------------------------------


def wire_registry(environ: Mapping[str, str], docker_config: str, server_key: str) -> list[str]:
    """Route the tools to the helper and drop their plaintext copies of `server_key`'s secret;
    the notes to show."""
    notes = [
        f"Removed the plaintext password for {key} from {path}."
        for path, key in strip_secrets(auth_files(environ, docker_config), server_key)
    ]
    return notes + wire(environ)


def unwire_registry(
    environ: Mapping[str, str], docker_config: str, server_key: str, last: bool
) -> None:
    """Drop the auth files' `credHelpers` entries naming us for `server_key`; with the `last`
    registry gone, our drop-in too."""
    unroute(auth_files(environ, docker_config), server_key)
    if last:
        unwire(environ)


# --- doctor -----------------------------------------------------------------------------------

OK, NOTE, PROBLEM = "ok", "note", "problem"
Check = tuple[str, str, Optional[str]]  # status, text, fix


def primary_auth_file(environ: Mapping[str, str], docker_config: str) -> str:
    """The auth file the tools' `login` writes: $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json
    when DOCKER_CONFIG is set, else the runtime one."""
    if environ.get("REGISTRY_AUTH_FILE"):
        return environ["REGISTRY_AUTH_FILE"]
    return docker_config if environ.get("DOCKER_CONFIG") else runtime_auth_file(environ)


def _spelled(helpers: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{name}"' for name in helpers) + "]"


def check(
    environ: Mapping[str, str],
    docker_config: str,
    server_key: str,
    add_command: str,
    *,
    held: bool,
    routed: bool,
) -> list[Check]:
    """doctor's lines for the containers tools: plaintext entries for the registry in their
    auth files, and whether their login reaches the helper. Missing wiring is a problem only for
    a registry the helper holds (`held`) or Docker's config.json routes to it (`routed`)."""
    checks: list[Check] = [
        (
            PROBLEM,
            f"{path} holds a plaintext password for {key} (podman, skopeo and buildah read it)",
            f"run `{APP} registries import`, which moves it into the helper",
        )
        for path, key in plaintext_keys(auth_files(environ, docker_config), server_key)
    ]
    helpers, origin = effective_helpers(environ)
    where = f"credential-helpers in {origin}" if origin else "the default credential-helpers"
    primary = primary_auth_file(environ, docker_config)
    if helpers[:1] == [HELPER_NAME]:
        text = f"podman, skopeo and buildah ask docker-credential-{HELPER_NAME} first ({where})"
        checks.append((OK, text, None))
    elif routed and primary == docker_config:
        text = (
            f"podman, skopeo and buildah use {primary} as their auth file (DOCKER_CONFIG is set), "
            f"and its credHelpers send {server_key} to docker-credential-{HELPER_NAME}"
        )
        checks.append((OK, text, None))
    else:
        text = (
            f"podman, skopeo and buildah use {where}, {_spelled(helpers)}, without "
            f"{HELPER_NAME} first: their login writes the password into {primary}"
        )
        if origin is not None and origin != drop_in_path(environ):
            fix = f'put "{HELPER_NAME}" first in credential-helpers in {origin}'
        else:
            fix = f"run `{add_command}`"
        checks.append((PROBLEM, text, fix) if held or routed else (NOTE, text, None))
    return checks
