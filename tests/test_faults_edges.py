"""Faults at the edges, through the installed executable: odd files, absurd numbers, shared dirs.

Each test reproduces a reported problem (issue 10, items 5, 6, 7 and 9) or covers the settings
ecr-login users bring along (AWS_ECR_DISABLE_CACHE, AWS_ECR_CACHE_DIR). Real parts throughout:
the session's Secret Service, moto_server behind the counting proxy, the helper as installed.
Runs that could block (a FIFO in a file's place) have a short timeout, so a regression fails the
test instead of hanging the suite.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import stat
import subprocess
import sys
import time
import types
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import HELPER, NOT_FOUND, helper_listing, run_helper_in

if TYPE_CHECKING:
    from support.aws_emulator import AwsProxy

pytest_plugins = ["support.aws_emulator"]  # moto_server, aws_proxy, ecr_env

APP = "docker-credential-convox"
GET_TOKEN = "ecr:GetAuthorizationToken"
# A helper blocked on a FIFO never returns; one that ignores or refuses it answers in well
# under this (a cold ECR `get` included).
FIFO_TIMEOUT = 20.0
TOKEN_LIFETIME = 12 * 3600.0


@pytest.fixture
def host() -> str:
    """An ECR registry of this test's own (the Secret Service and proxy are shared)."""
    return f"{10**11 + uuid.uuid4().int % (9 * 10**11)}.dkr.ecr.us-west-2.amazonaws.com"


