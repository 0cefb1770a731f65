"""Faults between processes (issue 10): parallel `registries add`, `store` racing `erase`, a hung
Secret Service, a hung AWS endpoint. Each drives the installed executable in several processes.

The randomized store/erase/list proof is in test_faults_randomized.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from support import (
    HELPER,
    NOT_FOUND,
    helper_listing,
    hermetic_env,
    keyring_usernames,
    run_helper_in,
)

from standins.secret_service import SecretService, private_secret_service


@pytest.fixture
def tag() -> str:
    """A name part of this test's own: the session's Secret Service is shared."""
    return uuid.uuid4().hex[:10]


def store_request(host: str, secret: str = "pw", username: str = "alice") -> str:
    return json.dumps({"ServerURL": host, "Username": username, "Secret": secret})


def start_all(
    env: Mapping[str, str], commands: Sequence[tuple[Sequence[str], str]]
) -> list[subprocess.Popen[bytes]]:
    """Start every command, then hand each its stdin: they race from the same start line."""
    children = [
        subprocess.Popen(
            [str(HELPER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
        )
        for args, _ in commands
    ]
    for child, (_, stdin) in zip(children, commands):
        assert child.stdin is not None
        child.stdin.write(stdin.encode())
        child.stdin.close()
    return children


def finish(
    children: Sequence[subprocess.Popen[bytes]], timeout: float = 120
) -> list[tuple[int, str, str]]:
    results = []
    for child in children:
        child.stdin = None  # fed and closed already; communicate() would flush it
        out, err = child.communicate(timeout=timeout)
        results.append((child.returncode, out.decode(), err.decode()))
    return results


# --- 1. parallel `registries add` ----------------------------------------------------------


def test_parallel_registries_add_routes_every_registry_in_config_json(
    helper_env: dict[str, str], tag: str
) -> None:
    hosts = [f"r{n}-{tag}.example.com" for n in range(20)]
    add = ["registries", "add", "--no-verify", "--username", "u", "--password-stdin"]
    results = finish(start_all(helper_env, [([*add, host], "pw\n") for host in hosts]))
    assert all(rc == 0 and out == "Done.\n" for rc, out, _ in results), results
    config = json.loads((Path(helper_env["DOCKER_CONFIG"]) / "config.json").read_text())
    missing = sorted(set(hosts) - set(config.get("credHelpers", {})))
    assert missing == [], f"{len(missing)} of {len(hosts)} routes lost: {missing}"
    assert set(helper_listing(helper_env)) == set(hosts)


def test_the_config_lock_is_hidden_beside_config_json_and_private(
    helper_env: dict[str, str], tag: str
) -> None:
    add = ["registries", "add", "--no-verify", "--username", "u", "--password-stdin"]
    result = run_helper_in(helper_env, *add, f"r-{tag}.example.com", stdin="pw\n")
    assert result.returncode == 0, result
    docker_dir = Path(helper_env["DOCKER_CONFIG"])
    assert sorted(p.name for p in docker_dir.iterdir()) == [".config.json.lock", "config.json"]
    assert (docker_dir / ".config.json.lock").stat().st_mode & 0o777 == 0o600


# --- 2. `store` racing `erase` of the same registry ----------------------------------------

# Fault injection (a timing a real client cannot produce on demand): the real helper, paused
# between its keyring write and its index write until the test lets it go on.
PAUSED_STORE = """
import os, sys, time
from docker_credential_convox import cli, registry_index_writer
reached, go = sys.argv[1], sys.argv[2]
original = registry_index_writer.RegistryIndexWriter.put
def paused(self, entry):
    open(reached, "w").close()
    while not os.path.exists(go):
        time.sleep(0.01)
    return original(self, entry)
