"""The installed executable beyond one route: arguments, bad input, its own files, old layouts.

Runs `docker-credential-convox` as a subprocess with a real Secret Service behind it. What every
route answers to store/get/erase/list is the contract in conformance.py, run per route by
test_conformance_<route>.py.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest
from support import NOT_FOUND, RunHelper

USAGE = "Usage: docker-credential-convox <store|get|erase|list|version>"


def store(run_helper: RunHelper, server: str, username: str, secret: str) -> None:
    payload = json.dumps({"ServerURL": server, "Username": username, "Secret": secret})
    result = run_helper("store", payload + "\n")
    assert (result.returncode, result.stdout) == (0, ""), result


def test_version_forms_print_one_line_and_exit_0(run_helper: RunHelper) -> None:
    from docker_credential_convox import __version__

    for arg in ("version", "--version", "-v"):
        result = run_helper(arg)
        assert result.returncode == 0
        assert (
            result.stdout == f"docker-credential-convox (docker-credential-convox) {__version__}\n"
        )


def test_help_prints_usage_and_exits_0(run_helper: RunHelper) -> None:
    for arg in ("--help", "-h"):
        result = run_helper(arg)
        assert result.returncode == 0
        assert result.stdout.startswith(USAGE + "\n")


@pytest.mark.parametrize("argv", [[], ["get", "extra"], ["store", "get"]])
def test_wrong_argument_count_prints_usage_and_exits_1(
    helper_env: dict[str, str], argv: list[str]
) -> None:
    from support import run_helper_in

    result = run_helper_in(helper_env, *argv)
    assert (result.returncode, result.stdout) == (1, USAGE + "\n")


def test_a_bare_command_points_to_help_and_registries_on_stderr(
    helper_env: dict[str, str],
) -> None:
    from support import run_helper_in

    result = run_helper_in(helper_env)
    assert (result.returncode, result.stdout) == (1, USAGE + "\n")  # as the Go helpers
    assert "docker-credential-convox --help" in result.stderr
    assert "docker-credential-convox registries --help" in result.stderr


def test_unknown_action_is_named_with_usage_on_stderr(run_helper: RunHelper) -> None:
    result = run_helper("fetch")
    assert (result.returncode, result.stdout) == (1, "Unknown credential action `fetch`\n")
    assert USAGE in result.stderr


@pytest.mark.parametrize("action", ["get", "erase"])
@pytest.mark.parametrize("stdin", ["", "   \n", "\n"])
def test_empty_server_url_is_refused_with_the_reference_message(
    run_helper: RunHelper, action: str, stdin: str
) -> None:
    result = run_helper(action, stdin)
    assert (result.returncode, result.stdout) == (1, "no credentials server URL\n")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"ServerURL":"","Username":"u","Secret":"s"}', "no credentials server URL\n"),
        ('{"Username":"u","Secret":"s"}', "no credentials server URL\n"),
        ('{"ServerURL":"r.example","Username":"","Secret":"s"}', "no credentials username\n"),
        ('{"ServerURL":"r.example","Secret":"s"}', "no credentials username\n"),
    ],
)
def test_store_without_server_or_username_uses_the_reference_messages(
    run_helper: RunHelper, payload: str, message: str
) -> None:
    result = run_helper("store", payload)
    assert (result.returncode, result.stdout) == (1, message)
    assert json.loads(run_helper("list").stdout) == {}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("", "no credentials on stdin"),
        ("{not json", "invalid JSON on stdin"),
        ('["r.example","u","s"]', "expected a JSON object, got an array"),
        ('"just a string"', "expected a JSON object, got a string"),
        (
            '{"ServerURL":"r.example","Username":42,"Secret":"s"}',
            '"Username" must be a JSON string',
        ),
        ('{"ServerURL":"r.example","Username":"u","Secret":{"x":1}}', '"Secret" must be a JSON'),
        ('{"ServerURL":["r"],"Username":"u","Secret":"s"}', '"ServerURL" must be a JSON string'),
    ],
)
def test_bad_store_input_gets_one_line_exit_1_and_stores_nothing(
    run_helper: RunHelper, payload: str, expected: str
) -> None:
    result = run_helper("store", payload)
    assert result.returncode == 1
    assert expected in result.stdout
    assert result.stdout.count("\n") == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert json.loads(run_helper("list").stdout) == {}


def test_bad_input_errors_never_echo_the_secret(run_helper: RunHelper) -> None:
    for payload in (
        '{"ServerURL":"r.example","Username":"u","Secret":"TOPSECRET"',
        '{"ServerURL":"r.example","Username":7,"Secret":"TOPSECRET"}',
        '{"ServerURL":"","Username":"u","Secret":"TOPSECRET"}',
    ):
        result = run_helper("store", payload)
        assert result.returncode == 1
        assert "TOPSECRET" not in result.stdout + result.stderr


def test_request_over_the_size_limit_is_refused(run_helper: RunHelper) -> None:
    big = json.dumps({"ServerURL": "r.example", "Username": "u", "Secret": "x" * (64 * 1024)})
    result = run_helper("store", big)
    assert result.returncode == 1
    assert result.stdout == (
        "request on stdin is larger than 64 KiB: send one server URL (get/erase) "
        "or one credentials object (store)\n"
    )
    assert run_helper("get", "r.example" + " " * 70000).returncode == 1
    assert json.loads(run_helper("list").stdout) == {}


def test_invalid_utf8_is_refused_and_a_multi_line_url_is_not_found(run_helper: RunHelper) -> None:
    assert "not valid UTF-8" in run_helper("get", b"\xff\xfe").stdout
    # Any other text is a key (an opaque one here), and Docker takes any error but not-found
    # as fatal.
    result = run_helper("get", "r.example\nother.example")
    assert (result.returncode, result.stdout) == (1, NOT_FOUND + "\n")


def test_files_are_private(run_helper: RunHelper, helper_env: dict[str, str]) -> None:
    store(run_helper, "r.example", "alice", "pw")
    config_dir = Path(helper_env["XDG_CONFIG_HOME"]) / "docker-credential-convox"
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    index = config_dir / "registries.json"
    assert stat.S_IMODE(index.stat().st_mode) == 0o600
    assert "pw" not in index.read_text().split('"')


def test_index_never_holds_a_secret(run_helper: RunHelper, helper_env: dict[str, str]) -> None:
    store(run_helper, "r.example", "alice", "UNIQUE-SECRET-VALUE")
    config_dir = Path(helper_env["XDG_CONFIG_HOME"]) / "docker-credential-convox"
    for path in config_dir.rglob("*"):  # the index, its lock and the registries' locks
        assert path.is_dir() or "UNIQUE-SECRET-VALUE" not in path.read_text()


def test_damaged_index_is_reported_with_its_path_not_overwritten(
    run_helper: RunHelper, helper_env: dict[str, str]
) -> None:
    store(run_helper, "r.example", "alice", "pw")
    index = Path(helper_env["XDG_CONFIG_HOME"]) / "docker-credential-convox" / "registries.json"
    index.write_text("{ truncated")
    for action, stdin in (
        ("get", "r.example"),
        ("list", ""),
        ("store", '{"ServerURL":"b","Username":"u"}'),
    ):
        result = run_helper(action, stdin)
        assert result.returncode == 1
        assert str(index) in result.stdout
        assert "damaged" in result.stdout
    assert index.read_text() == "{ truncated"


def test_config_dir_override_moves_the_index(run_helper: RunHelper, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    env = {"DOCKER_CREDENTIAL_CONVOX_CONFIG_DIR": str(moved)}
    assert run_helper("store", '{"ServerURL":"r","Username":"u","Secret":"s"}', env).returncode == 0
    assert (moved / "registries.json").exists()


def test_works_without_home(run_helper: RunHelper, helper_env: dict[str, str]) -> None:
    env = {k: v for k, v in helper_env.items() if k not in ("HOME", "XDG_CONFIG_HOME")}
    env["DOCKER_CREDENTIAL_CONVOX_CONFIG_DIR"] = os.path.join(helper_env["HOME"], "cfg")
    from support import run_helper_in

    stored = run_helper_in(env, "store", stdin='{"ServerURL":"r","Username":"u","Secret":"s"}')
    assert stored.returncode == 0, stored
    assert json.loads(run_helper_in(env, "get", stdin="r").stdout)["Secret"] == "s"


# -- one key per registry, one per path ----------------------------------------------------------


def secret_of(run_helper: RunHelper, server: str) -> dict[str, str] | None:
    result = run_helper("get", server)
    if result.returncode == 1 and result.stdout == NOT_FOUND + "\n":
        return None
    assert result.returncode == 0, result
    reply: dict[str, str] = json.loads(result.stdout)
    return reply


def test_path_entries_have_secrets_of_their_own_in_the_keyring(
    run_helper: RunHelper, helper_env: dict[str, str]
) -> None:
    from support import keyring_usernames

    host = f"paths-{uuid.uuid4().hex[:10]}.example"
    store(run_helper, host, "alice", "HOST-PW")
    store(run_helper, f"{host}/team-a", "bob", "TEAM-A-PW")

    assert keyring_usernames(helper_env, host) == ["alice"]
    assert keyring_usernames(helper_env, f"{host}/team-a") == ["bob"]
    assert run_helper("erase", f"{host}/team-a").returncode == 0
    assert keyring_usernames(helper_env, f"{host}/team-a") == []
    assert keyring_usernames(helper_env, host) == ["alice"]


def test_an_index_and_keyring_written_before_paths_counted_still_answer(
    run_helper: RunHelper, helper_env: dict[str, str]
) -> None:
    # The layout an earlier release wrote: host keys only (a path collapsed into its host's key).
    host = f"legacy-{uuid.uuid4().hex[:10]}.example"
    index = Path(helper_env["XDG_CONFIG_HOME"]) / "docker-credential-convox" / "registries.json"
    index.parent.mkdir(mode=0o700, parents=True)
    index.write_text(
        json.dumps(
            {
                "version": 1,
                "registries": {
                    host: {
                        "ServerURL": f"https://{host}/team",
                        "Username": "old",
                        "Source": "keyring",
                    }
                },
            }
        )
    )
    index.chmod(0o600)
    subprocess.run(
        [
            "secret-tool",
            "store",
            "--label=legacy",
            "service",
            f"docker-credential-convox:{host}",
            "username",
            "old",
        ],
        input="OLD-PW",
        text=True,
        env=helper_env,
        check=True,
    )

    for asked in (host, f"https://{host}/team", f"{host}/other"):
        reply = secret_of(run_helper, asked)
        assert reply == {"ServerURL": asked, "Username": "old", "Secret": "OLD-PW"}
    assert json.loads(run_helper("list").stdout) == {f"https://{host}/team": "old"}
    assert run_helper("erase", host).returncode == 0
    assert secret_of(run_helper, host) is None


# -- no userinfo kept or printed -----------------------------------------------------------------

PW_URL = "https://user:PW-IN-URL@creds.example.com"


def test_a_password_in_the_server_url_is_never_kept_or_listed(
    run_helper: RunHelper, helper_env: dict[str, str]
) -> None:
    store(run_helper, PW_URL, "alice", "secret")

    config_dir = Path(helper_env["XDG_CONFIG_HOME"]) / "docker-credential-convox"
    for path in config_dir.iterdir():
        if path.is_file():
            assert "PW-IN-URL" not in path.read_text(), path
    listed = run_helper("list")
    assert json.loads(listed.stdout) == {"https://creds.example.com": "alice"}
    for args in (("registries", "list"), ("registries", "list", "--json")):
        from support import run_helper_in

        shown = run_helper_in(helper_env, *args)
        assert shown.returncode == 0, shown
        assert "creds.example.com" in shown.stdout
        assert "PW-IN-URL" not in shown.stdout + shown.stderr
    reply = secret_of(run_helper, PW_URL + "/v2/")
    assert reply == {
        "ServerURL": "https://creds.example.com/v2/",
        "Username": "alice",
        "Secret": "secret",
    }


def test_a_password_kept_in_the_index_by_an_earlier_release_is_not_printed(
    run_helper: RunHelper, helper_env: dict[str, str]
) -> None:
    from support import run_helper_in

    index = Path(helper_env["XDG_CONFIG_HOME"]) / "docker-credential-convox" / "registries.json"
    index.parent.mkdir(mode=0o700, parents=True)
    entry = {"ServerURL": PW_URL, "Username": "alice", "Source": "keyring"}
    index.write_text(json.dumps({"version": 1, "registries": {"creds.example.com": entry}}))
    index.chmod(0o600)

    assert json.loads(run_helper("list").stdout) == {"https://creds.example.com": "alice"}
    for args in (("registries", "list"), ("registries", "list", "--json")):
        shown = run_helper_in(helper_env, *args)
        assert shown.returncode == 0, shown
        assert "PW-IN-URL" not in shown.stdout + shown.stderr


@pytest.mark.parametrize(
    "url",
    [
        "https://user:PW-IN-URL@creds.example.com:99999",
        "https://user:PW-IN-URL@bad host!",
        "user:PW-IN-URL@creds.example.com:port",
        "https://user:PW/IN-URL@creds.example.com",
    ],
)
def test_an_unreadable_url_never_keeps_or_shows_the_password(
    run_helper: RunHelper, helper_env: dict[str, str], url: str
) -> None:
    # The protocol keeps such a URL as an opaque key, less everything up to its last `@`;
    # `registries`, which must read it, refuses it with the password masked.
    from support import run_helper_in

    password = "PW-IN-URL" if "PW-IN-URL" in url else "IN-URL"
    payload = json.dumps({"ServerURL": url, "Username": "u", "Secret": "s"})
    stored = run_helper("store", payload)
    assert stored.returncode == 0, stored
    got = run_helper("get", url)
    assert got.returncode == 0, got
    listed = run_helper("list")
    index = Path(helper_env["XDG_CONFIG_HOME"]) / "docker-credential-convox" / "registries.json"
    assert password not in index.read_text()
    erased = run_helper("erase", url)
    assert erased.returncode == 0, erased
    removed = run_helper_in(helper_env, "registries", "remove", url)
    assert removed.returncode == 1, removed
    for result in (stored, got, listed, erased, removed):
        assert "Traceback" not in result.stderr
        assert password not in result.stdout + result.stderr, result
