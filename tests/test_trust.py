"""Files another local user could have written are never trusted (issue 17, items 1 to 3).

A second, unprivileged user (`dccx-attacker`, a system user created once per session) plants
files where a setting points the helper: a runtime directory anyone may write, a cache directory
that user owns. The helper must not serve what was planted, must say so in one warning line and
must still answer correctly (asking AWS, storing in the real keyring). It also keeps its own
private subdirectory in a sticky directory like /tmp, never follows a link in place of one of its
files, and refuses its own file once others may write it. The suite runs as root in CI (root
must refuse other users' files too); without root or useradd the tests skip and say why.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess
from typing import TYPE_CHECKING

import pytest
from support import NOT_FOUND, keyring_usernames, run_helper_in
from support.ecr import GET_TOKEN, MOTO_PASSWORD_PREFIX, cache_file, get, store
from support.registries import get_credentials
from support.shared import RUNTIME_DIR, share

if TYPE_CHECKING:
    from support.aws_emulator import AwsProxy

pytest_plugins = ["support.aws_emulator", "support.shared"]

ATTACKER = "dccx-attacker"
APP = "docker-credential-convox"
SERVER = "trust.example.com:5000"
PASSWORD = "shared-pw-7d2e1b"
PLANTED_USER = "ATTACKER"
PLANTED_SECRET = "planted-by-another-user"
CACHE_DIR = "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR"
ZIPAPP_CACHE_DIR = "DOCKER_CREDENTIAL_CONVOX_ZIPAPP_CACHE_DIR"
ECR_LOGIN_CACHE_DIR = "AWS_ECR_CACHE_DIR"
CONFIG_DIR = "DOCKER_CREDENTIAL_CONVOX_CONFIG_DIR"
NULL_KEYRING = "keyring.backends.null.Keyring"


class Attacker:
    """Another local user: runs commands with its own uid and gid and no supplementary group."""

    def __init__(self, uid: int, gid: int) -> None:
        self.uid = uid
        self.gid = gid

    def run(self, *argv: str, stdin: bytes = b"") -> None:
        command = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"]
        result = subprocess.run(
            [*command, "--", *argv], input=stdin, capture_output=True, check=False
        )
        assert result.returncode == 0, result

    def mkdir(self, path: Path) -> None:
        """A directory this user owns (made for it where it may not write: the test's own)."""
        path.mkdir(mode=0o755)
        os.chown(path, self.uid, self.gid)

    def plant(self, path: Path, data: bytes) -> None:
        """Write `path` as this user (its directory made if missing), as an attack would."""
        script = 'mkdir -p "$(dirname "$1")" && cat > "$1"'
        self.run("sh", "-c", script, "sh", str(path), stdin=data)
        assert path.stat().st_uid == self.uid


@pytest.fixture(scope="session")
def attacker() -> Attacker:
    """The second user, created once (kept: a system user without home or shell)."""
    if os.geteuid() != 0:
        pytest.skip("planting files as another user needs root to create one (CI runs as root)")
    for tool in ("useradd", "setpriv"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed: cannot act as a second local user")
    for _ in range(20):  # scripts/test-artifacts.sh runs two suites at once: both may add it
        try:
            entry = pwd.getpwnam(ATTACKER)
            break
        except KeyError:
            pass
        made = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ATTACKER],
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode != 0 and "already exists" not in made.stderr:
            if "lock" not in made.stderr:  # "cannot lock /etc/passwd": the other one is at it
                pytest.skip(f"cannot create the user {ATTACKER}: {made.stderr.strip()}")
            time.sleep(0.5)
    else:
        pytest.skip(f"cannot create the user {ATTACKER}: /etc/passwd stayed locked")
    assert entry.pw_uid != os.getuid()
    return Attacker(entry.pw_uid, entry.pw_gid)


@pytest.fixture(scope="session")
def open_root() -> Iterator[Path]:
    """A directory the second user can reach (pytest's tmp_path is private to root)."""
    root = Path(tempfile.mkdtemp(prefix="dccx-trust-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def open_dir(open_root: Path) -> Path:
    """This test's directory inside `open_root` (0755: the other user may look, not write)."""
    path = open_root / uuid.uuid4().hex[:12]
    path.mkdir(mode=0o755)
    path.chmod(0o755)  # whatever the umask
    return path


@pytest.fixture
def server() -> str:
    """A registry of this test's own (the Secret Service is shared by the session)."""
    return f"trust-{uuid.uuid4().hex[:10]}.example.com:5000"


def warnings_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"{APP}: warning:")]


def assert_one_warning_naming(stderr: str, path: Path) -> None:
    lines = warnings_of(stderr)
    assert len(lines) == 1, stderr
    assert str(path) in lines[0], stderr


# -- item 1: the per-machine cache of shared values -----------------------------------------------


def planted_shared_cache(runtime: Path) -> dict[str, bytes]:
    """The helper's own shared cache files under `runtime`, with the entry's username and
    password replaced by an attacker's (still fresh: only the value changes)."""
    planted: dict[str, bytes] = {}
    for path in sorted((runtime / "shared").glob("*.json")):
        document = json.loads(path.read_text())
        value = document.get("value")
        if isinstance(value, str) and '"Username"' in value:
            entry = json.loads(value)
            entry["Username"], entry["Secret"] = PLANTED_USER, PLANTED_SECRET
            document["value"] = json.dumps(entry)
        planted[f"shared/{path.name}"] = json.dumps(document).encode()
    assert any(PLANTED_USER.encode() in data for data in planted.values()), planted
    return planted


@pytest.mark.parametrize(
    "where",
    ["runtime dir 0777", "runtime dir of another user", "XDG_RUNTIME_DIR 0777"],
)
def test_a_shared_cache_entry_planted_by_another_user_is_not_served(
    machine: dict[str, str], attacker: Attacker, open_dir: Path, where: str
) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    assert get_credentials(machine, SERVER) is not None  # the helper's own cache, to copy
    files = planted_shared_cache(Path(machine[RUNTIME_DIR]))

    env = dict(machine)
    runtime = open_dir / "run"
    if where == "runtime dir of another user":
        attacker.mkdir(runtime)
        refused = runtime
    else:
        runtime.mkdir()
        runtime.chmod(0o777)  # not sticky: anyone may add, rename or replace entries
        refused = runtime
    if where.startswith("XDG_RUNTIME_DIR"):
        del env[RUNTIME_DIR]
        env["XDG_RUNTIME_DIR"] = str(runtime)
        refused = runtime / APP
        attacker.mkdir(refused)
        plant_in = refused
    else:
        env[RUNTIME_DIR] = str(runtime)
        plant_in = runtime
    for name, data in files.items():
        attacker.plant(plant_in / name, data)

    result = run_helper_in(env, "get", stdin=SERVER)

    assert result.returncode == 0, result
    assert json.loads(result.stdout) == {
        "ServerURL": SERVER,
        "Username": "fleet",
        "Secret": PASSWORD,
    }
    assert PLANTED_SECRET not in result.stdout + result.stderr
    assert_one_warning_naming(result.stderr, refused)


# -- item 2: the ECR token cache ------------------------------------------------------------------


@pytest.fixture
def host() -> str:
    """A registry account of this test's own (moto and the cache are shared by the session)."""
    return f"{10**11 + uuid.uuid4().int % (9 * 10**11)}.dkr.ecr.us-west-2.amazonaws.com"


def planted_tokens(env: dict[str, str], host: str) -> bytes:
    """The helper's own token cache after a `get` of `host`, every secret the attacker's."""
    assert get(env, host).returncode == 0
    document = json.loads(cache_file(env).read_text())
    for entry in document["tokens"].values():
        entry["secret"] = PLANTED_SECRET
    return json.dumps(document).encode()


def assert_minted(result: subprocess.CompletedProcess[str], host: str) -> None:
    assert result.returncode == 0, result
    reply = json.loads(result.stdout)
    assert reply["ServerURL"] == host
    assert reply["Secret"].startswith(MOTO_PASSWORD_PREFIX), reply
    assert PLANTED_SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variable", "owner"),
    [
        (ECR_LOGIN_CACHE_DIR, "another user"),
        (CACHE_DIR, "another user"),
        (CACHE_DIR, "us, mode 0777"),
    ],
)
def test_an_ecr_token_planted_in_the_cache_directory_is_not_served(
    *,
    ecr_env: dict[str, str],
    aws_proxy: AwsProxy,
    attacker: Attacker,
    open_dir: Path,
    host: str,
    variable: str,
    owner: str,
) -> None:
    data = planted_tokens(ecr_env, host)
    directory = open_dir / "cache"
    if owner == "another user":
        attacker.mkdir(directory)
    else:
        directory.mkdir()
        directory.chmod(0o777)
    attacker.plant(directory / "tokens.json", data)
    aws_proxy.reset()

    result = get({**ecr_env, variable: str(directory)}, host)

    assert_minted(result, host)
    assert aws_proxy.count(GET_TOKEN) == 1
    assert_one_warning_naming(result.stderr, directory)


