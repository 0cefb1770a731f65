"""Registries shared through AWS Secrets Manager, end to end: `registries add|remove|list
--shared` by an operator, `get` and `list` on fleet machines that never saw the password.

Every machine is a fresh HOME without any keyring (no D-Bus at all) and a runtime directory of
its own; moto_server behind the counting proxy is Secrets Manager (and KMS); each test has a
scope of its own.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from support import NOT_FOUND, run_helper_in
from support.registries import get_credentials, registries
from support.shared import (
    GET_SECRET,
    MAX_AGE,
    SHARED,
    aws_client,
    prefix_of,
    share,
    unshare,
)

from standins.aws_proxy import AwsProxy
from standins.environment import FAKE_AWS_ENV
from standins.moto_servers import MotoProcess

pytest_plugins = ["support.aws_emulator", "support.shared"]

SERVER = "registry.example.com:5000"
PASSWORD = "fleet-pässword-8c1f"
ASCII_PASSWORD = "fleet-secret-3f9a0c"
ECR_HOST = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
AKID = "AKIAI44QH8DHBEXAMPLE"
SECRET_KEY = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"


def test_add_shared_writes_one_secret_and_a_fresh_machine_answers_get(
    new_machine: object, machine: dict[str, str], moto_server: MotoProcess
) -> None:
    assert callable(new_machine)
    result = share(machine, SERVER, "fleet", PASSWORD, "--no-verify")
    assert (result.returncode, result.stdout) == (0, "Done.\n"), result

    fresh = new_machine("fresh")
    assert get_credentials(fresh, SERVER) == {
        "ServerURL": SERVER,
        "Username": "fleet",
        "Secret": PASSWORD,
    }
    assert get_credentials(fresh, f"https://{SERVER}/v2/") is not None  # any spelling
    # Nothing local: no registry index, no keyring on either machine.
    for env in (machine, fresh):
        assert not (Path(env["XDG_CONFIG_HOME"]) / "docker-credential-convox").exists()
    # One secret, named by the canonical key, with our format and tags.
    sm = aws_client("secretsmanager", moto_server.url)
    name = f"{prefix_of(machine)}/registry.example.com+5000"
    value = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert value == {
        "version": 1,
        "ServerURL": SERVER,
        "Username": "fleet",
        "Secret": PASSWORD,
        "Source": "keyring",
    }
    tags = {tag["Key"]: tag["Value"] for tag in sm.describe_secret(SecretId=name)["Tags"]}
    assert tags == {
        "managed-by": "docker-credential-convox",
        "docker-credential-convox:registry": "registry.example.com:5000",
        "docker-credential-convox:source": "keyring",
    }
    # The operator's Docker is routed to the helper, as a local add does.
    config = json.loads((Path(machine["DOCKER_CONFIG"]) / "config.json").read_text())
    assert config["credHelpers"] == {SERVER: "convox"}


def test_two_spellings_of_one_registry_make_one_secret(
    machine: dict[str, str], moto_server: MotoProcess
) -> None:
    for spelling in ("Registry.Example.com:5000", "https://registry.example.com:5000/"):
        assert share(machine, spelling, "fleet", PASSWORD, "--no-verify").returncode == 0
    sm = aws_client("secretsmanager", moto_server.url)
    names = [
        secret["Name"]
        for secret in sm.list_secrets()["SecretList"]
        if secret["Name"].startswith(prefix_of(machine) + "/")
    ]
    assert names == [f"{prefix_of(machine)}/registry.example.com+5000"]


def test_docker_hub_has_a_readable_name_and_every_spelling_finds_it(
    machine: dict[str, str], moto_server: MotoProcess
) -> None:
    assert share(machine, "docker.io", "hubuser", PASSWORD, "--no-verify").returncode == 0
    sm = aws_client("secretsmanager", moto_server.url)
    assert sm.describe_secret(SecretId=f"{prefix_of(machine)}/docker.io")["Name"]
    for asked in ("https://index.docker.io/v1/", "docker.io", "registry-1.docker.io"):
        reply = get_credentials(machine, asked)
        assert reply is not None
        assert (reply["Username"], reply["Secret"]) == ("hubuser", PASSWORD)


def test_add_shared_with_a_kms_key_records_it_on_the_secret(
    machine: dict[str, str], moto_server: MotoProcess
) -> None:
    kms = aws_client("kms", moto_server.url)
    key_id = kms.create_key(Description="dccx test")["KeyMetadata"]["KeyId"]
    other = kms.create_key(Description="dccx test, rotated")["KeyMetadata"]["KeyId"]
    name = f"{prefix_of(machine)}/registry.example.com+5000"
    sm = aws_client("secretsmanager", moto_server.url)

    assert (
        share(machine, SERVER, "u", PASSWORD, "--no-verify", "--kms-key-id", key_id).returncode == 0
    )
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == key_id
    # Added again with another key: the secret moves to it.
    assert (
        share(machine, SERVER, "u", PASSWORD, "--no-verify", "--kms-key-id", other).returncode == 0
    )
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == other
    assert get_credentials(machine, SERVER) is not None


def test_add_again_rotates_and_machines_follow_within_the_max_age(
    new_machine: object, machine: dict[str, str]
) -> None:
    assert callable(new_machine)
    fleet = {**new_machine("fleet"), MAX_AGE: "1"}
    assert share(machine, SERVER, "fleet", "old-secret", "--no-verify").returncode == 0
    assert get_credentials(fleet, SERVER)["Secret"] == "old-secret"  # type: ignore[index]

    assert share(machine, SERVER, "fleet", "new-secret", "--no-verify").returncode == 0
    # The operator's own machine dropped its cached value at once.
    assert get_credentials(machine, SERVER)["Secret"] == "new-secret"  # type: ignore[index]
    # A fleet machine serves its cached value until its (jittered) age is up, then follows.
    import time

    time.sleep(1.05)
    assert get_credentials(fleet, SERVER)["Secret"] == "new-secret"  # type: ignore[index]


def test_remove_shared_deletes_at_once_and_add_again_works(
    machine: dict[str, str], moto_server: MotoProcess
) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0

    result = unshare(machine, SERVER)

    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    assert get_credentials(machine, SERVER) is None
    config = json.loads((Path(machine["DOCKER_CONFIG"]) / "config.json").read_text())
    assert SERVER not in config.get("credHelpers", {})
    # No recovery window: the name is free again at once.
    assert share(machine, SERVER, "fleet", "again", "--no-verify").returncode == 0
    assert get_credentials(machine, SERVER)["Secret"] == "again"  # type: ignore[index]


def test_remove_shared_of_nothing_is_a_one_line_error(machine: dict[str, str]) -> None:
    result = unshare(machine, SERVER)

    assert result.returncode == 1, result
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == (
        f"no such shared registry: {SERVER} in {machine[SHARED]}"
    ), result


def test_add_shared_without_a_scope_says_which_setting(machine: dict[str, str]) -> None:
    env = {**machine, SHARED: "off"}

    result = share(env, SERVER, "fleet", PASSWORD, "--no-verify")

    assert result.returncode == 1, result
    assert "set DOCKER_CREDENTIAL_CONVOX_SHARED=secretsmanager:PREFIX" in result.stderr
    assert "Traceback" not in result.stderr


def test_registries_list_shows_shared_rows_with_their_scope(machine: dict[str, str]) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0

    table = registries(machine, "list")
    rows = json.loads(registries(machine, "list", "--json").stdout)

    assert table.returncode == 0, table
    assert table.stdout.splitlines()[1].split(None, 2) == [
        SERVER,
        "fleet",
        f"login, shared in {machine[SHARED]}",
    ]
    assert rows == [
        {
            "server": SERVER,
            "key": SERVER,
            "username": "fleet",
            "kind": "registry",
            "source": "keyring",
            "options": {},
            "scope": machine[SHARED],
        }
    ]
    assert PASSWORD not in table.stdout + table.stderr


def test_protocol_list_merges_local_and_shared(
    machine: dict[str, str], secret_service: object
) -> None:
    from standins.secret_service import SecretService

    assert isinstance(secret_service, SecretService)
    env = {**machine, **secret_service.env}  # this machine has a keyring too
    login = {"ServerURL": "local.example", "Username": "me", "Secret": "mine"}
    assert run_helper_in(env, "store", stdin=json.dumps(login)).returncode == 0
    assert share(env, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0

    result = run_helper_in(env, "list")

    assert json.loads(result.stdout) == {"local.example": "me", SERVER: "fleet"}


def test_a_local_entry_wins_over_the_shared_one(
    machine: dict[str, str], secret_service: object, aws_proxy: AwsProxy
) -> None:
    from standins.secret_service import SecretService

    assert isinstance(secret_service, SecretService)
    env = {**machine, **secret_service.env}
    assert share(env, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    login = {"ServerURL": SERVER, "Username": "me", "Secret": "mine"}
    assert run_helper_in(env, "store", stdin=json.dumps(login)).returncode == 0
    asked_before = aws_proxy.count(GET_SECRET)

    assert get_credentials(env, SERVER)["Secret"] == "mine"  # type: ignore[index]
    assert aws_proxy.count(GET_SECRET) == asked_before  # the shared scope was not even asked
    # The protocol's erase forgets the local entry only: the shared one answers again.
    assert run_helper_in(env, "erase", stdin=SERVER).returncode == 0
    assert get_credentials(env, SERVER)["Secret"] == PASSWORD  # type: ignore[index]


def test_shared_ecr_keys_mint_tokens_on_each_machine(
    new_machine: object, machine: dict[str, str], aws_proxy: AwsProxy
) -> None:
    assert callable(new_machine)
    result = share(machine, ECR_HOST, AKID, SECRET_KEY)  # verified: a token is minted
    assert (result.returncode, result.stdout) == (0, "Done.\n"), result
    fleet = new_machine("fleet")
    # The machine's own AWS keys read the scope; the shared keys mint its tokens.
    reply = get_credentials(fleet, ECR_HOST)

    assert reply is not None
    assert reply["Username"] == "AWS"
    signers = [call.access_key_id for call in aws_proxy.calls_of("ecr:GetAuthorizationToken")]
    assert signers == [AKID, AKID]  # the operator's verification, then the machine's own mint
    assert SECRET_KEY not in json.dumps(reply)
    readers = {call.access_key_id for call in aws_proxy.calls_of(GET_SECRET)}
    assert readers == {FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"]}


def test_the_password_is_only_in_the_machines_private_cache(
    new_machine: object, machine: dict[str, str]
) -> None:
    assert callable(new_machine)
    fleet = new_machine("fleet")
    result = share(machine, SERVER, "fleet", ASCII_PASSWORD, "--no-verify")
    assert ASCII_PASSWORD not in result.stdout + result.stderr
    assert get_credentials(fleet, SERVER) is not None
    runtime = Path(fleet["DOCKER_CREDENTIAL_CONVOX_RUNTIME_DIR"])

    holding = []
    for env in (machine, fleet):
        for path in Path(env["HOME"]).rglob("*"):
            if path.is_file() and ASCII_PASSWORD.encode() in path.read_bytes():
                holding.append(path)
    assert holding, "the fleet machine caches the value"
    for path in holding:
        assert runtime in path.parents, path  # never under ~/.cache or ~/.config
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700, path.parent
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700


def test_scope_from_the_config_file_and_off_in_the_environment_wins(
    machine: dict[str, str],
) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    config_dir = Path(machine["XDG_CONFIG_HOME"]) / "docker-credential-convox"
    config_dir.mkdir(parents=True)
    (config_dir / "config.json").write_text(json.dumps({"shared": machine[SHARED]}))
    from_file = {k: v for k, v in machine.items() if k != SHARED}

    assert get_credentials(from_file, SERVER) is not None
    assert get_credentials({**from_file, SHARED: "off"}, SERVER) is None
    assert get_credentials({**from_file, SHARED: ""}, SERVER) is None


def test_a_malformed_config_file_is_a_one_line_error(machine: dict[str, str]) -> None:
    config_dir = Path(machine["XDG_CONFIG_HOME"]) / "docker-credential-convox"
    config_dir.mkdir(parents=True)
    (config_dir / "config.json").write_text('{"shared": ')
    env = {k: v for k, v in machine.items() if k != SHARED}

    result = run_helper_in(env, "get", stdin=SERVER)

    assert result.returncode == 1, result
    assert result.stdout.count("\n") == 1, result
    assert "config.json is not a JSON object" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("setting", "wrong"),
    [
        ("vault:prod", "must be secretsmanager:PREFIX"),
        ("secretsmanager:", "names no prefix"),
        ("secretsmanager:pro d", "not allowed"),
    ],
)
def test_a_bad_scope_is_a_one_line_error(machine: dict[str, str], setting: str, wrong: str) -> None:
    result = run_helper_in({**machine, SHARED: setting}, "get", stdin=SERVER)

    assert result.returncode == 1, result
    assert result.stdout.count("\n") == 1, result
    assert wrong in result.stdout, result


def test_without_a_runtime_directory_nothing_is_cached_and_debug_says_so(
    machine: dict[str, str], aws_proxy: AwsProxy
) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    env = {k: v for k, v in machine.items() if k not in ("DOCKER_CREDENTIAL_CONVOX_RUNTIME_DIR",)}
    env["DOCKER_CREDENTIAL_CONVOX_DEBUG"] = "1"
    if os.path.isdir(f"/run/user/{os.getuid()}"):
        pytest.skip("this machine has a per-user runtime directory")
    before = aws_proxy.count(GET_SECRET)

    results = [run_helper_in(env, "get", stdin=SERVER) for _ in range(3)]

    assert [r.returncode for r in results] == [0, 0, 0]
    assert aws_proxy.count(GET_SECRET) - before == 3
    assert "shared values are not cached" in results[0].stderr
    assert not any(PASSWORD in r.stderr for r in results)


def test_get_of_a_registry_nobody_shared_is_not_found(machine: dict[str, str]) -> None:
    result = run_helper_in(machine, "get", stdin="nobody.example")

    assert (result.returncode, result.stdout) == (1, NOT_FOUND + "\n"), result


def doctor_checks(env: dict[str, str], server: str) -> tuple[int, dict[str, str], str]:
    result = registries(env, "doctor", server)
    found: dict[str, str] = {}
    for line in result.stdout.splitlines():
        status, _, rest = line.partition(": ")
        if status in ("ok", "problem", "note"):
            found[rest.partition(":")[0]] = line
    assert "Traceback" not in result.stderr
    return result.returncode, found, result.stdout + result.stderr


def test_doctor_names_the_scope_and_reads_the_shared_entry(machine: dict[str, str]) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0

    code, found, shown = doctor_checks(machine, SERVER)

    assert code == 0, shown
    name = f"{prefix_of(machine)}/registry.example.com+5000"
    assert found["shared"] == (
        f"ok: shared: {machine[SHARED]} holds {name} for {SERVER}, readable now"
    )
    assert found["credentials"].startswith("ok: credentials: the login of fleet shared for")
    assert PASSWORD not in shown


def test_doctor_without_a_scope_has_no_shared_line_and_a_bad_one_is_a_problem(
    machine: dict[str, str],
) -> None:
    _, found, _ = doctor_checks({**machine, SHARED: "off"}, SERVER)
    code, broken, shown = doctor_checks({**machine, SHARED: "vault:prod"}, SERVER)

    assert "shared" not in found
    assert code == 1, shown
    assert broken["shared"].startswith(
        "problem: shared: DOCKER_CREDENTIAL_CONVOX_SHARED must be secretsmanager:PREFIX"
    )


def test_doctor_reports_an_unreadable_shared_entry(
    machine: dict[str, str], aws_proxy: AwsProxy
) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    # FAULT INJECTION: the machine's role may not read the scope (moto enforces no IAM).
    aws_proxy.fail(GET_SECRET, "AccessDeniedException", "not authorized")

    code, found, shown = doctor_checks(machine, SERVER)

    assert code == 1, shown
    assert found["shared"].startswith(f"problem: shared: {machine[SHARED]}: cannot read the entry")
    assert "access denied" in found["shared"]
    assert (
        "fix: this machine's AWS principal needs secretsmanager:GetSecretValue" in found["shared"]
    )


def test_doctor_mints_with_shared_ecr_keys(machine: dict[str, str]) -> None:
    assert share(machine, ECR_HOST, AKID, SECRET_KEY).returncode == 0

    code, found, shown = doctor_checks(machine, ECR_HOST)

    assert found["shared"].startswith("ok: shared: "), shown
    assert found["credentials"].startswith(f"ok: credentials: the access key {AKID} shared for")
    assert found["minting"].startswith("ok: minting: ecr:GetAuthorizationToken works now"), shown
    assert SECRET_KEY not in shown
    assert code == 0, shown


def test_a_machine_with_no_keyring_and_no_scope_names_both_ways_out(
    machine: dict[str, str],
) -> None:
    bare = {**machine, SHARED: "off"}  # no D-Bus, no Secret Service, nothing shared
    login = {"ServerURL": SERVER, "Username": "me", "Secret": PASSWORD}

    stored = run_helper_in(bare, "store", stdin=json.dumps(login))
    got = run_helper_in(bare, "get", stdin=SERVER)

    assert (got.returncode, got.stdout) == (1, NOT_FOUND + "\n"), got
    assert stored.returncode == 1, stored
    assert stored.stdout.count("\n") == 1, stored
    assert "Secret Service" in stored.stdout
    assert "DOCKER_CREDENTIAL_CONVOX_SHARED=secretsmanager:PREFIX" in stored.stdout
    assert PASSWORD not in stored.stdout + stored.stderr


def test_protocol_erase_on_a_fleet_machine_exits_0_and_leaves_the_shared_entry(
    new_machine: object, machine: dict[str, str], moto_server: MotoProcess
) -> None:
    assert callable(new_machine)
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    fleet = new_machine("fleet")  # no keyring: `docker logout` there erases nothing shared

    erased = run_helper_in(fleet, "erase", stdin=SERVER)

    assert (erased.returncode, erased.stdout) == (0, ""), erased
    assert get_credentials(fleet, SERVER) is not None
    sm = aws_client("secretsmanager", moto_server.url)
    assert sm.describe_secret(SecretId=f"{prefix_of(machine)}/registry.example.com+5000")


@pytest.mark.parametrize(
    ("server", "flags", "said"),
    [
        (SERVER, ["--kms-key-id", "k"], "--kms-key-id goes with --shared"),
        (ECR_HOST, ["--shared", "--profile", "prod"], "--profile cannot be shared"),
        (SERVER, ["--shared", "--ecr-registry", ECR_HOST], "--ecr-registry cannot be shared"),
        (ECR_HOST, ["--shared"], f"--shared for {ECR_HOST} needs access keys"),
    ],
)
def test_add_refuses_what_cannot_be_shared_in_one_line(
    machine: dict[str, str], aws_proxy: AwsProxy, server: str, flags: list[str], said: str
) -> None:
    result = registries(machine, "add", server, *flags)

    assert result.returncode == 1, result
    assert said in result.stderr.splitlines()[0], result
    assert "Traceback" not in result.stderr
    assert aws_proxy.count("secretsmanager:CreateSecret") == 0


def test_registries_list_shows_shared_ecr_keys_with_their_scope(machine: dict[str, str]) -> None:
    assert share(machine, ECR_HOST, AKID, SECRET_KEY, "--no-verify").returncode == 0

    rows = json.loads(registries(machine, "list", "--json").stdout)
    table = registries(machine, "list").stdout

    assert [(row["server"], row["source"], row["scope"]) for row in rows] == [
        (ECR_HOST, "ecr-keys", machine[SHARED])
    ]
    assert f"ecr: access keys, shared in {machine[SHARED]}" in table
    assert SECRET_KEY not in table + json.dumps(rows)
