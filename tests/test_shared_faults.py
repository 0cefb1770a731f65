"""Faults of the shared store, seen by a fleet machine: each a one-line error naming the
registry and the cause (never a traceback, never the password), or a cached value served within
the documented bound with a warning on stderr.

Secrets Manager is moto_server behind the counting proxy. Faults moto cannot produce on demand
(throttling, access denied without an IAM set-up, a KMS refusal) are the proxy's injected error
replies (AwsProxy.fail, a fault injector that says so); an endpoint that is down is a real
closed port on 127.0.0.1; a secret deleted or rewritten behind the helper's back is a real
change made in moto. Ages are shortened through the settings (1 s), so bounds are crossed by
sleeping briefly.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from support import HELPER, NOT_FOUND, run_helper_in
from support.shared import (
    GET_SECRET,
    LIST_SECRETS,
    MAX_AGE,
    STALE_FOR,
    aws_client,
    prefix_of,
    share,
)

from standins.aws_proxy import AwsProxy
from standins.moto_servers import MotoProcess
from standins.processes import free_loopback_port

pytest_plugins = ["support.aws_emulator", "support.shared"]

SERVER = "registry.example.com:5000"
SECRET_NAME_TAIL = "registry.example.com+5000"
PASSWORD = "fleet-secret-77d2"


# The stale bound is wide enough that a loaded machine still serves within it; the refusal is
# waited for from the moment the warming `get` ended (its value was fetched before that).
MAX_AGE_SECONDS = 1
STALE_SECONDS = 5


@pytest.fixture
def shared(machine: dict[str, str]) -> tuple[dict[str, str], float]:
    """`machine` with SERVER shared, a 1 s max age and a 5 s stale bound, its cache warm; and
    the monotonic time by which the cached value had been fetched."""
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    env = {**machine, MAX_AGE: str(MAX_AGE_SECONDS), STALE_FOR: str(STALE_SECONDS)}
    assert run_helper_in(env, "get", stdin=SERVER).returncode == 0
    return env, time.monotonic()


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def assert_one_line_error(result: subprocess.CompletedProcess[str], *parts: str) -> str:
    """Exit 1, one line on stdout naming the registry and `parts`, no traceback, no password."""
    assert result.returncode == 1, result
    assert result.stdout.count("\n") == 1, result
    assert SERVER in result.stdout, result
    for part in parts:
        assert part in result.stdout, result
    assert "Traceback" not in result.stderr, result
    assert PASSWORD not in result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("code", "status", "cause"),
    [
        ("AccessDeniedException", 400, "access denied"),
        ("ThrottlingException", 400, "throttled by Secrets Manager"),
        ("DecryptionFailure", 400, "the KMS key refused"),
        ("InternalServiceError", 500, "Secrets Manager endpoint unreachable"),
    ],
)
def test_a_refused_read_without_a_cached_value_is_a_one_line_error(
    machine: dict[str, str], aws_proxy: AwsProxy, code: str, status: int, cause: str
) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    # FAULT INJECTION: the proxy answers GetSecretValue with this AWS error (moto enforces no
    # IAM, no rate limit and no KMS key state on reads).
    aws_proxy.fail(GET_SECRET, code, f"injected {code} for {PASSWORD[:0]}the test", status)

    result = run_helper_in(machine, "get", stdin=SERVER)

    line = assert_one_line_error(result, cause, code)
    assert line.startswith(f"cannot read the shared entry for {SERVER} in secretsmanager:")


def test_an_endpoint_that_is_down_is_a_one_line_error(machine: dict[str, str]) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    down = {
        **machine,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": f"http://127.0.0.1:{free_loopback_port()}",
    }

    started = time.monotonic()
    result = run_helper_in(down, "get", stdin=SERVER)

    assert_one_line_error(result, "Secrets Manager endpoint unreachable")
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("fault", ["throttled", "down"])
def test_a_cached_value_is_served_within_the_stale_bound_then_refused(
    shared: tuple[dict[str, str], float], aws_proxy: AwsProxy, fault: str
) -> None:
    env, fetched_by = dict(shared[0]), shared[1]
    if fault == "throttled":
        # FAULT INJECTION: moto never throttles; the proxy answers as AWS does when it does.
        aws_proxy.fail(GET_SECRET, "ThrottlingException", "Rate exceeded")
    else:
        env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = f"http://127.0.0.1:{free_loopback_port()}"
    sleep_until(fetched_by + MAX_AGE_SECONDS + 0.05)  # past the max age

    served = run_helper_in(env, "get", stdin=SERVER)

    assert served.returncode == 0, served
    assert json.loads(served.stdout)["Secret"] == PASSWORD
    assert "warning: Secrets Manager did not answer for the shared entry" in served.stderr
    assert PASSWORD not in served.stderr

    sleep_until(fetched_by + MAX_AGE_SECONDS + STALE_SECONDS + 0.1)  # past the stale bound too
    refused = run_helper_in(env, "get", stdin=SERVER)

    assert_one_line_error(refused)


def test_access_denied_is_never_covered_by_a_cached_value(
    shared: tuple[dict[str, str], float], aws_proxy: AwsProxy
) -> None:
    # FAULT INJECTION: the machine's role lost its permission (moto enforces no IAM).
    aws_proxy.fail(GET_SECRET, "AccessDeniedException", "not authorized")
    sleep_until(shared[1] + MAX_AGE_SECONDS + 0.05)

    assert_one_line_error(run_helper_in(shared[0], "get", stdin=SERVER), "access denied")


def test_a_secret_deleted_behind_the_helpers_back_is_gone_within_the_max_age(
    shared: tuple[dict[str, str], float], moto_server: MotoProcess
) -> None:
    env, fetched_by = shared
    sm = aws_client("secretsmanager", moto_server.url)
    sm.delete_secret(
        SecretId=f"{prefix_of(env)}/{SECRET_NAME_TAIL}", ForceDeleteWithoutRecovery=True
    )
    sleep_until(fetched_by + MAX_AGE_SECONDS + 0.05)

    result = run_helper_in(env, "get", stdin=SERVER)

    assert (result.returncode, result.stdout) == (1, NOT_FOUND + "\n"), result


def test_a_secret_rotated_behind_the_helpers_back_is_followed_within_the_max_age(
    shared: tuple[dict[str, str], float], moto_server: MotoProcess
) -> None:
    env, fetched_by = shared
    sm = aws_client("secretsmanager", moto_server.url)
    name = f"{prefix_of(env)}/{SECRET_NAME_TAIL}"
    value = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    sm.put_secret_value(SecretId=name, SecretString=json.dumps({**value, "Secret": "rotated"}))
    sleep_until(fetched_by + MAX_AGE_SECONDS + 0.05)

    result = run_helper_in(env, "get", stdin=SERVER)

    assert json.loads(result.stdout)["Secret"] == "rotated", result


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (PASSWORD, "it is not JSON"),
        (json.dumps({"password": PASSWORD}), "its version is not 1"),
        (
            json.dumps(
                {
                    "version": 1,
                    "ServerURL": "other.example",
                    "Username": "u",
                    "Secret": PASSWORD,
                    "Source": "keyring",
                }
            ),
            "its ServerURL names another registry",
        ),
        (
            json.dumps(
                {
                    "version": 1,
                    "ServerURL": SERVER,
                    "Username": "u",
                    "Secret": PASSWORD,
                    "Source": "ecr-login",
                }
            ),
            "not one a fleet can share",
        ),
    ],
)
def test_a_value_not_in_our_format_is_a_one_line_error_naming_the_registry(
    machine: dict[str, str], moto_server: MotoProcess, value: str, why: str
) -> None:
    sm = aws_client("secretsmanager", moto_server.url)
    sm.create_secret(Name=f"{prefix_of(machine)}/{SECRET_NAME_TAIL}", SecretString=value)

    result = run_helper_in(machine, "get", stdin=SERVER)

    line = assert_one_line_error(result, why)
    assert "is not in the helper's format" in line
    assert f"registries add {SERVER} --shared" in result.stderr  # the hint: what to do


def test_concurrent_gets_on_a_cold_cache_make_one_call(
    machine: dict[str, str], aws_proxy: AwsProxy, tmp_path: Path
) -> None:
    request = tmp_path / "request"
    request.write_text(SERVER)  # every process has its request at once, none waits on a pipe
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    aws_proxy.reset()
    aws_proxy.delay(GET_SECRET, 3.0)  # all of them miss before the first answer
    handles = [request.open("rb") for _ in range(8)]
    processes = [
        subprocess.Popen(
            [str(HELPER), "get"],
            stdin=handle,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=machine,
        )
        for handle in handles
    ]
    outputs = [process.communicate(timeout=60) for process in processes]
    for handle in handles:
        handle.close()

    assert [process.returncode for process in processes] == [0] * 8, outputs
    assert all(json.loads(out)["Secret"] == PASSWORD for out, _ in outputs)
    assert aws_proxy.count(GET_SECRET) == 1, aws_proxy.calls


def test_list_asks_for_the_listing_once_per_max_age(
    machine: dict[str, str], aws_proxy: AwsProxy
) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    aws_proxy.reset()

    listings = [run_helper_in(machine, "list") for _ in range(3)]

    assert [json.loads(result.stdout) for result in listings] == [{SERVER: "fleet"}] * 3
    assert aws_proxy.count(LIST_SECRETS) == 1
    assert aws_proxy.count(GET_SECRET) == 1, aws_proxy.calls


def test_list_without_permission_to_list_answers_what_it_can(
    machine: dict[str, str], aws_proxy: AwsProxy
) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    # FAULT INJECTION: a fleet role may read its secrets without secretsmanager:ListSecrets.
    aws_proxy.fail(LIST_SECRETS, "AccessDeniedException", "not authorized to ListSecrets")

    result = run_helper_in(machine, "list")

    assert (result.returncode, json.loads(result.stdout)) == (0, {}), result
    assert "warning: shared registries not listed: cannot list" in result.stderr
    assert "access denied" in result.stderr


def test_a_refused_write_never_echoes_the_password(
    machine: dict[str, str], aws_proxy: AwsProxy
) -> None:
    # FAULT INJECTION: an AWS error whose message quotes the value sent (AWS does not, but a
    # proxy or a future API might): the helper must mask the password all the same.
    aws_proxy.fail(
        "secretsmanager:CreateSecret", "InvalidRequestException", f"cannot store {PASSWORD}"
    )

    result = share(machine, SERVER, "fleet", PASSWORD, "--no-verify")

    assert result.returncode == 1, result
    assert result.stderr.startswith(f"cannot write the shared entry for {SERVER} in "), result
    assert "cannot store ***" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_concurrent_gets_against_a_failing_scope_wait_out_one_failure_not_each_their_own(
    machine: dict[str, str], aws_proxy: AwsProxy, tmp_path: Path
) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    aws_proxy.reset()
    # FAULT INJECTION: a slow, refusing Secrets Manager (throttling after a second).
    aws_proxy.delay(GET_SECRET, 1.0)
    aws_proxy.fail(GET_SECRET, "ThrottlingException", "Rate exceeded")
    request = tmp_path / "request"
    request.write_text(SERVER)
    handles = [request.open("rb") for _ in range(6)]

    started = time.monotonic()
    processes = [
        subprocess.Popen(
            [str(HELPER), "get"],
            stdin=handle,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=machine,
        )
        for handle in handles
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    elapsed = time.monotonic() - started
    for handle in handles:
        handle.close()

    lines = {out.decode() for out, _ in outputs}
    assert [process.returncode for process in processes] == [1] * 6, outputs
    assert len(lines) == 1, lines  # the same one line for every waiter
    assert "throttled by Secrets Manager" in lines.pop()
    # One process asked (botocore tries twice); the others answered its failure at once.
    assert aws_proxy.count(GET_SECRET) == 2, aws_proxy.calls
    assert elapsed < 2 * 6, elapsed
