"""`registries add | remove | list | import` through the installed executable, without a terminal.

A real Secret Service behind the helper (conftest) and, where credentials are checked, the real
docker-registry with htpasswd on 127.0.0.1 (standins.registry). Terminal prompts are covered in
test_registries_tty.py, real clients and ECR in test_registries_clients.py.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import uuid
from pathlib import Path

import pytest
from support import docker_config_path, helper_listing, keyring_usernames, run_helper_in
from support.registries import (
    REAL_WORLD_CONFIG,
    add,
    assert_nothing_stored,
    assert_one_line_error,
    get_credentials,
    read_config,
    registries,
    tokens,
)

from standins.processes import free_loopback_port
from standins.registry import Registry

DOCKER_HUB_URL = "https://index.docker.io/v1/"
HUB_ACCESS = DOCKER_HUB_URL + "access-token"
HUB_REFRESH = DOCKER_HUB_URL + "refresh-token"

# --- add -------------------------------------------------------------------------------------


def test_add_checks_stores_through_the_helper_and_routes_docker_to_it(
    helper_env: dict[str, str], registry: Registry
) -> None:
    result = add(helper_env, registry.host, registry.username, registry.password)

    assert (result.returncode, result.stdout, result.stderr) == (0, "Done.\n", ""), result
    assert get_credentials(helper_env, registry.host) == {
        "ServerURL": registry.host,
        "Username": registry.username,
        "Secret": registry.password,
    }
    assert helper_listing(helper_env) == {registry.host: registry.username}
    assert read_config(helper_env) == {"credHelpers": {registry.host: "convox"}}
    assert stat.S_IMODE(docker_config_path(helper_env).stat().st_mode) == 0o600


def test_add_with_a_wrong_password_is_refused_in_one_line_and_changes_nothing(
    helper_env: dict[str, str], registry: Registry
) -> None:
    wrong = "not-" + registry.password
    result = add(helper_env, registry.host, registry.username, wrong)

    line = assert_one_line_error(result, wrong, registry.password)
    assert line.startswith(f"unable to authenticate to {registry.host}: ")
    assert "401" in line
    assert_nothing_stored(helper_env, registry.host)
    assert not docker_config_path(helper_env).exists()


def test_add_with_no_verify_stores_without_asking_the_registry(helper_env: dict[str, str]) -> None:
    server = f"127.0.0.1:{free_loopback_port()}"  # nothing listens there

    result = add(helper_env, server, "bob", "b0b-pass", "--no-verify")

    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    assert get_credentials(helper_env, server) == {
        "ServerURL": server,
        "Username": "bob",
        "Secret": "b0b-pass",
    }


def test_add_of_an_unreachable_registry_is_one_line_and_changes_nothing(
    helper_env: dict[str, str],
) -> None:
    server = f"127.0.0.1:{free_loopback_port()}"

    result = add(helper_env, server, "bob", "b0b-pass")

    line = assert_one_line_error(result, "b0b-pass")
    assert line.startswith(f"cannot reach registry {server} (")
    assert "connection refused" in line
    assert "--no-verify" in line
    assert_nothing_stored(helper_env, server)
    assert not docker_config_path(helper_env).exists()


def test_add_strips_the_scheme_and_path_and_keys_credhelpers_as_docker_looks_them_up(
    helper_env: dict[str, str], registry: Registry
) -> None:
    result = add(helper_env, f"http://{registry.host}/", registry.username, registry.password)

    assert result.returncode == 0, result
    assert read_config(helper_env) == {"credHelpers": {registry.host: "convox"}}
    assert helper_listing(helper_env) == {registry.host: registry.username}


@pytest.mark.parametrize("typed", ["docker.io", "index.docker.io", DOCKER_HUB_URL])
def test_add_docker_hub_routes_both_keys_docker_and_skopeo_look_up(
    helper_env: dict[str, str], typed: str
) -> None:
    # --no-verify: Docker Hub is never contacted from the tests (loopback only).
    result = add(helper_env, typed, "hubuser", "hub-token", "--no-verify")

    assert result.returncode == 0, result
    # docker 28 asks credHelpers for https://index.docker.io/v1/, skopeo 1.9 for docker.io.
    assert read_config(helper_env) == {
        "credHelpers": {DOCKER_HUB_URL: "convox", "docker.io": "convox"}
    }
    assert helper_listing(helper_env) == {DOCKER_HUB_URL: "hubuser"}
    for asked in (DOCKER_HUB_URL, "docker.io"):
        assert (get_credentials(helper_env, asked) or {}).get("Secret") == "hub-token"


def test_add_merges_into_a_real_world_config_keeping_everything_else_token_for_token(
    helper_env: dict[str, str], registry: Registry
) -> None:
    path = docker_config_path(helper_env)
    path.write_text(REAL_WORLD_CONFIG)
    path.chmod(0o644)

    result = add(helper_env, registry.host, registry.username, registry.password)

    assert result.returncode == 0, result
    written = path.read_text()
    expected = REAL_WORLD_CONFIG.replace(
        '"gcr.io": "gcloud"', f'"gcr.io": "gcloud", "{registry.host}": "convox"'
    )
    assert tokens(written) == tokens(expected)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert written.startswith('{\n\t"auths": {\n\t\t"https://index.docker.io/v1/": {},')


def test_add_removes_the_plaintext_secret_docker_login_left_for_that_server(
    helper_env: dict[str, str], registry: Registry
) -> None:
    basic = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    docker_config_path(helper_env).write_text(
        json.dumps(
            {
                "auths": {
                    f"http://{registry.host}": {"auth": basic, "email": "a@example.com"},
                    registry.host: {"username": "alice", "password": registry.password},
                    "other.example.com": {"auth": "b3RoZXI6c2VjcmV0"},
                }
            }
        )
    )

    result = add(helper_env, registry.host, registry.username, registry.password)

    assert result.returncode == 0, result
    assert result.stdout == "Done.\n"
    assert f"Removed the plaintext password for http://{registry.host}" in result.stderr
    assert read_config(helper_env) == {
        "auths": {
            f"http://{registry.host}": {"email": "a@example.com"},
            registry.host: {"username": "alice"},
            "other.example.com": {"auth": "b3RoZXI6c2VjcmV0"},
        },
        "credHelpers": {registry.host: "convox"},
    }
    assert registry.password not in result.stdout + result.stderr


def test_add_with_a_config_that_is_not_json_is_one_line_and_changes_nothing(
    helper_env: dict[str, str], registry: Registry
) -> None:
    broken = '{"auths": {"ghcr.io": {"auth": "eDp5"}},\n  "credHelpers": {\n'
    path = docker_config_path(helper_env)
    path.write_text(broken)
    before = path.stat()

    result = add(helper_env, registry.host, registry.username, registry.password)

    line = assert_one_line_error(result, registry.password)
    assert line.startswith(f"Docker config {path} is not valid JSON (")
    assert path.read_text() == broken
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert_nothing_stored(helper_env, registry.host)


def test_add_creates_the_docker_config_directory_when_missing(
    helper_env: dict[str, str], registry: Registry, tmp_path: Path
) -> None:
    env = {**helper_env, "DOCKER_CONFIG": str(tmp_path / "new" / "docker")}

    result = add(env, registry.host, registry.username, registry.password)

    assert result.returncode == 0, result
    assert read_config(env) == {"credHelpers": {registry.host: "convox"}}
    assert stat.S_IMODE((tmp_path / "new" / "docker").stat().st_mode) == 0o700


def test_add_replaces_a_route_to_another_helper_and_says_so(
    helper_env: dict[str, str], registry: Registry
) -> None:
    docker_config_path(helper_env).write_text(json.dumps({"credHelpers": {registry.host: "pass"}}))

    result = add(helper_env, registry.host, registry.username, registry.password)

    assert result.returncode == 0, result
    assert f"{registry.host} was routed to docker-credential-pass" in result.stderr
    assert read_config(helper_env) == {"credHelpers": {registry.host: "convox"}}


def test_add_refuses_a_password_flag_with_a_hint_and_never_shows_it(
    helper_env: dict[str, str], registry: Registry
) -> None:
    result = registries(
        helper_env, "add", registry.host, "--username", "alice", "--password", "hunter2-secret"
    )

    line = assert_one_line_error(result, "hunter2-secret")
    assert line.startswith("--password is not accepted")
    assert "--password-stdin" in line
    assert_nothing_stored(helper_env, registry.host)


def test_a_mistyped_password_option_is_refused_without_echoing_its_value(
    helper_env: dict[str, str],
) -> None:
    result = registries(helper_env, "add", "registry.example.com", "--pasword", "hunter2-secret")

    line = assert_one_line_error(result, "hunter2-secret")
    assert line == (
        "unknown option --pasword; see `docker-credential-convox registries add --help`"
    )


def test_add_without_a_terminal_needs_username_and_password_stdin(
    helper_env: dict[str, str],
) -> None:
    result = registries(helper_env, "add", "registry.example.com")

    line = assert_one_line_error(result)
    assert line == (
        "no terminal to prompt on: give --username USER and pipe the password into --password-stdin"
    )


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["add", ""], "", "no server given: "),
        (["add", "  "], "", "no server given: "),
        (["add", "registry.example.com", "--username", " ", "--password-stdin"], "pw", "the user"),
        (["add", "registry.example.com", "--username", "u", "--password-stdin"], "\n", "the pass"),
        (["add", "bad host!"], "", "invalid server URL 'bad host!'"),
        (["add", "registry.example.com", "--profile", "p"], "", "--profile applies to Amazon"),
        (["remove"], "", "the following arguments are required: SERVER"),
        (["frobnicate"], "", "argument COMMAND: invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_is_refused_in_one_line(
    helper_env: dict[str, str], args: list[str], stdin: str, message: str
) -> None:
    result = registries(helper_env, *args, stdin=stdin)

    line = assert_one_line_error(result)
    assert message in line
    assert helper_listing(helper_env) == {}
    assert not docker_config_path(helper_env).exists()


# --- remove ----------------------------------------------------------------------------------


def test_remove_forgets_the_secret_the_index_entry_and_the_route_only(
    helper_env: dict[str, str], registry: Registry
) -> None:
    docker_config_path(helper_env).write_text(
        json.dumps({"credHelpers": {"gcr.io": "gcloud"}, "psFormat": "table"}, indent=4)
    )
    assert add(helper_env, registry.host, registry.username, registry.password).returncode == 0

    result = registries(helper_env, "remove", registry.host)

    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    assert result.stderr == f"Removed 1 entry for {registry.host}.\n"
    assert_nothing_stored(helper_env, registry.host)
    assert read_config(helper_env) == {"credHelpers": {"gcr.io": "gcloud"}, "psFormat": "table"}
    assert docker_config_path(helper_env).read_text().startswith('{\n    "credHelpers"')


def test_remove_of_an_unknown_registry_says_no_such_registry_and_exits_1(
    helper_env: dict[str, str],
) -> None:
    result = registries(helper_env, "remove", "unknown.example.com:5000")

    assert assert_one_line_error(result) == "no such registry: unknown.example.com:5000"


def test_remove_accepts_another_spelling_of_the_registry(
    helper_env: dict[str, str], registry: Registry
) -> None:
    assert add(helper_env, registry.host, registry.username, registry.password).returncode == 0

    result = registries(helper_env, "remove", f"https://{registry.host}/")

    assert result.returncode == 0, result
    assert_nothing_stored(helper_env, registry.host)
    assert read_config(helper_env) == {"credHelpers": {}}


def test_remove_of_docker_hub_drops_both_routes(helper_env: dict[str, str]) -> None:
    assert add(helper_env, "docker.io", "hubuser", "hub-token", "--no-verify").returncode == 0

    result = registries(helper_env, "remove", "docker.io")

    assert result.returncode == 0, result
    assert read_config(helper_env) == {"credHelpers": {}}
    assert get_credentials(helper_env, DOCKER_HUB_URL) is None


def test_remove_of_a_path_forgets_that_entry_only_and_keeps_the_route(
    helper_env: dict[str, str],
) -> None:
    assert add(helper_env, "registry.example.com", "alice", "pw", "--no-verify").returncode == 0
    request = '{"ServerURL":"registry.example.com/team-a","Username":"bot","Secret":"bot-pw"}'
    assert run_helper_in(helper_env, "store", stdin=request).returncode == 0
    assert "registry.example.com/team-a" in registries(helper_env, "list").stdout

    result = registries(helper_env, "remove", "https://registry.example.com/v2/team-a/")

    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    assert result.stderr == "Removed 1 entry for registry.example.com/team-a.\n"
    assert helper_listing(helper_env) == {"registry.example.com": "alice"}
    assert read_config(helper_env) == {"credHelpers": {"registry.example.com": "convox"}}


def store_login(env: dict[str, str], server: str, username: str, secret: str) -> None:
    """`store` through the protocol, as a client does."""
    request = json.dumps({"ServerURL": server, "Username": username, "Secret": secret})
    assert run_helper_in(env, "store", stdin=request).returncode == 0


def test_remove_of_docker_hub_forgets_the_web_logins_token_entries_too(
    helper_env: dict[str, str],
) -> None:
    # The Secret Service is the session's: other tests file items under docker.io too, so this
    # one looks only for its own username.
    bob = f"bob-{uuid.uuid4().hex[:8]}"
    # What Docker CLI 27+ web-based `docker login` stores, in its order: three entries.
    stored = {
        HUB_ACCESS: (bob, "ACCESS-TOKEN"),
        HUB_REFRESH: (bob, "REFRESH-TOKEN..client"),
        DOCKER_HUB_URL: (bob, "PAT"),
    }
    for server, (username, secret) in stored.items():
        store_login(helper_env, server, username, secret)
    keys = ("docker.io", "docker.io/access-token", "docker.io/refresh-token")
    assert all(bob in keyring_usernames(helper_env, key) for key in keys)

    result = registries(helper_env, "remove", "docker.io")

    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    assert result.stderr == "Removed 3 entries for docker.io.\n"
    assert helper_listing(helper_env) == {}
    for server in stored:
        assert get_credentials(helper_env, server) is None, server
    for key in keys:  # straight from the Secret Service: the refresh token is gone too
        assert bob not in keyring_usernames(helper_env, key), key


def test_remove_of_a_registry_forgets_its_path_entries_too(helper_env: dict[str, str]) -> None:
    # Usernames of this test's own: the session's Secret Service holds other tests' items.
    alice, bot, ci = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("alice", "bot", "ci"))
    assert add(helper_env, "registry.example.com", alice, "pw", "--no-verify").returncode == 0
    store_login(helper_env, "registry.example.com/team-a", bot, "bot-pw")
    store_login(helper_env, "https://registry.example.com/v2/team-b/app", ci, "ci-pw")
    store_login(helper_env, "registry.example.com:5000/team-a", "other", "other-pw")

    result = registries(helper_env, "remove", "registry.example.com")

    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    assert result.stderr == "Removed 3 entries for registry.example.com.\n"
    # Another port is another registry: kept.
    assert helper_listing(helper_env) == {"registry.example.com:5000/team-a": "other"}
    assert alice not in keyring_usernames(helper_env, "registry.example.com")
    assert bot not in keyring_usernames(helper_env, "registry.example.com/team-a")
    assert ci not in keyring_usernames(helper_env, "registry.example.com/team-b/app")
    assert read_config(helper_env) == {"credHelpers": {}}


def test_remove_of_a_registry_with_path_entries_only_forgets_them(
    helper_env: dict[str, str],
) -> None:
    store_login(helper_env, HUB_ACCESS, "bob", "ACCESS-TOKEN")
    store_login(helper_env, HUB_REFRESH, "bob", "REFRESH-TOKEN..client")

    result = registries(helper_env, "remove", "docker.io")

    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    assert result.stderr == "Removed 2 entries for docker.io.\n"
    assert helper_listing(helper_env) == {}


def test_erase_of_a_registry_keeps_its_path_entries(helper_env: dict[str, str]) -> None:
    # The protocol's erase keeps its per-key meaning: Docker's logout erases each entry itself.
    store_login(helper_env, DOCKER_HUB_URL, "bob", "PAT")
    store_login(helper_env, HUB_REFRESH, "bob", "REFRESH-TOKEN..client")

    assert run_helper_in(helper_env, "erase", stdin=DOCKER_HUB_URL).returncode == 0

    assert helper_listing(helper_env) == {HUB_REFRESH: "bob"}


def test_add_with_a_path_stores_and_routes_the_registry_itself(helper_env: dict[str, str]) -> None:
    result = add(helper_env, "https://registry.example.com/team-a/", "alice", "pw", "--no-verify")

    assert result.returncode == 0, result
    assert helper_listing(helper_env) == {"registry.example.com": "alice"}
    assert read_config(helper_env) == {"credHelpers": {"registry.example.com": "convox"}}


# --- list ------------------------------------------------------------------------------------


def test_list_prints_a_table_of_server_username_and_kind_without_secrets(
    helper_env: dict[str, str],
) -> None:
    assert (
        add(helper_env, "registry.example.com", "alice", "alice-pw", "--no-verify").returncode == 0
    )
    assert add(helper_env, "127.0.0.1:5000", "bob", "bob-pw", "--no-verify").returncode == 0

    result = registries(helper_env, "list")
    bare = registries(helper_env)

    assert result.returncode == 0, result
    assert result.stdout == (
        "SERVER                USERNAME  KIND\n"
        "127.0.0.1:5000        bob       keyring\n"
        "registry.example.com  alice     keyring\n"
    )
    assert bare.stdout == result.stdout
    assert "alice-pw" not in result.stdout + result.stderr


def test_list_json_is_an_array_for_scripts(helper_env: dict[str, str]) -> None:
    assert (
        add(helper_env, "registry.example.com", "alice", "alice-pw", "--no-verify").returncode == 0
    )

    result = registries(helper_env, "list", "--json")

    assert result.returncode == 0, result
    assert json.loads(result.stdout) == [
        {
            "server": "registry.example.com",
            "key": "registry.example.com",
            "username": "alice",
            "kind": "registry",
            "source": "keyring",
            "options": {},
            "scope": "local",
        }
    ]


def test_list_with_nothing_stored_prints_the_header_and_a_hint(helper_env: dict[str, str]) -> None:
    result = registries(helper_env, "list")

    assert result.returncode == 0, result
    assert result.stdout == "SERVER  USERNAME  KIND\n"
    assert "registries add SERVER" in result.stderr
    assert json.loads(registries(helper_env, "list", "--json").stdout) == []


def test_list_still_works_when_the_docker_config_is_broken(helper_env: dict[str, str]) -> None:
    assert add(helper_env, "registry.example.com", "alice", "pw", "--no-verify").returncode == 0
    docker_config_path(helper_env).write_text("{not json")

    result = registries(helper_env, "list")

    assert result.returncode == 0, result
    assert "registry.example.com  alice" in result.stdout
    assert result.stderr.startswith("warning: Docker config ")


# --- import ----------------------------------------------------------------------------------


def _auth(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


PLAINTEXT_CONFIG: dict[str, object] = {
    "auths": {
        "registry.example.com": {"auth": _auth("alice", "alice-pw"), "email": "a@example.com"},
        "https://index.docker.io/v1/": {"auth": _auth("hubuser", "hub-pw")},
        "127.0.0.1:5000": {"username": "bob", "password": "bob-pw"},
        "quay.io": {"identitytoken": "quay-refresh-token"},
        "123456789012.dkr.ecr.us-east-1.amazonaws.com": {"auth": _auth("AWS", "ecr-token")},
        "gcr.io": {"auth": _auth("_json_key", "gcr-pw")},
        "broken.example.com": {"auth": "%%%not-base64"},
        "empty.example.com": {},
    },
    "credHelpers": {"gcr.io": "gcloud"},
    "HttpHeaders": {"X-Trace": "\u003cid\u003e"},
}


def test_import_moves_every_plaintext_login_into_the_keyring_and_routes_it(
    helper_env: dict[str, str],
) -> None:
    docker_config_path(helper_env).write_text(json.dumps(PLAINTEXT_CONFIG, indent=2))

    result = registries(helper_env, "import")

    assert result.returncode == 0, result
    assert result.stdout == (
        "Moved registry.example.com (alice) into the OS keyring.\n"
        "Moved https://index.docker.io/v1/ (hubuser) into the OS keyring.\n"
        "Moved 127.0.0.1:5000 (bob) into the OS keyring.\n"
        "Moved quay.io (an identity token) into the OS keyring.\n"
        "Done.\n"
    )
    assert "Skipped 123456789012.dkr.ecr.us-east-1.amazonaws.com: ECR logins" in result.stderr
    assert "Skipped gcr.io: Docker reads it from docker-credential-gcloud" in result.stderr
    assert "Skipped broken.example.com: its `auth` field is not base64" in result.stderr
    for secret in ("alice-pw", "hub-pw", "bob-pw", "quay-refresh-token"):
        assert secret not in result.stdout + result.stderr
    assert helper_listing(helper_env) == {
        "registry.example.com": "alice",
        DOCKER_HUB_URL: "hubuser",
        "127.0.0.1:5000": "bob",
        "quay.io": "<token>",
    }
    assert (get_credentials(helper_env, "docker.io") or {}).get("Secret") == "hub-pw"
    assert (get_credentials(helper_env, "127.0.0.1:5000") or {}).get("Secret") == "bob-pw"
    assert read_config(helper_env) == {
        "auths": {
            "registry.example.com": {"email": "a@example.com"},
            "https://index.docker.io/v1/": {},
            "127.0.0.1:5000": {"username": "bob"},
            "quay.io": {},
            "123456789012.dkr.ecr.us-east-1.amazonaws.com": {"auth": _auth("AWS", "ecr-token")},
            "gcr.io": {"auth": _auth("_json_key", "gcr-pw")},
            "broken.example.com": {"auth": "%%%not-base64"},
            "empty.example.com": {},
        },
        "credHelpers": {
            "gcr.io": "gcloud",
            "registry.example.com": "convox",
            DOCKER_HUB_URL: "convox",
            "docker.io": "convox",
            "127.0.0.1:5000": "convox",
            "quay.io": "convox",
        },
        "HttpHeaders": {"X-Trace": "<id>"},
    }

    again = registries(helper_env, "import")

    assert again.returncode == 0, again
    config = docker_config_path(helper_env)
    assert again.stdout == f"Nothing to import: no plaintext passwords in {config}.\n"


def test_import_interrupted_by_an_unusable_keyring_loses_nothing_and_can_be_rerun(
    helper_env: dict[str, str], tmp_path: Path
) -> None:
    text = json.dumps(PLAINTEXT_CONFIG, indent=2)
    docker_config_path(helper_env).write_text(text)
    no_bus = {**helper_env, "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'no-bus'}"}

    failed = registries(no_bus, "import")

    assert failed.returncode == 1, failed
    assert "stored 0 of 4;" in failed.stderr
    assert "run the import again" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert docker_config_path(helper_env).read_text() == text

    rerun = registries(helper_env, "import")

    assert rerun.returncode == 0, rerun
    assert len(helper_listing(helper_env)) == 4
    assert "alice-pw" not in docker_config_path(helper_env).read_text()


def test_import_drops_a_stale_plaintext_copy_of_credentials_the_helper_holds(
    helper_env: dict[str, str],
) -> None:
    assert add(helper_env, "registry.example.com", "alice", "new-pw", "--no-verify").returncode == 0
    document = read_config(helper_env)
    document["auths"] = {"registry.example.com": {"auth": _auth("alice", "old-pw")}}
    docker_config_path(helper_env).write_text(json.dumps(document))

    result = registries(helper_env, "import")

    assert result.returncode == 0, result
    assert result.stdout == (
        "Removed the plaintext password for registry.example.com: the helper already holds "
        "its credentials.\nDone.\n"
    )
    assert (get_credentials(helper_env, "registry.example.com") or {}).get("Secret") == "new-pw"
    assert read_config(helper_env)["auths"] == {"registry.example.com": {}}


def test_import_with_nothing_in_plaintext_changes_nothing(helper_env: dict[str, str]) -> None:
    text = '{"auths": {"registry.example.com": {}}, "credsStore": "desktop"}'
    docker_config_path(helper_env).write_text(text)

    result = registries(helper_env, "import")

    assert result.returncode == 0, result
    assert result.stdout.startswith("Nothing to import")
    assert docker_config_path(helper_env).read_text() == text


# --- help and the protocol's own command line ------------------------------------------------


@pytest.mark.parametrize("command", [[], ["add"], ["remove"], ["list"], ["import"], ["doctor"]])
def test_every_command_has_help_with_an_example(
    helper_env: dict[str, str], command: list[str]
) -> None:
    result = registries(helper_env, *command, "--help")

    assert result.returncode == 0, result
    assert result.stdout.startswith(
        f"usage: docker-credential-convox registries {' '.join(command)}".rstrip()
    )
    assert "\nexamples:\n  docker-credential-convox registries " in result.stdout
    assert result.stderr == ""


def test_the_helper_help_mentions_registries(helper_env: dict[str, str]) -> None:
    result = run_helper_in(helper_env, "--help")

    assert "docker-credential-convox registries --help" in result.stdout


def test_registries_is_not_a_protocol_action_and_protocol_usage_is_unchanged(
    helper_env: dict[str, str],
) -> None:
    result = run_helper_in(helper_env, "get", "extra")

    assert (result.returncode, result.stdout) == (
        1,
        "Usage: docker-credential-convox <store|get|erase|list|version>\n",
    )


def test_a_config_symlink_is_followed_and_kept(helper_env: dict[str, str], tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "docker.json").write_text('{"psFormat": "table"}')
    os.symlink(dotfiles / "docker.json", docker_config_path(helper_env))

    result = add(helper_env, "registry.example.com", "alice", "pw", "--no-verify")

    assert result.returncode == 0, result
    assert docker_config_path(helper_env).is_symlink()
    assert json.loads((dotfiles / "docker.json").read_text()) == {
        "psFormat": "table",
        "credHelpers": {"registry.example.com": "convox"},
    }


# --- no usable keyring (issue 19 item 7) ---------------------------------------------------------


def test_add_without_a_keyring_says_so_before_reading_the_password_or_asking_the_registry(
    helper_env: dict[str, str], registry: Registry, tmp_path: Path
) -> None:
    no_bus = {**helper_env, "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'no-bus'}"}
    wrong = "not-" + registry.password  # a check with the registry would refuse it first

    result = add(no_bus, registry.host, registry.username, wrong)

    line = assert_one_line_error(result, wrong)
    assert line.startswith("no usable OS keyring: "), result.stderr
    assert not docker_config_path(helper_env).exists()  # nothing routed