# -- item 3: the keyring backend pin --------------------------------------------------------------


def test_a_planted_null_keyring_pin_is_ignored_and_store_really_stores(
    helper_env: dict[str, str], server: str, attacker: Attacker, open_dir: Path
) -> None:
    directory = open_dir / "cache"
    attacker.mkdir(directory)
    attacker.plant(directory / "keyring-backend", (NULL_KEYRING + "\n").encode())
    env = {**helper_env, CACHE_DIR: str(directory)}

    stored = store(env, server, "alice", "pw-of-alice-5e1")
    assert (stored.returncode, stored.stdout) == (0, ""), stored

    answer = run_helper_in(env, "get", stdin=server)
    assert answer.returncode == 0, answer  # the null backend would have kept nothing
    assert json.loads(answer.stdout)["Secret"] == "pw-of-alice-5e1"
    assert_one_warning_naming(stored.stderr, directory)
    assert (directory / "keyring-backend").read_text().strip() == NULL_KEYRING  # left alone


# -- the registry index (not a cache: refused in one line) ----------------------------------------


def test_a_registry_index_in_a_directory_others_may_write_is_refused_in_one_line(
    helper_env: dict[str, str], attacker: Attacker, open_dir: Path
) -> None:
    directory = open_dir / "config"
    directory.mkdir()
    directory.chmod(0o777)
    index = {
        "version": 1,
        "registries": {SERVER: {"ServerURL": SERVER, "Username": PLANTED_USER}},
    }
    attacker.plant(directory / "registries.json", json.dumps(index).encode())
    env = {**helper_env, CONFIG_DIR: str(directory)}

    for action, stdin in (("list", ""), ("get", SERVER)):
        result = run_helper_in(env, action, stdin=stdin)
        assert result.returncode == 1, result
        lines = result.stdout.splitlines()
        assert len(lines) == 1, result
        assert str(directory / "registries.json") in lines[0], result
        assert PLANTED_USER not in result.stdout, result
        assert "Traceback" not in result.stderr


