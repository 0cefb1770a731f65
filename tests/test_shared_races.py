"""Operators racing on one shared registry (issue 17, item 8): `registries add --shared` and
`registries remove --shared` of the same registry at the same time, against moto's Secrets
Manager behind the counting proxy.

Whatever the interleaving, each command either succeeds or fails with exactly one line that
names the registry and the cause: never `internal error`, never a traceback. The races are real
ones in moto: run concurrently, or made certain by holding one call at the proxy (a delay, not
a fake reply) while the test changes the secret directly, as another operator would.
"""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from support import HELPER
from support.shared import aws_client, prefix_of, share, unshare

from standins.aws_proxy import AwsProxy
from standins.moto_servers import MotoProcess

pytest_plugins = ["support.aws_emulator", "support.shared"]

SERVER = "registry.example.com:5000"
SECRET_NAME_TAIL = "registry.example.com+5000"
PASSWORD = "race-secret-41b7"
WORKERS = 4
OPERATIONS = 12  # per worker, alternating add and remove
PUT_VALUE = "secretsmanager:PutSecretValue"
DELETE = "secretsmanager:DeleteSecret"
ADD = ("registries", "add", SERVER, "--shared", "--no-verify")
# A slow link between the calls of one `add` (the proxy holds each PutSecretValue this long
# before moto answers it), so that a concurrent `remove` lands between them now and then.
SLOW_PUT = 0.5


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    """Done, or exactly one line naming the registry; never an internal error or traceback."""
    everything = result.stdout + result.stderr
    assert "internal error" not in everything, result
    assert "Traceback" not in everything, result
    assert PASSWORD not in everything, result
    if result.returncode == 0:
        assert result.stdout == "Done.\n", result
        return
    assert result.stdout == "", result
    assert result.stderr.count("\n") == 1, result
    assert SERVER in result.stderr, result


def test_concurrent_add_and_remove_of_one_registry_fail_cleanly(
    new_machine: object, aws_proxy: AwsProxy
) -> None:
    assert callable(new_machine)
    aws_proxy.delay(PUT_VALUE, SLOW_PUT)
    operators = [new_machine(f"operator-{number}") for number in range(WORKERS)]

    def work(number: int) -> list[subprocess.CompletedProcess[str]]:
        env = operators[number]
        results = []
        for step in range(OPERATIONS):
            if (step + number) % 2 == 0:
                results.append(share(env, SERVER, "fleet", PASSWORD, "--no-verify"))
            else:
                results.append(unshare(env, SERVER))
        return results

    started = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        results = [result for batch in pool.map(work, range(WORKERS)) for result in batch]
    elapsed = time.monotonic() - started

    for result in results:
        assert_clean(result)
    adds = [result for result in results if "add" in result.args]
    assert any(result.returncode == 0 for result in adds)
    print(f"{len(results)} operations in {elapsed:.1f} s")


def test_a_secret_deleted_between_create_and_put_is_created_again(
    machine: dict[str, str], aws_proxy: AwsProxy, moto_server: MotoProcess, tmp_path: Path
) -> None:
    """CreateSecret says it exists, then another operator deletes it before PutSecretValue."""
    assert share(machine, SERVER, "fleet", "first", "--no-verify").returncode == 0
    name = f"{prefix_of(machine)}/{SECRET_NAME_TAIL}"
    sm = aws_client("secretsmanager", moto_server.url)
    aws_proxy.reset()
    aws_proxy.delay(PUT_VALUE, 1.5)  # holds the call; what moto answers is moto's own
    password = tmp_path / "password"
    password.write_text(PASSWORD)
    with password.open("rb") as stdin:
        adding = subprocess.Popen(
            [str(HELPER), *ADD, "--username", "fleet", "--password-stdin"],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=machine,
            text=True,
        )
    deadline = time.monotonic() + 30
    while aws_proxy.count(PUT_VALUE) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)  # the other operator
    aws_proxy.delay(PUT_VALUE, 0.0)
    stdout, stderr = adding.communicate(timeout=60)

    assert_clean(subprocess.CompletedProcess(adding.args, adding.returncode, stdout, stderr))
    assert adding.returncode == 0, (stdout, stderr)
    assert json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["Secret"] == PASSWORD


def test_add_of_a_secret_scheduled_for_deletion_is_one_line(
    machine: dict[str, str], moto_server: MotoProcess
) -> None:
    """Deleted with a recovery window (the console's default): its name is still taken."""
    assert share(machine, SERVER, "fleet", "first", "--no-verify").returncode == 0
    sm = aws_client("secretsmanager", moto_server.url)
    name = f"{prefix_of(machine)}/{SECRET_NAME_TAIL}"
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)

    result = share(machine, SERVER, "fleet", PASSWORD, "--no-verify")

    assert_clean(result)
    assert result.returncode == 1
    assert "scheduled for deletion" in result.stderr, result


def test_a_secret_deleted_between_describe_and_delete_is_one_clean_answer(
    machine: dict[str, str], aws_proxy: AwsProxy, moto_server: MotoProcess
) -> None:
    """Two operators remove at once: DescribeSecret finds it, then the other one deletes it."""
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    name = f"{prefix_of(machine)}/{SECRET_NAME_TAIL}"
    sm = aws_client("secretsmanager", moto_server.url)
    aws_proxy.reset()
    aws_proxy.delay(DELETE, 1.5)  # holds the call; what moto answers is moto's own
    removing = subprocess.Popen(
        [str(HELPER), "registries", "remove", SERVER, "--shared"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=machine,
        text=True,
    )
    deadline = time.monotonic() + 30
    while aws_proxy.count(DELETE) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)  # the other operator
    stdout, stderr = removing.communicate(timeout=60)

    assert_clean(subprocess.CompletedProcess(removing.args, removing.returncode, stdout, stderr))
    assert sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"] == []
