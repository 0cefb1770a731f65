"""`registries doctor SERVER`: one line per check, the fix on the same line, never a secret.

Against real parts: the installed executable, the session's Secret Service, Debian's
docker-registry and moto behind the counting proxy. Each test keeps its secrets in variables and
asserts that none of them appears anywhere in what the doctor printed.
"""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import docker_config_path, run_helper_in
from support.registries import add, get_credentials

from standins.registry import Registry

if TYPE_CHECKING:
    from support.aws_emulator import AwsProxy

pytest_plugins = ["support.aws_emulator"]

GET_TOKEN = "ecr:GetAuthorizationToken"
ACCESS_KEY_ID = "AKIAI44QH8DHBEXAMPLE"
SECRET_ACCESS_KEY = "je7MtGbClwBF/2Zp9Utk/doctor/EXAMPLEKEY"
FIX_ADD = "fix: run `docker-credential-convox registries add {server}`"


@pytest.fixture
def ecr_host() -> str:
    """An ECR host of this test's own (the Secret Service is shared by the session)."""
    account = 10**11 + uuid.uuid4().int % (9 * 10**11)
    return f"{account}.dkr.ecr.us-east-1.amazonaws.com"


@pytest.fixture
def plain_host() -> str:
    """A registry name of this test's own, for entries stored with --no-verify."""
    return f"registry-{uuid.uuid4().hex[:8]}.example.com"


def doctor(env: Mapping[str, str], server: str) -> subprocess.CompletedProcess[str]:
    return run_helper_in(env, "registries", "doctor", server)


