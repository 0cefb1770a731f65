"""ECR through the installed executable, against moto_server on 127.0.0.1 (via the counting proxy).

Every test has its own registry account, HOME and cache; the Secret Service is the session's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import HELPER, NOT_FOUND, keyring_usernames, run_helper_in
from support.ecr import (
    ASSUME_ROLE,
    GET_PUBLIC_TOKEN,
    GET_TOKEN,
    HEAVY,
    MOTO_PASSWORD_PREFIX,
    STORED_KEY,
    STORED_SECRET,
    cache_file,
    get,
    get_secret,
    imported_modules,
    index_file,
    store,
)

from standins.environment import FAKE_AWS_ENV

if TYPE_CHECKING:
    from support.aws_emulator import AwsProxy

pytest_plugins = ["support.aws_emulator"]  # moto_server, aws_proxy, ecr_env

ENV_KEY = FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"]
ENV_SECRET = FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"]


@pytest.fixture
def account() -> str:
    """A registry account of this test's own (the Secret Service is shared by the session)."""
    return str(10**11 + uuid.uuid4().int % (9 * 10**11))


@pytest.fixture
def host(account: str) -> str:
    return f"{account}.dkr.ecr.us-west-2.amazonaws.com"


# -- the default chain, the cache, the region ----------------------------------------------------