def run(
    env: Mapping[str, str], *args: str, stdin: str = "", timeout: float = FIFO_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    return run_helper_in(env, *args, stdin=stdin, timeout=timeout)


def store_request(server: str, username: str, secret: str) -> str:
    return json.dumps({"ServerURL": server, "Username": username, "Secret": secret}) + "\n"


def cache_dir(env: Mapping[str, str]) -> Path:
    return Path(env["XDG_CACHE_HOME"]) / APP


def config_dir(env: Mapping[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / APP


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    """Exit 1 with one line on stdout, and no traceback or internal error anywhere."""
    assert result.returncode == 1, result
    assert len(result.stdout.splitlines()) == 1, result
    assert "Traceback" not in result.stdout + result.stderr, result
    assert "internal error" not in result.stdout, result
    return result.stdout.strip()


def get_ecr_secret(env: Mapping[str, str], server: str) -> str:
    result = run(env, "get", stdin=server)
    assert result.returncode == 0, result
    assert "internal error" not in result.stdout + result.stderr
    secret: str = json.loads(result.stdout)["Secret"]
    return secret


# --- item 5: a FIFO (or anything but a regular file) where a file of ours should be ------------


def test_a_fifo_as_the_token_cache_is_ignored_by_list_and_get(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    cache_dir(ecr_env).mkdir(parents=True, mode=0o700)
    os.mkfifo(cache_dir(ecr_env) / "tokens.json", 0o600)

    listing = run(ecr_env, "list")
    assert (listing.returncode, json.loads(listing.stdout or "null")) == (0, {}), listing
    secret = get_ecr_secret(ecr_env, host)

    assert aws_proxy.count(GET_TOKEN) == 1
    assert stat.S_ISREG((cache_dir(ecr_env) / "tokens.json").stat().st_mode)  # replaced
    assert get_ecr_secret(ecr_env, host) == secret
    assert aws_proxy.count(GET_TOKEN) == 1


def test_a_fifo_as_the_keyring_backend_pin_is_ignored(helper_env: dict[str, str]) -> None:
    server = f"r{uuid.uuid4().hex[:8]}.example"
    assert run(helper_env, "store", stdin=store_request(server, "alice", "pw-1")).returncode == 0
    pin = cache_dir(helper_env) / "keyring-backend"
    assert pin.is_file()
    pin.unlink()
    os.mkfifo(pin, 0o600)

    got = run(helper_env, "get", stdin=server)
    assert got.returncode == 0, got
    assert json.loads(got.stdout)["Secret"] == "pw-1"
    stored = run(helper_env, "store", stdin=store_request(server, "alice", "pw-2"))
    assert stored.returncode == 0, stored
    assert json.loads(run(helper_env, "get", stdin=server).stdout)["Secret"] == "pw-2"


def test_a_fifo_as_the_registry_index_is_refused_in_one_line_by_every_action(
    helper_env: dict[str, str],
) -> None:
    config_dir(helper_env).mkdir(parents=True, mode=0o700)
    index = config_dir(helper_env) / "registries.json"
    os.mkfifo(index, 0o600)

    for action, stdin in (
        ("get", "r.example"),
        ("list", ""),
        ("erase", "r.example"),
        ("store", store_request("r.example", "alice", "pw")),
    ):
        line = assert_one_line_failure(run(helper_env, action, stdin=stdin))
        assert str(index) in line, (action, line)
        assert "not a regular file" in line, (action, line)
    assert stat.S_ISFIFO(index.stat().st_mode)  # refused, not replaced


def test_a_fifo_as_the_docker_config_is_refused_by_registries_add(
    helper_env: dict[str, str],
) -> None:
    config = Path(helper_env["DOCKER_CONFIG"]) / "config.json"
    os.mkfifo(config, 0o600)

    result = run(
        helper_env,
        "registries",
        "add",
        "r.example",
        "--username",
        "alice",
        "--password-stdin",
        "--no-verify",
        stdin="pw",
    )

    assert result.returncode == 1, result
    assert str(config) in result.stderr, result
    assert "not a regular file" in result.stderr, result
    assert "Traceback" not in result.stderr
    assert stat.S_ISFIFO(config.stat().st_mode)


# --- item 6: absurd expiry times ------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "literal"),
    [
        ("expires_at", "1e300"),
        ("expires_at", "Infinity"),
        ("expires_at", "-Infinity"),
        ("expires_at", "NaN"),
        ("expires_at", "1e17"),
        ("expires_at", "1" + "0" * 400),
        ("issued_at", "1e300"),
        ("issued_at", "-Infinity"),
    ],
)
def test_an_absurd_time_in_the_token_cache_is_ignored_and_the_token_refreshed(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, field: str, literal: str
) -> None:
    first = get_ecr_secret(ecr_env, host)
    path = cache_dir(ecr_env) / "tokens.json"
    document = json.loads(path.read_text())
    for token in document["tokens"].values():
        token[field] = "ABSURD"
    path.write_text(json.dumps(document).replace('"ABSURD"', literal))

    listing = run(ecr_env, "list")
    assert listing.returncode == 0, listing
    second = get_ecr_secret(ecr_env, host)

    assert second != first
    assert aws_proxy.count(GET_TOKEN) == 2
    rewritten = json.loads(path.read_text())["tokens"]
    assert rewritten
    assert all(token["expires_at"] <= time.time() + TOKEN_LIFETIME for token in rewritten.values())
    assert get_ecr_secret(ecr_env, host) == second  # the fresh token is cached again


def test_an_absurd_expires_at_from_aws_is_capped_at_the_ecr_token_lifetime(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    aws_proxy.expires_in = 1e17 - time.time()  # expiresAt 1e17: year 3 billion

    secret = get_ecr_secret(ecr_env, host)

    tokens = json.loads((cache_dir(ecr_env) / "tokens.json").read_text())["tokens"]
    [token] = tokens.values()
    assert token["expires_at"] <= time.time() + TOKEN_LIFETIME
    assert get_ecr_secret(ecr_env, host) == secret
    assert aws_proxy.count(GET_TOKEN) == 1


# --- item 7: directories that are not ours to chmod --------------------------------------------


def test_a_shared_cache_directory_is_never_chmodded_nor_written_directly(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, tmp_path: Path
) -> None:
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    shared.chmod(0o1777)  # what /tmp is; run as root with CACHE_DIR=/tmp, this was chmodded
    env = {**ecr_env, "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR": str(shared)}

    result = run(env, "get", stdin=host)

    assert result.returncode == 0, result
    assert mode(shared) == 0o1777
    assert not (shared / "tokens.json").exists()
    assert not (shared / "keyring-backend").exists()
    # Its files go into a private subdirectory of its own (test_trust.py has the rest).
    assert mode(shared / f"docker-credential-convox-{os.getuid()}") == 0o700
    assert aws_proxy.count(GET_TOKEN) == 1


def test_an_existing_directory_of_the_user_is_used_as_it_is(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, tmp_path: Path
) -> None:
    chosen = tmp_path / "my-cache"
    chosen.mkdir()
    chosen.chmod(0o755)
    env = {**ecr_env, "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR": str(chosen)}

    secret = get_ecr_secret(env, host)

    assert mode(chosen) == 0o755
    assert mode(chosen / "tokens.json") == 0o600
    assert get_ecr_secret(env, host) == secret
    assert aws_proxy.count(GET_TOKEN) == 1


# --- item 9: the smaller ones -----------------------------------------------------------------


def test_every_directory_created_under_umask_000_is_0700(
    helper_env: dict[str, str],
) -> None:
    home = Path(helper_env["HOME"])
    assert not (home / ".config").exists()
    assert not (home / ".cache").exists()
    result = subprocess.run(
        [str(HELPER), "store"],
        input=store_request(f"r{uuid.uuid4().hex[:8]}.example", "alice", "pw").encode(),
        capture_output=True,
        env=helper_env,
        timeout=60,
        umask=0,
        check=False,
    )

    assert result.returncode == 0, result
    for directory in (home / ".config", config_dir(helper_env), home / ".cache"):
        assert mode(directory) == 0o700, directory
    assert mode(cache_dir(helper_env)) == 0o700


def _auth(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


DUPLICATED_AUTHS = """{
  "auths": {
    "r.example": {"auth": "%s", "email": "first@example.com"},
    "other.example": {"auth": "%s"},
    "r.example": {"auth": "%s"}
  }
}
"""


def test_registries_add_strips_every_copy_of_a_duplicated_auths_key(
    helper_env: dict[str, str],
) -> None:
    config = Path(helper_env["DOCKER_CONFIG"]) / "config.json"
    config.write_text(
        DUPLICATED_AUTHS
        % (_auth("alice", "old-secret"), _auth("bob", "other"), _auth("alice", "newer-secret"))
    )

    result = run(
        helper_env,
        "registries",
        "add",
        "r.example",
        "--username",
        "alice",
        "--password-stdin",
        "--no-verify",
        stdin="pw",
    )

    assert result.returncode == 0, result
    text = config.read_text()
    assert _auth("alice", "old-secret") not in text
    assert _auth("alice", "newer-secret") not in text
    assert _auth("bob", "other") in text
    assert "first@example.com" in text
    assert "Removed the plaintext password for r.example" in result.stderr


def test_registries_import_moves_the_copy_docker_reads_and_strips_every_copy(
    helper_env: dict[str, str],
) -> None:
    server = f"r{uuid.uuid4().hex[:8]}.example"
    config = Path(helper_env["DOCKER_CONFIG"]) / "config.json"
    config.write_text(
        DUPLICATED_AUTHS.replace("r.example", server)
        % (_auth("alice", "old-secret"), _auth("bob", "other"), _auth("alice", "newer-secret"))
    )

    result = run(helper_env, "registries", "import")

    assert result.returncode == 0, result
    text = config.read_text()
    assert "old-secret" not in text
    assert _auth("alice", "old-secret") not in text
    assert _auth("alice", "newer-secret") not in text
    got = run(helper_env, "get", stdin=server)
    assert json.loads(got.stdout)["Secret"] == "newer-secret"  # the copy docker itself reads


@pytest.mark.parametrize(
    "request_text",
    [
        "[" * 30000,
        '{"ServerURL": ' + "[" * 30000,
        '{"Username": ' + '{"a":' * 10000 + "1" + "}" * 10000 + "}",
    ],
)
def test_deeply_nested_json_on_store_is_a_bad_request_line(
    helper_env: dict[str, str], request_text: str
) -> None:
    assert len(request_text.encode()) <= 64 * 1024
    line = assert_one_line_failure(run(helper_env, "store", stdin=request_text))
    assert "nested too deeply" in line, line
    assert helper_listing(helper_env) == {}


def test_deeply_nested_json_in_the_token_cache_is_ignored(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    cache_dir(ecr_env).mkdir(parents=True, mode=0o700)
    (cache_dir(ecr_env) / "tokens.json").write_text("[" * 30000)

    assert run(ecr_env, "list").returncode == 0
    get_ecr_secret(ecr_env, host)
    assert aws_proxy.count(GET_TOKEN) == 1


def test_deeply_nested_json_in_the_registry_index_is_reported_as_damaged(
    helper_env: dict[str, str],
) -> None:
    config_dir(helper_env).mkdir(parents=True, mode=0o700)
    index = config_dir(helper_env) / "registries.json"
    index.write_text('{"registries": ' + "[" * 30000)

    line = assert_one_line_failure(run(helper_env, "get", stdin="r.example"))
    assert str(index) in line, line
    assert "damaged" in line, line


def test_a_nul_in_the_username_is_refused_before_the_keyring(helper_env: dict[str, str]) -> None:
    server = f"r{uuid.uuid4().hex[:8]}.example"
    line = assert_one_line_failure(
        run(helper_env, "store", stdin=store_request(server, "ali\u0000ce", "pw"))
    )
    assert "Username" in line, line
    assert "NUL" in line, line
    assert "keyring" not in line, line
    assert helper_listing(helper_env) == {}
    assert run(helper_env, "get", stdin=server).stdout.strip() == NOT_FOUND


# --- a drop-in for ecr-login users ------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "false"])
def test_aws_ecr_disable_cache_with_any_value_disables_the_cache(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, value: str
) -> None:
    env = {**ecr_env, "AWS_ECR_DISABLE_CACHE": value}  # ecr-login: any non-empty value

    get_ecr_secret(env, host)
    get_ecr_secret(env, host)

    assert aws_proxy.count(GET_TOKEN) == 2
    assert not (cache_dir(ecr_env) / "tokens.json").exists()


def test_our_no_cache_setting_wins_over_aws_ecr_disable_cache(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    env = {**ecr_env, "AWS_ECR_DISABLE_CACHE": "1", "DOCKER_CREDENTIAL_CONVOX_NO_CACHE": "0"}

    get_ecr_secret(env, host)
    get_ecr_secret(env, host)

    assert aws_proxy.count(GET_TOKEN) == 1


def test_aws_ecr_cache_dir_moves_our_cache_and_leaves_ecr_logins_file_alone(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    ecr_dir = Path(ecr_env["HOME"]) / ".ecr-elsewhere"
    ecr_dir.mkdir(mode=0o700)
    ecr_logins = ecr_dir / "cache.json"
    ecr_logins.write_text('{"registries": {}}')
    env = {**ecr_env, "AWS_ECR_CACHE_DIR": "~/.ecr-elsewhere"}  # ecr-login expands `~`

    secret = get_ecr_secret(env, host)

    assert (ecr_dir / "tokens.json").is_file()
    assert ecr_logins.read_text() == '{"registries": {}}'
    assert not (cache_dir(ecr_env) / "tokens.json").exists()
    assert get_ecr_secret(env, host) == secret
    assert aws_proxy.count(GET_TOKEN) == 1


def test_our_cache_dir_wins_over_aws_ecr_cache_dir(
    ecr_env: dict[str, str], host: str, tmp_path: Path
) -> None:
    ours = tmp_path / "ours"
    env = {
        **ecr_env,
        "AWS_ECR_CACHE_DIR": str(tmp_path / "theirs"),
        "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR": str(ours),
    }

    get_ecr_secret(env, host)

    assert (ours / "tokens.json").is_file()
    assert not (tmp_path / "theirs").exists()


# --- the single-file build's own bootstrap (it unpacks libraries before the helper runs) -------


def _zipapp_bootstrap() -> types.ModuleType:
    """packaging/zipapp/__main__.py as a module (it imports only os and sys at load)."""
    path = Path(__file__).resolve().parent.parent / "packaging" / "zipapp" / "__main__.py"
    spec = importlib.util.spec_from_file_location("dccx_zipapp_bootstrap", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_zipapp_creates_its_unpack_directories_0700_under_umask_000(tmp_path: Path) -> None:
    bootstrap = _zipapp_bootstrap()
    target = tmp_path / "home" / ".cache" / APP / "zipapp"
    old = os.umask(0)
    try:
        bootstrap.private_dirs(str(target))
    finally:
        os.umask(old)
    for directory in (tmp_path / "home", tmp_path / "home" / ".cache", target.parent, target):
        assert mode(directory) == 0o700, directory


@pytest.mark.parametrize("shared_mode", [0o777, 0o1777, 0o775])
def test_the_zipapp_never_imports_from_an_unpack_directory_others_may_write(
    tmp_path: Path, shared_mode: int
) -> None:
    # Another user could plant libraries there: the helper would run their code.
    bootstrap = _zipapp_bootstrap()
    planted = tmp_path / "shared" / "zipapp"
    planted.mkdir(parents=True)
    planted.chmod(shared_mode)

    with pytest.raises(OSError, match="shared with other users"):
        bootstrap.private_dirs(str(planted))
    assert mode(planted) == shared_mode


# Where the single file unpacks, in order: its own setting, then the helper's cache directory.
CACHE_SETTINGS = ("DOCKER_CREDENTIAL_CONVOX_ZIPAPP_CACHE_DIR", "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR")
UNPACKED_PROBE = """
import sys
source = open({start!r}).read().rsplit("sys.exit(start())", 1)[0]
namespace = {{}}
sys.argv = ["-c", "archive.pyz"]
exec(compile(source, "start.py", "exec"), namespace)
print(namespace["unpacked"]())
"""


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"XDG_CACHE_HOME": "/elsewhere/cache"},
        {"XDG_CACHE_HOME": "relative/cache"},
        {"DOCKER_CREDENTIAL_CONVOX_CACHE_DIR": "/explicit/dir"},
        {"DOCKER_CREDENTIAL_CONVOX_ZIPAPP_CACHE_DIR": "/libraries"},
        {
            "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR": "/explicit/dir",
            "DOCKER_CREDENTIAL_CONVOX_ZIPAPP_CACHE_DIR": "/libraries",
        },
        # Spellings a path join must not double or drop a slash of.
        {"DOCKER_CREDENTIAL_CONVOX_ZIPAPP_CACHE_DIR": "/libraries/"},
        {"DOCKER_CREDENTIAL_CONVOX_CACHE_DIR": "//explicit//dir//"},
        {"XDG_CACHE_HOME": "/elsewhere/cache/"},
        {"XDG_CACHE_HOME": ""},
        {"HOME": "/home/with/slash/"},
        {"HOME": "/"},
    ],
)
def test_the_zipapp_start_finds_the_unpack_directory_the_bootstrap_makes(
    tmp_path: Path, settings: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # start.py (the sh lines' Python) repeats __main__.unpack_root: they must agree.
    zipapp = Path(__file__).resolve().parent.parent / "packaging" / "zipapp"
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], **settings}
    probe = UNPACKED_PROBE.format(start=str(zipapp / "start.py"))
    probe += "print(sorted({'os', 'posixpath', '_collections_abc'} & set(sys.modules)))\n"
    started = subprocess.run(
        [sys.executable, "-S", "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    for name in ("HOME", "XDG_CACHE_HOME", *CACHE_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    made = os.path.join(_zipapp_bootstrap().unpack_root(), "@BUILD_ID@")
    # ...and, on the hot path of every start, without importing os (minios.py says why).
    assert started.stdout == made + "\n[]\n"
    chosen = next((settings[name] for name in CACHE_SETTINGS if name in settings), None)
    if chosen:  # the libraries' own setting first, then the cache directory's
        assert made == os.path.join(chosen, "zipapp", "@BUILD_ID@")
