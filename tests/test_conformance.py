"""The installed executable against the protocol, as the reference helpers and clients expect it.

Runs `docker-credential-convox` as a subprocess with a real Secret Service behind it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest
from support import RunHelper

NOT_FOUND = "credentials not found in native keychain"
USAGE = "Usage: docker-credential-convox <store|get|erase|list|version>"


def store(run_helper: RunHelper, server: str, username: str, secret: str) -> None:
    payload = json.dumps({"ServerURL": server, "Username": username, "Secret": secret})
    result = run_helper("store", payload + "\n")
    assert (result.returncode, result.stdout) == (0, ""), result


def test_store_then_get_returns_the_credentials_with_the_url_asked_for(
    run_helper: RunHelper,
) -> None:
    store(run_helper, "registry.example.com:5000", "alice", "s3cret")
    result = run_helper("get", "https://registry.example.com:5000/")
    assert result.returncode == 0, result
    assert json.loads(result.stdout) == {
        "ServerURL": "https://registry.example.com:5000/",
        "Username": "alice",
        "Secret": "s3cret",
    }
    assert result.stderr == ""


def test_get_unknown_server_prints_not_found_and_exits_1(run_helper: RunHelper) -> None:
    result = run_helper("get", "unknown.example.com")
    assert result.returncode == 1
    assert result.stdout == NOT_FOUND + "\n"


@pytest.mark.parametrize(
    "asked",
    [
        "registry.example.com:5000",
        "http://registry.example.com:5000/",
        "https://registry.example.com:5000",
        "REGISTRY.Example.COM:5000",
        "registry.example.com:5000/",
        "registry.example.com:5000/team/app",
    ],
)
def test_every_spelling_of_a_registry_reaches_one_entry(run_helper: RunHelper, asked: str) -> None:
    store(run_helper, "registry.example.com:5000", "alice", "pw")
    result = run_helper("get", asked)
    assert result.returncode == 0, result
    assert json.loads(result.stdout)["Secret"] == "pw"


@pytest.mark.parametrize(
    "asked", ["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"]
)
def test_docker_hub_aliases_share_one_entry(run_helper: RunHelper, asked: str) -> None:
    store(run_helper, "https://index.docker.io/v1/", "hubuser", "hubtoken")
    result = run_helper("get", asked)
    assert result.returncode == 0, result
    assert json.loads(result.stdout) == {
        "ServerURL": asked,
        "Username": "hubuser",
        "Secret": "hubtoken",
    }


def test_other_ports_and_hosts_do_not_share_an_entry(run_helper: RunHelper) -> None:
    store(run_helper, "registry.example.com:5000", "alice", "pw")
    for other in ("registry.example.com", "registry.example.com:5001", "example.com:5000"):
        assert run_helper("get", other).stdout == NOT_FOUND + "\n"


def test_store_replaces_and_a_new_username_drops_the_old_secret(run_helper: RunHelper) -> None:
    store(run_helper, "r.example", "alice", "one")
    store(run_helper, "r.example", "bob", "two")
    assert json.loads(run_helper("get", "r.example").stdout)["Username"] == "bob"
    assert json.loads(run_helper("list").stdout) == {"r.example": "bob"}


def test_identity_token_round_trips_verbatim(run_helper: RunHelper) -> None:
    store(run_helper, "r.example", "<token>", "refresh-token-value")
    reply = json.loads(run_helper("get", "r.example").stdout)
    assert reply == {
        "ServerURL": "r.example",
        "Username": "<token>",
        "Secret": "refresh-token-value",
    }


def test_go_escaped_identity_token_username_is_the_same_json(run_helper: RunHelper) -> None:
    run_helper("store", '{"ServerURL":"r.example","Username":"\\u003ctoken\\u003e","Secret":"x"}')
    assert json.loads(run_helper("get", "r.example").stdout)["Username"] == "<token>"


def test_empty_secret_is_allowed_on_store(run_helper: RunHelper) -> None:
    store(run_helper, "r.example", "alice", "")
    assert json.loads(run_helper("get", "r.example").stdout)["Secret"] == ""


def test_unicode_and_long_secrets_round_trip(run_helper: RunHelper) -> None:
    secret = "pässwörd-🔑-" + "x" * 8000
    store(run_helper, "r.example", "ünï", secret)
    reply = json.loads(run_helper("get", "r.example").stdout)
    assert (reply["Username"], reply["Secret"]) == ("ünï", secret)


def test_store_field_names_are_case_insensitive_and_unknown_fields_ignored(
    run_helper: RunHelper,
) -> None:
    payload = '{"serverurl":"r.example","USERNAME":"alice","secret":"pw","Extra":[1,2]}'
    assert run_helper("store", payload).returncode == 0
    assert json.loads(run_helper("get", "r.example").stdout)["Secret"] == "pw"


def test_get_trims_whitespace_around_the_url(run_helper: RunHelper) -> None:
    store(run_helper, "r.example", "alice", "pw")
    assert run_helper("get", "  r.example \n").returncode == 0


def test_erase_forgets_and_erasing_again_exits_0(run_helper: RunHelper) -> None:
    store(run_helper, "r.example:5000", "alice", "pw")
    first = run_helper("erase", "http://r.example:5000")
    assert (first.returncode, first.stdout) == (0, "")
    assert run_helper("get", "r.example:5000").stdout == NOT_FOUND + "\n"
    second = run_helper("erase", "r.example:5000")
    assert (second.returncode, second.stdout) == (0, "")


def test_erase_of_never_stored_server_exits_0(run_helper: RunHelper) -> None:
    result = run_helper("erase", "never.example")
    assert (result.returncode, result.stdout) == (0, "")


def test_list_maps_each_stored_url_to_its_username_and_ignores_stdin(
    run_helper: RunHelper,
) -> None:
    assert json.loads(run_helper("list", "unused").stdout) == {}
    store(run_helper, "https://index.docker.io/v1/", "hub", "a")
    store(run_helper, "127.0.0.1:5000", "alice", "b")
    for stdin in ("unused", "", "garbage {"):
        result = run_helper("list", stdin)
        assert result.returncode == 0, result
        assert json.loads(result.stdout) == {
            "https://index.docker.io/v1/": "hub",
            "127.0.0.1:5000": "alice",
        }
    assert "a" not in result.stdout.split('"')
    assert "b" not in result.stdout.split('"')


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
        ('{"ServerURL":"bad host!","Username":"u","Secret":"s"}', "invalid server URL"),
        ('{"ServerURL":"http://:5000","Username":"u","Secret":"s"}', "names no host"),
        ('{"ServerURL":"r.example:99999","Username":"u","Secret":"s"}', "port"),
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
        '{"ServerURL":"bad host","Username":"u","Secret":"TOPSECRET"}',
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


def test_invalid_utf8_and_multi_line_urls_are_refused(run_helper: RunHelper) -> None:
    assert "not valid UTF-8" in run_helper("get", b"\xff\xfe").stdout
    result = run_helper("get", "r.example\nother.example")
    assert (result.returncode, "whitespace" in result.stdout) == (1, True)


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

HUB = "https://index.docker.io/v1/"
HUB_ACCESS = HUB + "access-token"
HUB_REFRESH = HUB + "refresh-token"


def secret_of(run_helper: RunHelper, server: str) -> dict[str, str] | None:
    result = run_helper("get", server)
    if result.returncode == 1 and result.stdout == NOT_FOUND + "\n":
        return None
    assert result.returncode == 0, result
    reply: dict[str, str] = json.loads(result.stdout)
    return reply


def test_docker_hub_web_login_keeps_three_entries_and_its_logout_leaves_the_pat(
    run_helper: RunHelper,
) -> None:
    # What Docker CLI 27+ `docker login` (web-based, no username) stores, in its order.
    store(run_helper, HUB_ACCESS, "bob", "ACCESS")
    store(run_helper, HUB_REFRESH, "bob", "REFRESH..client")
    store(run_helper, HUB, "bob", "PAT")

    for server, secret in ((HUB_ACCESS, "ACCESS"), (HUB_REFRESH, "REFRESH..client"), (HUB, "PAT")):
        assert secret_of(run_helper, server) == {
            "ServerURL": server,
            "Username": "bob",
            "Secret": secret,
        }
    assert json.loads(run_helper("list").stdout) == {
        HUB_ACCESS: "bob",
        HUB_REFRESH: "bob",
        HUB: "bob",
    }

    # Its logout: read the refresh token back (to revoke it), then erase both token entries.
    assert secret_of(run_helper, HUB_REFRESH) is not None
    for server in (HUB_ACCESS, HUB_REFRESH):
        erased = run_helper("erase", server)
        assert (erased.returncode, erased.stdout) == (0, ""), erased

    assert secret_of(run_helper, HUB_REFRESH) is None
    assert secret_of(run_helper, HUB_ACCESS) is None
    for spelling in (HUB, "docker.io", "registry-1.docker.io"):
        reply = secret_of(run_helper, spelling)
        assert reply is not None, spelling
        assert reply["Secret"] == "PAT", spelling
    assert json.loads(run_helper("list").stdout) == {HUB: "bob"}


def test_a_path_is_its_own_entry_and_never_replaces_the_hosts(run_helper: RunHelper) -> None:
    store(run_helper, "registry.example.com", "alice", "HOST-PW")
    store(run_helper, "registry.example.com/team-a", "team-a-bot", "TEAM-A-PW")

    host = secret_of(run_helper, "https://registry.example.com/")
    team = secret_of(run_helper, "https://registry.example.com/v2/team-a/")
    assert host is not None
    assert (host["Username"], host["Secret"]) == ("alice", "HOST-PW")
    assert team is not None
    assert (team["Username"], team["Secret"]) == ("team-a-bot", "TEAM-A-PW")
    assert json.loads(run_helper("list").stdout) == {
        "registry.example.com": "alice",
        "registry.example.com/team-a": "team-a-bot",
    }

    assert run_helper("erase", "registry.example.com/team-a").returncode == 0
    host_after = secret_of(run_helper, "registry.example.com")
    assert host_after is not None
    assert host_after["Secret"] == "HOST-PW"
    assert json.loads(run_helper("list").stdout) == {"registry.example.com": "alice"}


def test_erasing_the_host_leaves_its_path_entries(run_helper: RunHelper) -> None:
    store(run_helper, "registry.example.com/team-a", "team-a-bot", "TEAM-A-PW")
    store(run_helper, "registry.example.com", "alice", "HOST-PW")

    assert run_helper("erase", "https://registry.example.com").returncode == 0

    assert secret_of(run_helper, "registry.example.com") is None
    team = secret_of(run_helper, "registry.example.com/team-a")
    assert team is not None
    assert team["Secret"] == "TEAM-A-PW"


def test_get_of_a_path_without_an_entry_falls_back_to_the_longest_stored_prefix(
    run_helper: RunHelper,
) -> None:
    store(run_helper, "registry.example.com:5000", "alice", "HOST-PW")
    store(run_helper, "registry.example.com:5000/team-a", "team-a-bot", "TEAM-A-PW")

    deep = secret_of(run_helper, "https://registry.example.com:5000/team-a/app/x")
    other = secret_of(run_helper, "registry.example.com:5000/team-b/app")
    assert deep == {
        "ServerURL": "https://registry.example.com:5000/team-a/app/x",
        "Username": "team-a-bot",
        "Secret": "TEAM-A-PW",
    }
    assert other == {
        "ServerURL": "registry.example.com:5000/team-b/app",
        "Username": "alice",
        "Secret": "HOST-PW",
    }
    # Case matters in a path: Team-A is not team-a.
    upper = secret_of(run_helper, "registry.example.com:5000/Team-A")
    assert upper is not None
    assert upper["Secret"] == "HOST-PW"


def test_erase_of_a_path_without_an_entry_erases_nothing(run_helper: RunHelper) -> None:
    store(run_helper, "registry.example.com", "alice", "HOST-PW")

    erased = run_helper("erase", "registry.example.com/team-a")

    assert (erased.returncode, erased.stdout) == (0, "")
    host = secret_of(run_helper, "registry.example.com")
    assert host is not None
    assert host["Secret"] == "HOST-PW"


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
def test_an_invalid_url_error_never_shows_the_password(
    run_helper: RunHelper, helper_env: dict[str, str], url: str
) -> None:
    from support import run_helper_in

    password = "PW-IN-URL" if "PW-IN-URL" in url else "IN-URL"
    payload = json.dumps({"ServerURL": url, "Username": "u", "Secret": "s"})
    results = [run_helper("store", payload)]
    if " " not in url:  # get/erase refuse whitespace before parsing
        results += [run_helper("get", url), run_helper("erase", url)]
    results.append(run_helper_in(helper_env, "registries", "remove", url))
    for result in results:
        assert result.returncode == 1, result
        assert "Traceback" not in result.stderr
        assert password not in result.stdout + result.stderr, result
