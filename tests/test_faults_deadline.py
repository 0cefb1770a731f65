"""A total deadline on every AWS call (issue 17, item 9): an endpoint that answers its headers and
then drips the body one byte per second never trips botocore's read timeout (it is per read), so
without a deadline a `get` would wait for as long as the drip lasts.

The endpoint is the counting proxy in front of moto with a drip injected (AwsProxy.drip, a fault
no AWS stand-in produces on demand). The deadline is shortened to `DEADLINE` seconds through its
setting; each `get` must end within it plus `MARGIN` (start-up, botocore's import) with one line
on stdout, as the timeouts end it today.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest
from support import NOT_FOUND, run_helper_in
from support.ecr import ASSUME_ROLE, GET_PUBLIC_TOKEN, GET_TOKEN, cache_file, store
from support.shared import GET_SECRET, MAX_AGE, STALE_FOR, share

from standins.aws_proxy import AwsProxy

pytest_plugins = ["support.aws_emulator", "support.shared"]

DEADLINE_SETTING = "DOCKER_CREDENTIAL_CONVOX_AWS_DEADLINE"
DEADLINE = 3.0
MARGIN = 3.0  # a loaded CI machine starts Python and imports botocore in well under this
# From the `get`'s first AWS call to its end: what follows the deadline (one line written, the
# interpreter's exit), far below the 2 s a second budget would add. Tests that failed under
# load time from that call, not from the start: start-up, botocore's import and credential
# resolution come before it, and a loaded machine stretched them past MARGIN (6.1 to 9.4 s).
AFTER_DEADLINE = 1.5
# Past this the helper is taken to be hung (the drip goes on for an hour): the test fails.
HUNG_AFTER = DEADLINE + 20
SERVER = "registry.example.com:5000"
PASSWORD = "fleet-secret-5e1a"


@pytest.fixture
def host() -> str:
    """A private ECR registry of this test's own (the Secret Service is shared by the session)."""
    return f"{10**11 + uuid.uuid4().int % (9 * 10**11)}.dkr.ecr.us-west-2.amazonaws.com"