# -- a sticky directory like /tmp: a private subdirectory of the helper's own --------------------


def test_a_sticky_world_writable_cache_dir_gets_a_private_subdirectory_and_caches(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, open_dir: Path, host: str
) -> None:
    sticky = open_dir / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    env = {**ecr_env, CACHE_DIR: str(sticky)}

    first, second = get(env, host), get(env, host)

    assert_minted(first, host)
    assert second.stdout == first.stdout
    assert aws_proxy.count(GET_TOKEN) == 1
    assert warnings_of(first.stderr + second.stderr) == []
    private = sticky / f"{APP}-{os.getuid()}"
    info = private.lstat()
    assert stat.S_ISDIR(info.st_mode)
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (os.getuid(), 0o700)
    assert stat.S_IMODE((private / "tokens.json").stat().st_mode) == 0o600
    assert not (sticky / "tokens.json").exists()


def test_a_private_subdirectory_squatted_by_another_user_is_refused(
    ecr_env: dict[str, str],
    aws_proxy: AwsProxy,
    attacker: Attacker,
    open_dir: Path,
    host: str,
) -> None:
    data = planted_tokens(ecr_env, host)
    sticky = open_dir / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    squatted = sticky / f"{APP}-{os.getuid()}"
    attacker.plant(squatted / "tokens.json", data)
    aws_proxy.reset()

    result = get({**ecr_env, CACHE_DIR: str(sticky)}, host)

    assert_minted(result, host)
    assert_one_warning_naming(result.stderr, squatted)


# -- links and loose modes in the helper's own directory ------------------------------------------