def checks(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """`topic -> "ok: ..." | "problem: ..." | "note: ..."` from the report's check lines."""
    found: dict[str, str] = {}
    for line in result.stdout.splitlines():
        status, _, rest = line.partition(": ")
        if status in ("ok", "problem", "note"):
            topic = rest.partition(":")[0]
            assert topic not in found, f"two lines about {topic}: {result.stdout}"
            found[topic] = line
    return found


def assert_no_secret(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown
    for secret in secrets:
        assert secret
        assert secret not in shown, secret


def write_config(env: Mapping[str, str], document: object) -> None:
    docker_config_path(env).write_text(json.dumps(document, indent="\t"))


def plaintext_auth(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def snapshot(home: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()}


# --- healthy -------------------------------------------------------------------------------------


def test_doctor_of_a_healthy_keyring_registry_says_ok_for_each_check_and_exits_0(
    helper_env: dict[str, str], registry: Registry
) -> None:
    assert add(helper_env, registry.host, registry.username, registry.password).returncode == 0

    result = doctor(helper_env, registry.host)

    assert result.returncode == 0, result
    lines = checks(result)
    assert set(lines) == {"docker", "containers", "credentials", "keyring"}, result.stdout
    assert all(line.startswith("ok: ") for line in lines.values()), result.stdout
    assert "docker-credential-convox" in lines["docker"]
    assert "credHelpers" in lines["docker"]
    assert f"username {registry.username}" in lines["credentials"]
    assert "keyring.backends.SecretService.Keyring answers" in lines["keyring"]
    assert result.stdout.splitlines()[0].startswith(f"{registry.host}: key {registry.host}, ")
    assert result.stdout.endswith("No problems found.\n")
    assert_no_secret(result, registry.password)


def test_doctor_of_ecr_with_access_keys_reports_source_token_minting_and_clock_never_a_secret(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, ecr_host: str
) -> None:
    assert add(ecr_env, ecr_host, ACCESS_KEY_ID, SECRET_ACCESS_KEY).returncode == 0
    token = (get_credentials(ecr_env, ecr_host) or {})["Secret"]
    aws_proxy.reset()
    home = Path(ecr_env["HOME"])
    before = snapshot(home)

    result = doctor(ecr_env, ecr_host)

    assert result.returncode == 0, result
    lines = checks(result)
    assert set(lines) == {
        *("docker", "containers", "credentials", "keyring"),
        *("cached token", "minting", "clock"),
    }
    assert all(line.startswith("ok: ") for line in lines.values()), result.stdout
    assert ACCESS_KEY_ID in lines["credentials"]
    assert "secret access key is in the OS keyring" in lines["credentials"]
    assert "expires 20" in lines["cached token"]
    assert "ecr:GetAuthorizationToken works now" in lines["minting"]
    assert [call.access_key_id for call in aws_proxy.calls_of(GET_TOKEN)] == [ACCESS_KEY_ID]
    assert snapshot(home) == before  # read-only: the new token is not cached, nothing written
    assert_no_secret(result, SECRET_ACCESS_KEY, token)


# --- Docker does not ask the helper ------------------------------------------------------------


def test_doctor_finds_a_plaintext_auths_entry_docker_uses_instead_of_the_helper(
    helper_env: dict[str, str], plain_host: str
) -> None:
    password = "plaintext-" + uuid.uuid4().hex
    assert add(helper_env, plain_host, "bob", password, "--no-verify").returncode == 0
    write_config(helper_env, {"auths": {plain_host: {"auth": plaintext_auth("bob", password)}}})

    result = doctor(helper_env, plain_host)

    assert result.returncode == 1, result
    line = checks(result)["docker"]
    assert line.startswith("problem: docker: ")
    assert "plaintext" in line
    assert "fix: run `docker-credential-convox registries import`" in line
    assert "1 problem found." in result.stdout
    assert_no_secret(result, password, plaintext_auth("bob", password))


def test_doctor_names_the_other_helper_docker_runs_through_creds_store(
    helper_env: dict[str, str], plain_host: str
) -> None:
    assert (
        add(helper_env, plain_host, "bob", "pw-" + uuid.uuid4().hex, "--no-verify").returncode == 0
    )
    write_config(helper_env, {"credsStore": "desktop"})

    result = doctor(helper_env, plain_host)

    assert result.returncode == 1, result
    line = checks(result)["docker"]
    assert line.startswith("problem: docker: ")
    assert "docker-credential-desktop" in line
    assert "credsStore" in line
    assert FIX_ADD.format(server=plain_host) in line


def test_doctor_explains_a_cred_helpers_key_docker_does_not_match(
    helper_env: dict[str, str], plain_host: str
) -> None:
    assert (
        add(helper_env, plain_host, "bob", "pw-" + uuid.uuid4().hex, "--no-verify").returncode == 0
    )
    write_config(helper_env, {"credHelpers": {f"https://{plain_host}": "convox"}})

    result = doctor(helper_env, plain_host)

    assert result.returncode == 1, result
    line = checks(result)["docker"]
    assert line.startswith("problem: docker: ")
    assert f'"https://{plain_host}"' in line
    assert FIX_ADD.format(server=plain_host) in line


def test_doctor_accepts_docker_hub_routed_under_the_index_url(helper_env: dict[str, str]) -> None:
    write_config(helper_env, {"credHelpers": {"https://index.docker.io/v1/": "convox"}})

    result = doctor(helper_env, "docker.io")

    lines = checks(result)
    assert lines["docker"].startswith("ok: docker: "), result.stdout
    assert '"https://index.docker.io/v1/"' in lines["docker"]
    assert lines["credentials"].startswith("problem: credentials: ")  # nothing stored yet


# --- the helper itself ---------------------------------------------------------------------------


def test_doctor_of_a_routed_registry_with_nothing_stored_says_get_answers_not_found(
    helper_env: dict[str, str], plain_host: str
) -> None:
    write_config(helper_env, {"credHelpers": {plain_host: "convox"}})

    result = doctor(helper_env, plain_host)

    assert result.returncode == 1, result
    lines = checks(result)
    assert lines["docker"].startswith("ok: ")
    assert lines["credentials"].startswith("problem: credentials: ")
    assert "credentials not found in native keychain" in lines["credentials"]
    assert FIX_ADD.format(server=plain_host) in lines["credentials"]


def test_doctor_reports_a_keyring_that_does_not_answer_in_one_line_with_the_fix(
    helper_env: dict[str, str], plain_host: str, tmp_path: Path
) -> None:
    password = "pw-" + uuid.uuid4().hex
    assert add(helper_env, plain_host, "bob", password, "--no-verify").returncode == 0
    no_bus = {**helper_env, "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"}

    result = doctor(no_bus, plain_host)

    assert result.returncode == 1, result
    line = checks(result)["keyring"]
    assert line.startswith("problem: keyring: no usable OS keyring"), result.stdout
    assert "fix: " in line
    assert_no_secret(result, password)


def test_doctor_of_ecr_says_why_minting_fails_now_with_the_fix(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, ecr_host: str
) -> None:
    assert add(ecr_env, ecr_host, ACCESS_KEY_ID, SECRET_ACCESS_KEY).returncode == 0
    # FAKE: moto grants every key every action; the proxy answers as AWS does for a denied one.
    aws_proxy.fail(GET_TOKEN, "AccessDeniedException", "not authorized: ecr:GetAuthorizationToken")

    result = doctor(ecr_env, ecr_host)

    assert result.returncode == 1, result
    line = checks(result)["minting"]
    assert line.startswith("problem: minting: "), result.stdout
    assert "AccessDeniedException" in line
    assert "fix: the AWS principal is not allowed ecr:GetAuthorizationToken" in line
    assert_no_secret(result, SECRET_ACCESS_KEY)


def test_doctor_of_ecr_reports_a_clock_far_from_aws(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, ecr_host: str
) -> None:
    write_config(ecr_env, {"credHelpers": {ecr_host: "convox"}})
    # FAKE: the machine's clock cannot be moved here; instead AWS's reply says its tokens expire
    # in 10 hours, as it does when this clock runs 2 hours ahead of AWS's (ECR tokens last 12).
    aws_proxy.expires_in = 10 * 3600.0

    result = doctor(ecr_env, ecr_host)

    assert result.returncode == 1, result
    lines = checks(result)
    assert lines["credentials"].startswith("ok: credentials: the AWS default credential chain")
    assert lines["minting"].startswith("ok: ")
    assert lines["clock"].startswith("problem: clock: this machine's clock is 2h 00m ahead of AWS")
    assert "fix: " in lines["clock"]


def test_doctor_of_an_unrouted_ecr_registry_says_docker_never_asks_the_helper(
    ecr_env: dict[str, str], ecr_host: str
) -> None:
    result = doctor(ecr_env, ecr_host)

    assert result.returncode == 1, result
    line = checks(result)["docker"]
    assert line.startswith("problem: docker: no credential helper is named for")
    assert FIX_ADD.format(server=ecr_host) in line


def test_doctor_without_a_server_is_a_one_line_usage_error(helper_env: dict[str, str]) -> None:
    result = run_helper_in(helper_env, "registries", "doctor")

    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_doctor_flags_a_stale_plaintext_password_left_beside_the_route(
    helper_env: dict[str, str], plain_host: str
) -> None:
    password = "stale-" + uuid.uuid4().hex
    assert (
        add(helper_env, plain_host, "bob", "pw-" + uuid.uuid4().hex, "--no-verify").returncode == 0
    )
    write_config(
        helper_env,
        {
            "auths": {plain_host: {"auth": plaintext_auth("bob", password)}},
            "credHelpers": {plain_host: "convox"},
        },
    )

    result = doctor(helper_env, plain_host)

    assert result.returncode == 1, result
    line = checks(result)["docker"]
    assert line.startswith(f"problem: docker: runs docker-credential-convox for {plain_host}")
    assert "docker sends whenever the helper fails" in line
    assert "fix: run `docker-credential-convox registries import`" in line
    assert_no_secret(result, password)


def test_doctor_says_docker_auth_config_answers_before_any_helper(
    helper_env: dict[str, str], plain_host: str
) -> None:
    password = "env-" + uuid.uuid4().hex
    write_config(helper_env, {"credHelpers": {plain_host: "convox"}})
    auth_config = {"auths": {plain_host: {"auth": plaintext_auth("ci", password)}}}
    env = {**helper_env, "DOCKER_AUTH_CONFIG": json.dumps(auth_config)}

    result = doctor(env, plain_host)

    line = checks(result)["docker"]
    assert line.startswith("problem: docker: DOCKER_AUTH_CONFIG in the environment"), line
    assert "fix: unset DOCKER_AUTH_CONFIG" in line
    assert_no_secret(result, password)


def test_doctor_says_when_the_helper_docker_would_run_is_not_on_path(
    helper_env: dict[str, str], plain_host: str, tmp_path: Path
) -> None:
    write_config(helper_env, {"credHelpers": {plain_host: "convox"}})
    env = {**helper_env, "PATH": str(tmp_path)}  # the helper runs by its full path regardless

    result = doctor(env, plain_host)

    line = checks(result)["docker"]
    assert line.startswith("problem: docker: "), line
    assert "docker-credential-convox is not on this PATH" in line


# --- what `registries add` will need, and a secret gone from the keyring (issue 19 item 7) ------


def test_doctor_without_a_keyring_says_add_needs_one_for_a_registry_with_nothing_stored(
    helper_env: dict[str, str], plain_host: str, tmp_path: Path
) -> None:
    write_config(helper_env, {"credHelpers": {plain_host: "convox"}})
    no_bus = {**helper_env, "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"}

    result = doctor(no_bus, plain_host)

    assert result.returncode == 1, result
    line = checks(result)["keyring"]
    assert line.startswith("problem: keyring: no usable OS keyring"), result.stdout
    assert "registries add" in line  # what it is needed for
    assert "fix: " in line
    assert "not needed" not in result.stdout


def test_doctor_of_a_registry_with_nothing_stored_does_not_call_its_secret_unneeded(
    helper_env: dict[str, str], plain_host: str
) -> None:
    write_config(helper_env, {"credHelpers": {plain_host: "convox"}})

    result = doctor(helper_env, plain_host)

    line = checks(result)["keyring"]
    assert line.startswith("ok: keyring: "), result.stdout
    assert "no secret is needed" not in line
    assert "not needed" not in line


def clear_keyring(env: Mapping[str, str], key: str) -> None:
    """Remove every secret the helper filed under `key`, behind its back."""
    subprocess.run(
        ["secret-tool", "clear", "service", f"docker-credential-convox:{key}"],
        env=dict(env),
        check=True,
    )


def test_doctor_of_a_password_missing_from_the_keyring_never_calls_it_ok(
    helper_env: dict[str, str], plain_host: str
) -> None:
    password = "pw-" + uuid.uuid4().hex
    assert add(helper_env, plain_host, "bob", password, "--no-verify").returncode == 0
    clear_keyring(helper_env, plain_host)

    result = doctor(helper_env, plain_host)

    assert result.returncode == 1, result
    lines = checks(result)
    assert lines["credentials"].startswith("problem: credentials: username bob"), result.stdout
    assert "credentials not found in native keychain" in lines["credentials"]
    assert FIX_ADD.format(server=plain_host) in lines["credentials"]
    assert lines["keyring"].startswith("ok: keyring: "), result.stdout  # it answers
    assert "the secret is in" not in result.stdout
    assert "1 problem found." in result.stdout


def test_doctor_of_an_access_key_missing_from_the_keyring_never_calls_it_ok(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, ecr_host: str
) -> None:
    assert add(ecr_env, ecr_host, ACCESS_KEY_ID, SECRET_ACCESS_KEY).returncode == 0
    clear_keyring(ecr_env, ecr_host)
    aws_proxy.reset()

    result = doctor(ecr_env, ecr_host)

    assert result.returncode == 1, result
    lines = checks(result)
    assert lines["credentials"].startswith("problem: credentials: "), result.stdout
    assert ACCESS_KEY_ID in lines["credentials"]
    assert FIX_ADD.format(server=ecr_host) in lines["credentials"]
    assert lines["keyring"].startswith("ok: keyring: "), result.stdout
    assert "secret access key is in" not in result.stdout
    assert "1 problem found." in result.stdout
    assert aws_proxy.calls_of(GET_TOKEN) == []  # nothing to mint with