registry_index_writer.RegistryIndexWriter.put = paused
sys.exit(cli.main(["store"]))
"""


def wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def assert_consistent(env: Mapping[str, str], host: str, secrets: Sequence[str]) -> None:
    """The index (`list`), the keyring and `get` agree on `host`, as some serial order leaves it."""
    listed = host in helper_listing(env)
    in_keyring = keyring_usernames(env, host)
    get = run_helper_in(env, "get", stdin=host)
    if listed:
        assert len(in_keyring) == 1, (host, in_keyring)
        assert get.returncode == 0, get
        assert json.loads(get.stdout)["Secret"] in secrets
    else:
        assert in_keyring == [], (host, in_keyring)
        assert (get.returncode, get.stdout) == (1, NOT_FOUND + "\n")


def test_erase_during_a_store_between_its_two_writes_leaves_a_serial_outcome(
    helper_env: dict[str, str], tag: str, tmp_path: Path
) -> None:
    host = f"race-{tag}.example"
    reached, go = tmp_path / "reached", tmp_path / "go"
    store = subprocess.Popen(
        [sys.executable, "-c", PAUSED_STORE, str(reached), str(go)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=helper_env,
    )
    assert store.stdin is not None
    store.stdin.write(store_request(host).encode())
    store.stdin.close()
    wait_for(reached)  # the secret is in the keyring, the index entry not yet
    erase = start_all(helper_env, [(["erase"], host)])
    time.sleep(1.0)  # long enough for an unlocked erase to run to its end
    go.touch()
    (store_rc, store_out, _), (erase_rc, erase_out, _) = finish([store, *erase], timeout=60)
    assert (store_rc, store_out, erase_rc, erase_out) == (0, "", 0, "")
    assert_consistent(helper_env, host, ["pw"])


@pytest.fixture
def own_secret_service() -> Iterator[SecretService]:
    """A Secret Service of this test's own, to lock, hang and restart."""
    with private_secret_service(password="right-password") as service:
        yield service


def test_erase_with_the_keyring_locked_fails_and_keeps_the_registry(
    tmp_path: Path, own_secret_service: SecretService, tag: str
) -> None:
    host = f"locked-{tag}.example"
    env = hermetic_env(tmp_path, own_secret_service.env)
    assert run_helper_in(env, "store", stdin=store_request(host)).returncode == 0
    own_secret_service.stop_keyring()
    own_secret_service.start_keyring(password="wrong-password")  # stays locked
    erase = run_helper_in(env, "erase", stdin=host, timeout=30)
    assert erase.returncode == 1
    assert erase.stdout.startswith("the OS keyring is locked")
    assert erase.stdout.count("\n") == 1
    assert helper_listing(env) == {host: "alice"}  # nothing half-done
    own_secret_service.stop_keyring()
    own_secret_service.start_keyring(password="right-password")
    assert json.loads(run_helper_in(env, "get", stdin=host).stdout)["Secret"] == "pw"
    assert run_helper_in(env, "erase", stdin=host).returncode == 0
    assert helper_listing(env) == {}
    assert keyring_usernames(env, host) == []


# --- 3. a hung Secret Service --------------------------------------------------------------


@contextlib.contextmanager
def stopped(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """The process SIGSTOPped for the block: alive, holding its bus name, answering nothing."""
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


def test_a_hung_secret_service_fails_each_action_in_seconds_naming_the_daemon(
    tmp_path: Path, own_secret_service: SecretService, tag: str
) -> None:
    stored, new = f"hung-{tag}.example", f"hung-new-{tag}.example"
    env = hermetic_env(tmp_path, own_secret_service.env)
    assert run_helper_in(env, "store", stdin=store_request(stored)).returncode == 0
    assert own_secret_service.keyring_process is not None
    short = {**env, "DOCKER_CREDENTIAL_CONVOX_KEYRING_TIMEOUT": "1"}
    with stopped(own_secret_service.keyring_process):
        timings = {}
        for name, action_env, action, stdin in [
            ("get (default bound)", env, "get", stored),
            ("store", short, "store", store_request(new)),
            ("erase", short, "erase", stored),
        ]:
            started = time.monotonic()
            result = run_helper_in(action_env, action, stdin=stdin, timeout=60)
            timings[name] = time.monotonic() - started
            assert result.returncode == 1, (name, result)
            assert result.stdout.count("\n") == 1, (name, result)
            assert "org.freedesktop.secrets" in result.stdout, (name, result)
            assert "Traceback" not in result.stdout + result.stderr
        listing = helper_listing(env)
    print(f"hung Secret Service: {', '.join(f'{k} {v:.1f}s' for k, v in timings.items())}")
    assert timings["get (default bound)"] < 10
    assert timings["store"] < 5
    assert timings["erase"] < 5
    assert listing == {stored: "alice"}  # the failed store added nothing, the erase removed nothing
    assert json.loads(run_helper_in(env, "get", stdin=stored).stdout)["Secret"] == "pw"


def test_a_secret_service_busy_past_the_read_bound_is_waited_for_by_writes(
    tmp_path: Path, own_secret_service: SecretService, tag: str
) -> None:
    """A store and an erase wait for a Secret Service that answers late (25 s a call, GDBus's
    default): gnome-keyring answers a burst of writes one by one, each after writing its file,
    so on a slow disk a write queues past the read bound (5 s), busy and not hung. FAULT
    INJECTION: the daemon stopped for 7 s stands in for that queue (twelve stores against one
    whose fsyncs strace delayed 0.3 s each failed 7 of 12 at 5 s the same way)."""
    stored, new = f"busy-{tag}.example", f"busy-new-{tag}.example"
    env = hermetic_env(tmp_path, own_secret_service.env)
    assert run_helper_in(env, "store", stdin=store_request(stored)).returncode == 0
    assert own_secret_service.keyring_process is not None
    with stopped(own_secret_service.keyring_process):
        started = time.monotonic()
        children = start_all(env, [(["store"], store_request(new)), (["erase"], stored)])
        time.sleep(7)
    results = finish(children)
    assert [code for code, _, _ in results] == [0, 0], results
    assert time.monotonic() - started >= 7
    assert helper_listing(env) == {new: "alice"}
    assert json.loads(run_helper_in(env, "get", stdin=new).stdout)["Secret"] == "pw"


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "inf"])
def test_a_keyring_timeout_that_is_not_seconds_is_refused_in_one_line(
    helper_env: dict[str, str], tag: str, value: str
) -> None:
    env = {**helper_env, "DOCKER_CREDENTIAL_CONVOX_KEYRING_TIMEOUT": value}
    result = run_helper_in(env, "store", stdin=store_request(f"t-{tag}.example"))
    assert result.returncode == 1
    assert result.stdout == (
        f"DOCKER_CREDENTIAL_CONVOX_KEYRING_TIMEOUT must be a number of seconds above 0, "
        f"not {value!r}\n"
    )
    assert helper_listing(helper_env) == {}


