"""Custom domains and pull-through aliases of an ECR registry, through the installed executable.

`registry.corp.example` stands for a CNAME or proxy in front of a private ECR registry: its
`get` must answer with a token minted for the ECR registry (moto_server behind the counting
proxy of support.aws_emulator), shared with the ECR host itself through the token cache.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import NOT_FOUND, helper_listing, keyring_usernames, run_helper_in
from support.ecr import (
    GET_TOKEN,
    HEAVY,
    MOTO_PASSWORD_PREFIX,
    STORED_KEY,
    STORED_SECRET,
    cache_file,
    get,
    imported_modules,
    index_file,
    store,
)
from support.registries import assert_one_line_error, read_config, registries

from standins.environment import FAKE_AWS_ENV

if TYPE_CHECKING:
    from support.aws_emulator import AwsProxy

pytest_plugins = ["support.aws_emulator"]  # moto_server, aws_proxy, ecr_env

ENV_KEY = FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"]
NEEDS_ECR = "--ecr-registry needs a private Amazon ECR registry"


@pytest.fixture
def host() -> str:
    """The ECR registry behind the alias, of this test's own (the Secret Service is shared)."""
    return f"{10**11 + uuid.uuid4().int % (9 * 10**11)}.dkr.ecr.us-west-2.amazonaws.com"


@pytest.fixture
def alias() -> str:
    """A custom domain in front of `host`, of this test's own."""
    return f"registry-{uuid.uuid4().hex[:12]}.corp.example"


def alias_of(host: str) -> str:
    return f"ecr-alias:{host}"


def reply(env: dict[str, str], server: str) -> dict[str, str]:
    result = get(env, server)
    assert result.returncode == 0, result
    answer: dict[str, str] = json.loads(result.stdout)
    return answer


# -- the protocol ------------------------------------------------------------------------------


def test_get_of_an_alias_answers_with_a_token_minted_for_the_ecr_registry_and_shares_it(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, alias: str
) -> None:
    result = store(ecr_env, alias, alias_of(host), "")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), result

    via_alias = reply(ecr_env, f"https://{alias}/v2/")
    via_host = reply(ecr_env, host)

    assert via_alias["ServerURL"] == f"https://{alias}/v2/"  # echoes what the client asked
    assert via_alias["Username"] == "AWS"
    assert via_alias["Secret"].startswith(MOTO_PASSWORD_PREFIX)
    assert via_alias["Secret"] == via_host["Secret"]
    [call] = aws_proxy.calls_of(GET_TOKEN)  # store's verification; both gets hit the cache
    assert (call.region, call.service, call.access_key_id) == ("us-west-2", "ecr", ENV_KEY)
    tokens = json.loads(cache_file(ecr_env).read_text())["tokens"]
    assert [token["registry"] for token in tokens.values()] == [host]
    entry = json.loads(index_file(ecr_env).read_text())["registries"][alias]
    assert entry == {
        "ServerURL": alias,
        "Username": "AWS",
        "Source": "ecr-alias",
        "Options": {"target": host},
    }
    assert keyring_usernames(ecr_env, alias) == []


def test_an_alias_mints_with_the_source_recorded_for_its_ecr_registry(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, alias: str
) -> None:
    assert store(ecr_env, host, STORED_KEY, STORED_SECRET).returncode == 0
    assert store(ecr_env, alias, alias_of(host), "").returncode == 0
    cache_file(ecr_env).unlink()

    secret = reply(ecr_env, alias)["Secret"]

    assert reply(ecr_env, host)["Secret"] == secret
    assert [c.access_key_id for c in aws_proxy.calls_of(GET_TOKEN)] == [STORED_KEY, STORED_KEY]


def test_a_cached_alias_get_imports_neither_botocore_nor_keyring(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, alias: str
) -> None:
    assert store(ecr_env, alias, alias_of(host), "").returncode == 0
    hit = imported_modules(ecr_env, "get", alias)
    assert not hit & set(HEAVY), sorted(hit & set(HEAVY))
    assert aws_proxy.count(GET_TOKEN) == 1