def test_a_link_in_place_of_the_token_cache_is_not_followed(
    ecr_env: dict[str, str], open_dir: Path, host: str
) -> None:
    data = planted_tokens(ecr_env, host)
    decoy = open_dir / "decoy.json"
    decoy.write_bytes(data)
    decoy.chmod(0o600)
    cache_file(ecr_env).unlink()
    cache_file(ecr_env).symlink_to(decoy)

    result = get(ecr_env, host)

    assert_minted(result, host)
    assert_one_warning_naming(result.stderr, cache_file(ecr_env))
    assert decoy.read_bytes() == data  # nothing written through the link either


def test_a_link_in_place_of_a_lock_file_is_not_followed(
    ecr_env: dict[str, str], open_dir: Path, host: str
) -> None:
    directory = cache_file(ecr_env).parent
    directory.mkdir(parents=True, mode=0o700)
    target = open_dir / "made-through-the-link"
    lock = directory / "tokens.json.lock"
    lock.symlink_to(target)

    result = get(ecr_env, host)

    assert_minted(result, host)
    assert not target.exists()
    assert_one_warning_naming(result.stderr, lock)


def test_our_own_cache_file_is_not_trusted_once_others_may_write_it(
    ecr_env: dict[str, str], host: str
) -> None:
    data = planted_tokens(ecr_env, host)
    path = cache_file(ecr_env)
    path.write_bytes(data)
    path.chmod(0o620)

    result = get(ecr_env, host)

    assert_minted(result, host)
    assert_one_warning_naming(result.stderr, path)


def test_a_stored_login_is_still_found_when_nothing_was_planted(
    helper_env: dict[str, str], server: str, open_dir: Path
) -> None:
    """The rule costs nothing when every file is the user's own: a private cache directory."""
    directory = open_dir / "cache"
    env = {**helper_env, CACHE_DIR: str(directory)}
    assert store(env, server, "bob", "pw-of-bob-91c").returncode == 0
    for _ in range(2):  # the second `get` reads the pin the first one wrote
        answer = run_helper_in(env, "get", stdin=server)
        assert answer.returncode == 0, answer
        assert warnings_of(answer.stderr) == []
    assert (directory / "keyring-backend").stat().st_uid == os.getuid()
    assert run_helper_in(env, "get", stdin="unknown.example").stdout.strip() == NOT_FOUND


def test_a_sticky_config_dir_keeps_the_index_in_a_private_subdirectory_and_erase_erases(
    helper_env: dict[str, str], server: str, open_dir: Path
) -> None:
    sticky = open_dir / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    env = {**helper_env, CONFIG_DIR: str(sticky)}

    assert store(env, server, "carol", "pw-of-carol-0b7").returncode == 0
    assert json.loads(run_helper_in(env, "list").stdout) == {server: "carol"}
    private = sticky / f"{APP}-{os.getuid()}"
    assert stat.S_IMODE(private.lstat().st_mode) == 0o700
    assert (private / "registries.json").is_file()
    assert not (sticky / "registries.json").exists()

    erased = run_helper_in(env, "erase", stdin=server)

    assert (erased.returncode, erased.stdout) == (0, ""), erased
    assert keyring_usernames(env, server) == []  # the secret went with the entry
    assert run_helper_in(env, "get", stdin=server).stdout.strip() == NOT_FOUND


# -- the single file's unpacked libraries: code, read back on every run --------------------------

ZIPAPP = Path(__file__).resolve().parent.parent / "packaging" / "zipapp"


def helper_module(says: str) -> bytes:
    """A stand-in for the helper's launcher that says where it was loaded from."""
    return f"import sys\ndef run():\n    sys.stdout.write({says!r})\n    return 0\n".encode()


def tiny_single_file(path: Path) -> Path:
    """An archive laid out as build.py lays out the single file (id "@BUILD_ID@", as in the
    checkout), whose helper only says it ran from the archive's own libraries."""
    bootstrap = (ZIPAPP / "__main__.py").read_bytes()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__main__.py", bootstrap)
        archive.writestr("docker_credential_convox_zipapp.py", bootstrap)
        archive.writestr("site-packages/docker_credential_convox/__init__.py", b"")
        archive.writestr(
            "site-packages/docker_credential_convox/start_without_site.py",
            helper_module("ARCHIVE\n"),
        )
    return path