# --- 4. a hung AWS endpoint ----------------------------------------------------------------

ECR_HOST = "123456789012.dkr.ecr.us-east-2.amazonaws.com"


class SilentEndpoint:
    """A loopback TCP server that accepts every connection and never answers: a fault no real
    AWS stand-in produces on demand. Counts the connections it accepted."""

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.listener.accept()
                self.accepted.append(connection)  # kept open, never read or written

    def close(self) -> None:
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_endpoint() -> Iterator[SilentEndpoint]:
    endpoint = SilentEndpoint()
    yield endpoint
    endpoint.close()


def timed_gets(
    env: Mapping[str, str], count: int
) -> tuple[list[float], list[tuple[int, str, str]]]:
    started = time.monotonic()
    children = start_all(env, [(["get"], ECR_HOST)] * count)
    ends = []
    results = []
    for child in children:
        child.stdin = None  # fed and closed already; communicate() would flush it
        out, err = child.communicate(timeout=300)
        ends.append(time.monotonic() - started)
        results.append((child.returncode, out.decode(), err.decode()))
    return ends, results


def test_concurrent_cold_gets_against_a_silent_endpoint_end_within_one_call(
    helper_env: dict[str, str], silent_endpoint: SilentEndpoint, tmp_path: Path
) -> None:
    env = {
        **helper_env,
        "AWS_ENDPOINT_URL_ECR": silent_endpoint.url,
        "DOCKER_CREDENTIAL_CONVOX_AWS_CONNECT_TIMEOUT": "1",
        "DOCKER_CREDENTIAL_CONVOX_AWS_READ_TIMEOUT": "1",
    }
    # One call's bound, measured with a cache of its own (a failure there is remembered).
    [single], [(rc, out, _)] = timed_gets(
        {**env, "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR": str(tmp_path / "single")}, 1
    )
    assert rc == 1
    assert out.startswith(f"cannot get an ECR token for {ECR_HOST}"), out
    connections_per_call = len(silent_endpoint.accepted)

    ends, results = timed_gets(env, 8)
    print(
        f"one call {single:.1f}s ({connections_per_call} connections); 8 concurrent end at "
        f"{', '.join(f'{end:.1f}' for end in ends)}s ({len(silent_endpoint.accepted)} in all)"
    )
    assert {(rc, out) for rc, out, _ in results} == {(1, out)}, results
    assert max(ends) < 2 * single + 2
    assert len(silent_endpoint.accepted) == 2 * connections_per_call  # one more mint, not eight

    # Remembered briefly: the next `get` gets the same answer at once.
    [again], [(rc, again_out, again_err)] = timed_gets(env, 1)
    assert (rc, again_out) == (1, out)
    assert again < single / 2
    assert "not retrying" in again_err


def test_erase_where_nothing_can_be_stored_still_succeeds(
    helper_env: dict[str, str], tag: str
) -> None:
    # A config directory that cannot exist (under a file): no lock, and no store, is possible.
    env = {
        **helper_env,
        "DOCKER_CREDENTIAL_CONVOX_CONFIG_DIR": "/dev/null/docker-credential-convox",
    }
    result = run_helper_in(env, "erase", stdin=f"nothing-{tag}.example")
    assert (result.returncode, result.stdout) == (0, ""), result