def test_erasing_the_alias_forgets_only_the_alias(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, alias: str
) -> None:
    assert store(ecr_env, host, STORED_KEY, STORED_SECRET).returncode == 0
    assert store(ecr_env, alias, alias_of(host), "").returncode == 0
    secret = reply(ecr_env, host)["Secret"]

    result = run_helper_in(ecr_env, "erase", stdin=alias)

    assert (result.returncode, result.stdout) == (0, ""), result
    assert (get(ecr_env, alias).returncode, get(ecr_env, alias).stdout) == (1, NOT_FOUND + "\n")
    assert reply(ecr_env, host)["Secret"] == secret  # the cached token survives
    assert helper_listing(ecr_env) == {host: STORED_KEY}
    assert keyring_usernames(ecr_env, host) == [STORED_KEY]
    assert aws_proxy.count(GET_TOKEN) == 1


def test_list_shows_the_alias_and_registries_list_names_its_target(
    ecr_env: dict[str, str], host: str, alias: str
) -> None:
    assert store(ecr_env, alias, alias_of(host), "").returncode == 0

    assert helper_listing(ecr_env) == {alias: "AWS", host: "AWS"}
    table = registries(ecr_env, "list").stdout.splitlines()
    assert table[1].split() == [alias, "AWS", "ecr", "alias", "of", host]


@pytest.mark.parametrize(
    "username",
    [
        "ecr-alias:registry.example.com",
        "ecr-alias:public.ecr.aws",
        "ecr-alias:",
        "ecr-alias:not a host",
    ],
)
def test_an_alias_of_something_that_is_not_a_private_ecr_registry_is_refused(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, alias: str, username: str
) -> None:
    result = store(ecr_env, alias, username, "")
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1
    assert "does not name an Amazon ECR registry" in result.stdout
    assert helper_listing(ecr_env) == {}
    assert aws_proxy.calls == []


def test_an_alias_whose_registry_yields_no_token_is_refused_and_nothing_stored(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, alias: str
) -> None:
    aws_proxy.fail(GET_TOKEN, "AccessDeniedException", "no ecr:GetAuthorizationToken for you")
    result = store(ecr_env, alias, alias_of(host), "")
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1
    assert host in result.stdout
    assert "AccessDeniedException" in result.stdout
    assert helper_listing(ecr_env) == {}


def test_ordinary_credentials_stored_later_replace_the_alias(
    ecr_env: dict[str, str], host: str, alias: str
) -> None:
    assert store(ecr_env, alias, alias_of(host), "").returncode == 0
    assert store(ecr_env, alias, "alice", "alice-pw").returncode == 0
    answer = reply(ecr_env, alias)
    assert (answer["Username"], answer["Secret"]) == ("alice", "alice-pw")

    assert store(ecr_env, alias, alias_of(host), "").returncode == 0
    assert keyring_usernames(ecr_env, alias) == []  # the alias keeps no secret
    assert reply(ecr_env, alias)["Secret"].startswith(MOTO_PASSWORD_PREFIX)


def test_an_alias_under_a_path_answers_that_path_and_below_only(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, alias: str
) -> None:
    assert store(ecr_env, alias, "alice", "alice-pw").returncode == 0
    assert store(ecr_env, f"{alias}/team", alias_of(host), "").returncode == 0

    deep = reply(ecr_env, f"https://{alias}/v2/team/app")
    assert deep["ServerURL"] == f"https://{alias}/v2/team/app"
    assert (deep["Username"], deep["Secret"][:24]) == ("AWS", MOTO_PASSWORD_PREFIX)
    assert reply(ecr_env, alias)["Secret"] == "alice-pw"
    assert reply(ecr_env, f"{alias}/other")["Secret"] == "alice-pw"
    assert helper_listing(ecr_env) == {alias: "alice", f"{alias}/team": "AWS", host: "AWS"}

    assert run_helper_in(ecr_env, "erase", stdin=f"{alias}/team").returncode == 0
    assert reply(ecr_env, f"{alias}/team/app")["Secret"] == "alice-pw"
    assert keyring_usernames(ecr_env, alias) == ["alice"]