def unpacked_copy(base: Path) -> tuple[Path, dict[str, bytes]]:
    """Where this build's unpacked copy lives under the cache directory `base`, and the files
    of a copy (marked compiled) whose helper says it is that copy."""
    target = base / "zipapp" / "@BUILD_ID@"
    package = "site-packages/docker_credential_convox"
    return target, {
        f".compiled-{sys.implementation.cache_tag}": b"",
        f"{package}/__init__.py": b"",
        f"{package}/start_without_site.py": helper_module("UNPACKED COPY\n"),
    }


def run_single_file(how: str, archive: Path, env: dict[str, str]) -> CompletedProcess[str]:
    """The archive as its sh lines run it (start.py's text with `python3 -S -c`), or through its
    bootstrap (`python3 -S ARCHIVE`)."""
    if how == "start.py":
        argv = [sys.executable, "-S", "-c", (ZIPAPP / "start.py").read_text(), str(archive)]
    else:
        argv = [sys.executable, "-S", str(archive)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("variable", [CACHE_DIR, ZIPAPP_CACHE_DIR])
@pytest.mark.parametrize("how", ["start.py", "bootstrap"])
@pytest.mark.parametrize("owner", ["another user", "us, mode 0777"])
def test_the_single_file_never_runs_libraries_planted_in_its_cache_directory(
    attacker: Attacker, open_dir: Path, how: str, owner: str, variable: str
) -> None:
    base = open_dir / "cache"
    if owner == "another user":
        attacker.mkdir(base)
    else:
        base.mkdir()
        base.chmod(0o777)
    target, files = unpacked_copy(base)
    for name, data in files.items():
        attacker.plant(target / name, data)
    archive = tiny_single_file(open_dir / "helper.pyz")
    temp = open_dir / "tmp"
    temp.mkdir(mode=0o700)
    env = {"PATH": os.environ["PATH"], "HOME": str(open_dir), "TMPDIR": str(temp)}

    ran = run_single_file(how, archive, {**env, variable: str(base)})

    assert (ran.returncode, ran.stdout) == (0, "ARCHIVE\n"), ran  # never UNPACKED COPY
    assert_one_warning_naming(ran.stderr, base)
    assert list(temp.iterdir()) == []  # the copy for this run only is gone


@pytest.mark.parametrize("variable", [CACHE_DIR, ZIPAPP_CACHE_DIR])
@pytest.mark.parametrize("how", ["start.py", "bootstrap"])
def test_the_single_file_runs_its_own_unpacked_copy(
    open_dir: Path, how: str, variable: str
) -> None:
    """The check refuses only what others could have written: the user's own copy runs, from
    DOCKER_CREDENTIAL_CONVOX_ZIPAPP_CACHE_DIR when that is set, whatever the cache directory."""
    base = open_dir / "cache"
    target, files = unpacked_copy(base)
    for name, data in files.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(data)
    for directory in (base, base / "zipapp", target):
        directory.chmod(0o700)
    archive = tiny_single_file(open_dir / "helper.pyz")
    env = {"PATH": os.environ["PATH"], "HOME": str(open_dir), variable: str(base)}
    if variable == ZIPAPP_CACHE_DIR:  # the helper's own cache directory is elsewhere
        env[CACHE_DIR] = str(open_dir / "tokens")

    ran = run_single_file(how, archive, env)

    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "UNPACKED COPY\n", ""), ran


@pytest.mark.parametrize("how", ["start.py", "bootstrap"])
def test_the_single_file_unpacks_into_its_own_cache_directory_when_one_is_set(
    open_dir: Path, how: str
) -> None:
    """DOCKER_CREDENTIAL_CONVOX_ZIPAPP_CACHE_DIR takes the unpacked libraries, and only them."""
    libraries, tokens = open_dir / "libraries", open_dir / "tokens"
    archive = tiny_single_file(open_dir / "helper.pyz")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(open_dir),
        CACHE_DIR: str(tokens),
        ZIPAPP_CACHE_DIR: str(libraries),
    }

    ran = run_single_file(how, archive, env)

    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "ARCHIVE\n", ""), ran
    target, files = unpacked_copy(libraries)
    assert {name for name in files if (target / name).is_file()} == set(files)
    assert stat.S_IMODE(libraries.stat().st_mode) == 0o700
    assert not tokens.exists()