def timed_get(
    env: Mapping[str, str], server: str
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """`get` of `server` with the short deadline, and how long it took; fails past HUNG_AFTER."""
    started = time.monotonic()
    try:
        result = run_helper_in(
            {**env, DEADLINE_SETTING: str(DEADLINE)}, "get", stdin=server, timeout=HUNG_AFTER
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`get {server}` still running after {HUNG_AFTER:g} s against a drip")
    return time.monotonic() - started, result


def since_call(aws_proxy: AwsProxy, operation: str, earlier: int = 0) -> float:
    """Seconds since the `get`'s first `operation` call reached the proxy (`earlier` calls of
    it came before the `get`): its time under the deadline, start-up and imports left out."""
    return time.monotonic() - aws_proxy.calls_of(operation)[earlier].at


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *parts: str) -> str:
    assert result.returncode == 1, result
    assert result.stdout.count("\n") == 1, result
    for part in parts:
        assert part in result.stdout, result
    assert "Traceback" not in result.stderr, result
    return result.stdout


def test_a_dripping_ecr_endpoint_ends_a_get_within_the_deadline(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    aws_proxy.drip(GET_TOKEN)  # FAULT INJECTION: headers, then one byte per second

    took, result = timed_get(ecr_env, host)
    under_deadline = since_call(aws_proxy, GET_TOKEN)

    print(f"ECR get against a drip: {took:.1f} s, {aws_proxy.dripped(GET_TOKEN)} bytes dripped")
    print(result.stdout + result.stderr)
    line = assert_one_line_failure(
        result, f"cannot get an ECR token for {host}", "ecr:GetAuthorizationToken", aws_proxy.url
    )
    assert f"{DEADLINE:g} s" in line
    assert under_deadline < DEADLINE + AFTER_DEADLINE, took
    assert aws_proxy.dripped(GET_TOKEN) >= 1  # the drip was under way: no other failure


def test_a_dripping_ecr_public_endpoint_ends_a_get_within_the_deadline_as_not_found(
    ecr_env: dict[str, str], aws_proxy: AwsProxy
) -> None:
    aws_proxy.drip(GET_PUBLIC_TOKEN)  # FAULT INJECTION: headers, then one byte per second

    took, result = timed_get(ecr_env, "public.ecr.aws")
    under_deadline = since_call(aws_proxy, GET_PUBLIC_TOKEN)

    # ECR Public falls back to anonymous pulls: not found, with the cause on stderr.
    assert (result.returncode, result.stdout) == (1, NOT_FOUND + "\n"), result
    assert f"{DEADLINE:g} s" in result.stderr
    assert under_deadline < DEADLINE + AFTER_DEADLINE, took
    assert aws_proxy.dripped(GET_PUBLIC_TOKEN) >= 1


def test_the_deadline_is_one_budget_for_assume_role_and_the_token(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    role = "arn:aws:iam::210987654321:role/registry-pull"
    assert store(ecr_env, host, f"role:{role}", "").returncode == 0
    cache_file(ecr_env).unlink()
    # FAULT INJECTION: a slow STS (2 s), then a dripping ECR: together past one deadline.
    aws_proxy.delay(ASSUME_ROLE, DEADLINE - 1)
    aws_proxy.drip(GET_TOKEN)

    earlier = aws_proxy.count(ASSUME_ROLE)  # the store's

    took, result = timed_get(ecr_env, host)
    under_deadline = since_call(aws_proxy, ASSUME_ROLE, earlier)
    print(f"slow STS, then a drip: {took:.1f} s, {under_deadline:.1f} s from AssumeRole on")

    assert_one_line_failure(result, f"cannot get an ECR token for {host}", "GetAuthorizationToken")
    # One budget ends about DEADLINE after the first call; a budget per call would add the STS
    # delay (2 s), past DEADLINE + AFTER_DEADLINE.
    assert under_deadline < DEADLINE + AFTER_DEADLINE, took
    assert aws_proxy.dripped(GET_TOKEN) >= 1


def test_a_dripping_secrets_manager_ends_a_shared_get_within_the_deadline(
    machine: dict[str, str], aws_proxy: AwsProxy
) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    aws_proxy.drip(GET_SECRET)  # FAULT INJECTION: headers, then one byte per second

    took, result = timed_get(machine, SERVER)

    print(f"shared get against a drip: {took:.1f} s\n{result.stdout}{result.stderr}")
    line = assert_one_line_failure(
        result, f"cannot read the shared entry for {SERVER}", "Secrets Manager endpoint unreachable"
    )
    assert f"{DEADLINE:g} s" in line
    assert PASSWORD not in result.stdout + result.stderr
    assert took < DEADLINE + MARGIN
    assert aws_proxy.dripped(GET_SECRET) >= 1

    # Remembered as any failure is: the next `get` answers the same line at once.
    again_took, again = timed_get(machine, SERVER)
    assert (again.returncode, again.stdout) == (1, line)
    assert again_took < DEADLINE


def test_a_shared_value_is_served_stale_while_secrets_manager_drips(
    machine: dict[str, str], aws_proxy: AwsProxy
) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    env = {**machine, MAX_AGE: "1", STALE_FOR: "60"}
    assert run_helper_in(env, "get", stdin=SERVER).returncode == 0  # the cache is warm
    time.sleep(1.1)  # past the max age
    aws_proxy.drip(GET_SECRET)  # FAULT INJECTION: headers, then one byte per second
    earlier = aws_proxy.count(GET_SECRET)  # the warming get's

    took, result = timed_get(env, SERVER)
    under_deadline = since_call(aws_proxy, GET_SECRET, earlier)

    # A deadline is a transient cause, as a timeout is: the cached value stands in.
    assert result.returncode == 0, result
    assert PASSWORD in result.stdout
    assert "Secrets Manager endpoint unreachable" in result.stderr
    assert under_deadline < DEADLINE + AFTER_DEADLINE, took
    assert aws_proxy.dripped(GET_SECRET) >= 1


THREADING_PROBE = """
import sys
from docker_credential_convox import cli
code = cli.main(["get"])
sys.stderr.write("LOADED=" + ",".join(n for n in ("threading", "botocore") if n in sys.modules))
sys.exit(code)
"""


def test_a_cached_ecr_get_starts_no_thread_and_loads_no_botocore(
    ecr_env: dict[str, str], host: str
) -> None:
    assert run_helper_in(ecr_env, "get", stdin=host).returncode == 0  # mints, fills the cache
    result = subprocess.run(
        [sys.executable, "-c", THREADING_PROBE],
        input=host.encode(),
        capture_output=True,
        env=ecr_env,
        check=False,
    )
    assert result.returncode == 0, result
    assert result.stderr.decode().splitlines()[-1] == "LOADED="


@pytest.mark.parametrize("value", ["soon", "0", "-3", "nan"])
def test_a_deadline_that_is_not_seconds_is_refused_in_one_line(
    ecr_env: dict[str, str], host: str, value: str
) -> None:
    result = run_helper_in({**ecr_env, DEADLINE_SETTING: value}, "get", stdin=host)

    assert result.returncode == 1
    assert result.stdout == (
        f"{DEADLINE_SETTING} must be a number of seconds above 0, not {value!r}\n"
    )


def test_the_deadline_setting_is_documented(pytestconfig: pytest.Config) -> None:
    environment = Path(pytestconfig.rootpath, "docs", "environment.md").read_text()
    assert f"| `{DEADLINE_SETTING}` |" in environment


WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"


def test_a_dripping_sts_ends_a_workloads_kubelet_request_within_the_deadline(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, host: str
) -> None:
    """The service-account token's AssumeRoleWithWebIdentity is under the same budget: a node's
    request ends long before kubelet's 60 s exec timeout kills it."""
    aws_proxy.drip(WEB_IDENTITY)  # FAULT INJECTION: headers, then one byte per second
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXBwczphIn0.c2ln"
    body = (
        '{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1",'
        f'"image":"{host}/app","serviceAccountToken":"{token}","serviceAccountAnnotations":'
        '{"eks.amazonaws.com/ecr-role-arn":"arn:aws:iam::123456789012:role/workload"}}'
    )
    started = time.monotonic()
    try:
        result = run_helper_in(
            {**ecr_env, DEADLINE_SETTING: str(DEADLINE)},
            "kubelet",
            stdin=body,
            timeout=HUNG_AFTER,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`kubelet` still running after {HUNG_AFTER:g} s against a dripping STS")
    took = time.monotonic() - started
    under_deadline = since_call(aws_proxy, WEB_IDENTITY)

    assert result.returncode == 1, result
    assert result.stdout == "", result
    assert WEB_IDENTITY in result.stderr, result
    assert "Traceback" not in result.stderr, result
    assert token not in result.stderr
    assert under_deadline < DEADLINE + AFTER_DEADLINE, took
    assert aws_proxy.dripped(WEB_IDENTITY) >= 1