def test_get_mints_from_the_default_chain_in_the_region_of_the_host(
    ecr_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    host = "123456789012.dkr.ecr.eu-central-1.amazonaws.com"
    secret = get_secret(ecr_env, f"https://{host}")
    assert secret.startswith(MOTO_PASSWORD_PREFIX)
    [call] = aws_proxy.calls_of(GET_TOKEN)
    assert (call.access_key_id, call.region, call.service) == (ENV_KEY, "eu-central-1", "ecr")


def test_second_get_is_answered_from_the_cache_without_calling_aws(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    first = get_secret(ecr_env, host)
    second = get_secret(ecr_env, f"https://{host}/v2/")
    assert first == second
    assert aws_proxy.count(GET_TOKEN) == 1
    document = json.loads(cache_file(ecr_env).read_text())
    [entry] = document["tokens"].values()
    assert entry["registry"] == host
    assert entry["expires_at"] - entry["issued_at"] == pytest.approx(12 * 3600, abs=60)


def test_a_cache_hit_imports_neither_botocore_nor_keyring(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    cold = imported_modules(ecr_env, "get", host)
    assert "botocore" in cold  # the probe sees heavy imports when they happen
    hit = imported_modules(ecr_env, "get", host)
    assert not hit & set(HEAVY), sorted(hit & set(HEAVY))
    assert aws_proxy.count(GET_TOKEN) == 1


def test_a_cache_hit_for_stored_keys_touches_no_keyring(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    assert store(ecr_env, host, STORED_KEY, STORED_SECRET).returncode == 0
    hit = imported_modules(ecr_env, "get", host)
    assert not hit & set(HEAVY), sorted(hit & set(HEAVY))
    assert aws_proxy.count(GET_TOKEN) == 1  # the one that verified the keys on store


# -- stored access keys ------------------------------------------------------------------------


def test_stored_access_keys_mint_the_token_and_the_secret_stays_in_the_keyring(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    result = store(ecr_env, host, STORED_KEY, STORED_SECRET)
    assert (result.returncode, result.stdout) == (0, ""), result
    [verify] = aws_proxy.calls_of(GET_TOKEN)
    assert verify.access_key_id == STORED_KEY

    secret = get_secret(ecr_env, host)
    assert aws_proxy.count(GET_TOKEN) == 1  # store's verification token is served from the cache
    assert secret.startswith(MOTO_PASSWORD_PREFIX)

    assert keyring_usernames(ecr_env, host) == [STORED_KEY]
    for path in Path(ecr_env["HOME"]).rglob("*"):
        if path.is_file():
            assert STORED_SECRET.encode() not in path.read_bytes(), path
    entry = json.loads(index_file(ecr_env).read_text())["registries"][host]
    assert (entry["Username"], entry["Source"]) == (STORED_KEY, "ecr-keys")


def test_stored_keys_are_used_after_the_cached_token_is_dropped(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    assert store(ecr_env, host, STORED_KEY, STORED_SECRET).returncode == 0
    cache_file(ecr_env).unlink()
    get_secret(ecr_env, host)
    assert [c.access_key_id for c in aws_proxy.calls_of(GET_TOKEN)] == [STORED_KEY, STORED_KEY]


def test_store_refuses_keys_that_aws_rejects_and_stores_nothing(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    aws_proxy.fail(
        GET_TOKEN,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    result = store(ecr_env, host, STORED_KEY, STORED_SECRET)
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith(f"unable to authenticate to {host} using the access key")
    assert "UnrecognizedClientException" in result.stdout
    assert "check the access key ID and secret" in result.stderr
    assert STORED_SECRET not in result.stdout + result.stderr
    assert json.loads(run_helper_in(ecr_env, "list").stdout) == {}
    assert keyring_usernames(ecr_env, host) == []


def test_store_without_a_secret_access_key_is_refused(ecr_env: dict[str, str], host: str) -> None:
    result = store(ecr_env, host, STORED_KEY, "")
    assert result.returncode == 1
    assert "no secret access key" in result.stdout


def test_storing_new_keys_replaces_the_old_secret(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    assert store(ecr_env, host, STORED_KEY, STORED_SECRET).returncode == 0
    assert store(ecr_env, host, "AKIANEWKEYEXAMPLE001", "new-secret").returncode == 0
    assert keyring_usernames(ecr_env, host) == ["AKIANEWKEYEXAMPLE001"]
    get_secret(ecr_env, host)
    assert aws_proxy.calls_of(GET_TOKEN)[-1].access_key_id == "AKIANEWKEYEXAMPLE001"


# -- profiles and roles ------------------------------------------------------------------------


def test_a_profile_recorded_for_the_registry_is_used(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    Path(ecr_env["AWS_CONFIG_FILE"]).write_text(
        "[profile cross]\n"
        "aws_access_key_id = AKIAPROFILEEXAMPLE01\n"
        "aws_secret_access_key = profile-secret\n"
    )
    result = store(ecr_env, host, "profile:cross", "")
    assert (result.returncode, result.stdout) == (0, ""), result
    cache_file(ecr_env).unlink()
    get_secret(ecr_env, host)
    assert [c.access_key_id for c in aws_proxy.calls_of(GET_TOKEN)] == ["AKIAPROFILEEXAMPLE01"] * 2
    entry = json.loads(index_file(ecr_env).read_text())["registries"][host]
    assert entry["Options"] == {"profile": "cross"}
    assert keyring_usernames(ecr_env, host) == []


def test_a_missing_profile_is_named_in_the_error(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    result = store(ecr_env, host, "profile:nope", "")
    assert result.returncode == 1
    assert "profile 'nope'" in result.stdout
    assert "ProfileNotFound" in result.stdout
    assert aws_proxy.count(GET_TOKEN) == 0


def test_a_role_recorded_for_the_registry_is_assumed_with_its_external_id(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    role = "arn:aws:iam::210987654321:role/registry-pull"
    result = store(ecr_env, host, f"role:{role}", "external-42")
    assert (result.returncode, result.stdout) == (0, ""), result
    cache_file(ecr_env).unlink()
    get_secret(ecr_env, host)

    assumed = aws_proxy.calls_of(ASSUME_ROLE)
    assert len(assumed) == 2  # store's verification, then the get
    assert assumed[-1].params["RoleArn"] == role
    assert assumed[-1].params["ExternalId"] == "external-42"
    assert (assumed[-1].access_key_id, assumed[-1].region) == (ENV_KEY, "us-west-2")
    minted = aws_proxy.calls_of(GET_TOKEN)[-1]
    assert minted.access_key_id.startswith("ASIA")  # the role's temporary keys
    entry = json.loads(index_file(ecr_env).read_text())["registries"][host]
    assert entry["Options"] == {"role_arn": role, "external_id": "external-42"}


def test_a_role_the_principal_may_not_assume_is_reported_with_the_sts_error(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    aws_proxy.fail(ASSUME_ROLE, "AccessDenied", "not authorized to perform sts:AssumeRole", 403)
    role = "arn:aws:iam::210987654321:role/registry-pull"
    result = store(ecr_env, host, f"role:{role}", "")
    assert result.returncode == 1
    assert role in result.stdout
    assert "sts:AssumeRole failed: AccessDenied" in result.stdout
    assert aws_proxy.count(GET_TOKEN) == 0


def test_a_username_that_is_not_a_role_arn_is_refused(ecr_env: dict[str, str], host: str) -> None:
    result = store(ecr_env, host, "role:registry-pull", "")
    assert result.returncode == 1
    assert "does not name a role" in result.stdout


# -- docker login -u AWS ------------------------------------------------------------------------


def test_a_login_token_stored_as_aws_is_returned_until_it_expires(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    result = store(ecr_env, host, "AWS", "token-from-get-login-password")
    assert (result.returncode, result.stdout) == (0, ""), result
    assert get_secret(ecr_env, host) == "token-from-get-login-password"
    assert aws_proxy.count(GET_TOKEN) == 0
    assert keyring_usernames(ecr_env, host) == ["AWS"]

    # Thirteen hours later (the index records when it was stored): the default chain takes over.
    index = json.loads(index_file(ecr_env).read_text())
    index["registries"][host]["Options"]["stored_at"] = str(int(time.time() - 13 * 3600))
    index_file(ecr_env).write_text(json.dumps(index))
    assert get_secret(ecr_env, host).startswith(MOTO_PASSWORD_PREFIX)
    assert aws_proxy.count(GET_TOKEN) == 1


def test_an_expired_login_token_and_a_failing_chain_say_both(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    assert store(ecr_env, host, "AWS", "old-token").returncode == 0
    index = json.loads(index_file(ecr_env).read_text())
    index["registries"][host]["Options"]["stored_at"] = "0"
    index_file(ecr_env).write_text(json.dumps(index))
    aws_proxy.fail(GET_TOKEN, "AccessDeniedException", "no ecr:GetAuthorizationToken for you")
    result = get(ecr_env, host)
    assert result.returncode == 1
    assert "AccessDeniedException" in result.stdout
    assert "docker login -u AWS" in result.stderr
    assert "old-token" not in result.stdout + result.stderr


# -- ECR Public --------------------------------------------------------------------------------


def test_ecr_public_tokens_come_from_ecr_public_in_us_east_1(
    ecr_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    # The proxy answers ecr-public itself: a STAND-IN, since moto lacks the service.
    secret = get_secret(ecr_env, "public.ecr.aws")
    assert secret.startswith("public-token-")
    [call] = aws_proxy.calls_of(GET_PUBLIC_TOKEN)
    assert (call.region, call.service, call.access_key_id) == ("us-east-1", "ecr-public", ENV_KEY)
    assert get_secret(ecr_env, "public.ecr.aws") == secret
    assert aws_proxy.count(GET_PUBLIC_TOKEN) == 1


def test_ecr_public_failure_is_not_found_with_a_warning_so_pulls_go_anonymous(
    ecr_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    aws_proxy.fail(GET_PUBLIC_TOKEN, "AccessDeniedException", "denied", 400)
    result = get(ecr_env, "ecr-public.aws.com")
    assert (result.returncode, result.stdout) == (1, NOT_FOUND + "\n")
    assert "warning:" in result.stderr
    assert "AccessDeniedException" in result.stderr
    assert "anonymous" in result.stderr


# -- errors --------------------------------------------------------------------------------------


def test_private_mint_failure_is_one_line_naming_registry_source_and_aws_error(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    aws_proxy.fail(
        GET_TOKEN,
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
        "ecr:GetAuthorizationToken",
    )
    result = get(ecr_env, host)
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1
    line = result.stdout.strip()
    assert host in line
    assert "the AWS default credential chain" in line
    assert "ecr:GetAuthorizationToken failed: AccessDeniedException" in line
    assert "is not authorized to perform" in line
    assert "hint:" in result.stderr
    assert ENV_SECRET not in result.stdout + result.stderr
    assert not cache_file(ecr_env).exists() or host not in cache_file(ecr_env).read_text()


def test_no_credentials_at_all_fails_in_seconds_with_a_hint(
    ecr_env: dict[str, str], host: str
) -> None:
    env = {
        k: v for k, v in ecr_env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    started = time.monotonic()
    result = get(env, host)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert "NoCredentials" in result.stdout
    assert host in result.stdout
    assert "aws sso login" in result.stderr
    assert f"docker-credential-convox registries add {host}" in result.stderr


def test_an_unreachable_aws_endpoint_fails_fast_with_a_one_line_error(
    ecr_env: dict[str, str], host: str
) -> None:
    from standins.processes import free_loopback_port

    closed = f"http://127.0.0.1:{free_loopback_port()}"
    started = time.monotonic()
    result = get({**ecr_env, "AWS_ENDPOINT_URL_ECR": closed}, host)
    assert time.monotonic() - started < 15
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1
    assert "EndpointConnectionError" in result.stdout
    assert "check the network" in result.stderr


NETNS_SCRIPT = """
set -e
ip link set lo up
# Instance metadata that swallows packets, like a laptop on a network that drops 169.254/16.
ip route add 169.254.169.254/32 dev lo
exec "$@"
"""


def _can_unshare_network() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_unshare_network(), reason="needs `unshare -n` (root)")
def test_instance_metadata_that_never_answers_costs_seconds_not_minutes(
    ecr_env: dict[str, str], host: str
) -> None:
    env = {
        k: v
        for k, v in ecr_env.items()
        if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED")
    }
    started = time.monotonic()
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", NETNS_SCRIPT, "sh", str(HELPER), "get"],
        input=host,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result
    assert "NoCredentials" in result.stdout
    assert elapsed < 6, f"took {elapsed:.1f}s"  # two 1 s metadata requests, plus start-up


# -- cache settings, files and HOME ----------------------------------------------------------------


def test_no_cache_variable_mints_every_time_and_writes_no_file(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    env = {**ecr_env, "DOCKER_CREDENTIAL_CONVOX_NO_CACHE": "1"}
    assert get_secret(env, host) != get_secret(env, host)
    assert aws_proxy.count(GET_TOKEN) == 2
    assert not cache_file(env).exists()


def test_cache_dir_variable_moves_the_cache(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, tmp_path: Path
) -> None:
    moved = tmp_path / "elsewhere"
    env = {**ecr_env, "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR": str(moved)}
    get_secret(env, host)
    get_secret(env, host)
    assert (moved / "tokens.json").exists()
    assert not cache_file(env).exists()
    assert aws_proxy.count(GET_TOKEN) == 1


def test_works_without_home(ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str) -> None:
    env = {k: v for k, v in ecr_env.items() if k != "HOME"}
    first = get_secret(env, host)
    assert get_secret(env, host) == first
    assert aws_proxy.count(GET_TOKEN) == 1
    assert cache_file(env).exists()


def test_works_without_home_or_xdg_with_explicit_directories(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in ecr_env.items() if k not in ("HOME", "XDG_CACHE_HOME")}
    env["DOCKER_CREDENTIAL_CONVOX_CACHE_DIR"] = str(tmp_path / "c")
    assert get_secret(env, host) == get_secret(env, host)
    assert aws_proxy.count(GET_TOKEN) == 1


@pytest.mark.parametrize("content", [b"", b"{not json", b"\x00\xff", b'{"tokens": "x"}'])
def test_a_corrupt_cache_file_is_ignored_and_rewritten(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, content: bytes
) -> None:
    cache_file(ecr_env).parent.mkdir(parents=True)
    cache_file(ecr_env).write_bytes(content)
    first = get_secret(ecr_env, host)
    assert get_secret(ecr_env, host) == first
    assert aws_proxy.count(GET_TOKEN) == 1
    tokens = json.loads(cache_file(ecr_env).read_text())["tokens"]
    assert [token["registry"] for token in tokens.values()] == [host]


def test_cache_file_is_0600_in_a_0700_directory(ecr_env: dict[str, str], host: str) -> None:
    get_secret(ecr_env, host)
    path = cache_file(ecr_env)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


# -- erase and list ------------------------------------------------------------------------------


def test_erase_forgets_stored_keys_and_cached_tokens(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    assert store(ecr_env, host, STORED_KEY, STORED_SECRET).returncode == 0
    result = run_helper_in(ecr_env, "erase", stdin=host)
    assert (result.returncode, result.stdout) == (0, ""), result
    assert keyring_usernames(ecr_env, host) == []
    assert host not in cache_file(ecr_env).read_text()
    assert json.loads(run_helper_in(ecr_env, "list").stdout) == {}
    get_secret(ecr_env, host)  # back to the default chain
    assert aws_proxy.calls_of(GET_TOKEN)[-1].access_key_id == ENV_KEY


def test_erase_drops_tokens_minted_from_the_default_chain(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    get_secret(ecr_env, host)
    assert run_helper_in(ecr_env, "erase", stdin=host).returncode == 0
    get_secret(ecr_env, host)
    assert aws_proxy.count(GET_TOKEN) == 2


def test_erase_of_an_ecr_registry_never_stored_exits_0(ecr_env: dict[str, str], host: str) -> None:
    for _ in range(2):
        result = run_helper_in(ecr_env, "erase", stdin=host)
        assert (result.returncode, result.stdout) == (0, ""), result


def test_list_includes_ecr_registries_without_network_or_heavy_imports(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str, account: str
) -> None:
    other = f"{account}.dkr.ecr.ap-south-1.amazonaws.com"
    assert store(ecr_env, host, STORED_KEY, STORED_SECRET).returncode == 0
    get_secret(ecr_env, other)  # default chain: known only from the token cache
    calls = len(aws_proxy.calls)
    listing = json.loads(run_helper_in(ecr_env, "list", stdin="unused").stdout)
    assert listing == {host: STORED_KEY, other: "AWS"}
    assert not imported_modules(ecr_env, "list", "unused") & set(HEAVY)
    assert len(aws_proxy.calls) == calls


# -- logging -------------------------------------------------------------------------------------


def test_debug_lines_appear_only_when_asked_and_never_carry_secrets(
    ecr_env: dict[str, str], host: str
) -> None:
    quiet = get(ecr_env, host)
    assert quiet.returncode == 0
    assert quiet.stderr == ""

    env = {**ecr_env, "DOCKER_CREDENTIAL_CONVOX_DEBUG": "1"}
    outputs = [store(env, host, STORED_KEY, STORED_SECRET)]
    replies = [get(env, host), get(env, f"https://{host}")]
    outputs += [run_helper_in(env, "list"), run_helper_in(env, "erase", stdin=host)]
    token = json.loads(replies[0].stdout)["Secret"]
    assert "debug:" in replies[0].stderr
    for result in outputs + replies:
        assert result.returncode == 0, result
        assert STORED_SECRET not in result.stdout + result.stderr
        assert ENV_SECRET not in result.stdout + result.stderr
        assert token not in result.stderr
    for result in outputs:
        assert token not in result.stdout


def test_files_never_hold_the_secret_access_key(
    ecr_env: dict[str, str], host: str, tmp_path: Path
) -> None:
    assert store(ecr_env, host, STORED_KEY, STORED_SECRET).returncode == 0
    get_secret(ecr_env, host)
    for root in (ecr_env["XDG_CONFIG_HOME"], ecr_env["XDG_CACHE_HOME"]):
        for path in Path(root).rglob("*"):
            if path.is_file():
                assert STORED_SECRET.encode() not in path.read_bytes()
    assert os.stat(index_file(ecr_env)).st_mode & 0o077 == 0


# -- without an OS keyring -------------------------------------------------------------------------


@pytest.fixture
def no_keyring_env(ecr_env: dict[str, str]) -> dict[str, str]:
    """`ecr_env` without a D-Bus session bus: no Secret Service answers."""
    return {k: v for k, v in ecr_env.items() if not k.startswith("DBUS_")}


def test_docker_login_token_without_a_keyring_is_accepted_and_the_chain_used(
    no_keyring_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    result = store(no_keyring_env, host, "AWS", "token-from-get-login-password")
    assert (result.returncode, result.stdout) == (0, ""), result  # docker login must not fail
    assert "warning:" in result.stderr
    assert "token-from-get-login-password" not in result.stderr
    assert get_secret(no_keyring_env, host).startswith(MOTO_PASSWORD_PREFIX)
    assert aws_proxy.count(GET_TOKEN) == 1


def test_default_chain_needs_no_keyring_for_get_list_or_erase(
    no_keyring_env: dict[str, str], host: str
) -> None:
    get_secret(no_keyring_env, host)
    assert json.loads(run_helper_in(no_keyring_env, "list").stdout) == {host: "AWS"}
    result = run_helper_in(no_keyring_env, "erase", stdin=host)
    assert (result.returncode, result.stdout) == (0, ""), result


def test_access_keys_without_a_keyring_are_refused_with_one_line(
    no_keyring_env: dict[str, str], host: str
) -> None:
    result = store(no_keyring_env, host, STORED_KEY, STORED_SECRET)
    assert result.returncode == 1
    assert result.stdout.startswith("no usable OS keyring")
    assert json.loads(run_helper_in(no_keyring_env, "list").stdout) == {}


def test_stored_keys_whose_secret_vanished_from_the_keyring_are_reported(
    ecr_env: dict[str, str], host: str
) -> None:
    assert store(ecr_env, host, STORED_KEY, STORED_SECRET).returncode == 0
    subprocess.run(
        ["secret-tool", "clear", "service", f"docker-credential-convox:{host}"],
        env=ecr_env,
        check=True,
    )
    cache_file(ecr_env).unlink()
    result = get(ecr_env, host)
    assert result.returncode == 1
    assert f"the secret access key for {STORED_KEY} is missing from the OS keyring" in result.stdout