def test_a_path_on_an_ecr_host_is_the_registrys_own_entry(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    stored = store(ecr_env, f"https://{host}/team/app", STORED_KEY, STORED_SECRET)
    assert stored.returncode == 0, stored

    for asked in (host, f"{host}/other", f"https://{host}/team/app"):
        answer = reply(ecr_env, asked)
        assert (answer["ServerURL"], answer["Username"]) == (asked, "AWS")
    assert [c.access_key_id for c in aws_proxy.calls_of(GET_TOKEN)] == [STORED_KEY]
    assert helper_listing(ecr_env) == {f"https://{host}/team/app": STORED_KEY}

    assert run_helper_in(ecr_env, "erase", stdin=f"{host}/something-else").returncode == 0
    assert helper_listing(ecr_env) == {}
    assert keyring_usernames(ecr_env, host) == []


# -- registries add --ecr-registry -------------------------------------------------------------


def test_registries_add_with_ecr_registry_routes_the_alias_to_the_helper(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, alias: str
) -> None:
    result = registries(ecr_env, "add", alias, "--ecr-registry", host)

    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    assert read_config(ecr_env) == {"credHelpers": {alias: "convox"}}
    assert reply(ecr_env, alias)["Secret"] == reply(ecr_env, host)["Secret"]
    assert aws_proxy.count(GET_TOKEN) == 1

    assert registries(ecr_env, "remove", alias).stdout == "Done.\n"
    assert not read_config(ecr_env).get("credHelpers")
    assert get(ecr_env, alias).returncode == 1
    assert reply(ecr_env, host)["Secret"].startswith(MOTO_PASSWORD_PREFIX)


def test_registries_add_with_ecr_registry_and_a_profile_records_it_for_the_ecr_registry(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, alias: str
) -> None:
    Path(ecr_env["AWS_CONFIG_FILE"]).write_text(
        "[profile pull]\n"
        f"aws_access_key_id = {STORED_KEY}\n"
        f"aws_secret_access_key = {STORED_SECRET}\n"
    )

    result = registries(ecr_env, "add", alias, "--ecr-registry", host, "--profile", "pull")

    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    entries = json.loads(index_file(ecr_env).read_text())["registries"]
    assert entries[host]["Options"] == {"profile": "pull"}
    assert entries[alias]["Options"] == {"target": host}
    assert reply(ecr_env, alias)["Secret"].startswith(MOTO_PASSWORD_PREFIX)
    assert [c.access_key_id for c in aws_proxy.calls_of(GET_TOKEN)] == [STORED_KEY]


@pytest.mark.parametrize(
    ("server", "target", "expected"),
    [
        ("registry.corp.example", "registry.example.com", NEEDS_ECR),
        ("registry.corp.example", "public.ecr.aws", NEEDS_ECR),
        ("registry.corp.example", "not a host", NEEDS_ECR),
        (
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "123456789012.dkr.ecr.us-west-2.amazonaws.com",
            "is already one",
        ),
    ],
)
def test_registries_add_with_a_bad_ecr_registry_is_one_line_and_changes_nothing(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, server: str, target: str, expected: str
) -> None:
    result = registries(ecr_env, "add", server, "--ecr-registry", target)

    line = assert_one_line_error(result)
    assert expected in line
    assert helper_listing(ecr_env) == {}
    assert not (Path(ecr_env["DOCKER_CONFIG"]) / "config.json").exists()
    assert aws_proxy.calls == []


@pytest.mark.clients
def test_docker_pull_through_the_alias_gets_the_ecr_token(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, alias: str, tmp_path: Path
) -> None:
    assert registries(ecr_env, "add", alias, "--ecr-registry", host, "--no-verify").returncode == 0
    assert aws_proxy.count(GET_TOKEN) == 0
    env = {
        **ecr_env,
        "DOCKER_HOST": f"unix://{tmp_path / 'no-docker-daemon.sock'}",
        "DOCKER_CLI_HINTS": "false",
    }

    pull = subprocess.run(
        ["docker", "pull", f"{alias}/convox/app:v1"],
        input="",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # No daemon: the pull fails after the credentials were fetched through the helper.
    assert "Cannot connect to the Docker daemon" in pull.stderr, pull
    [call] = aws_proxy.calls_of(GET_TOKEN)
    assert call.region == "us-west-2"
