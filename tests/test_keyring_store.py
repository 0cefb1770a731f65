"""The keyring store under faults: no Secret Service, a locked keyring, a kill mid-write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import NOT_FOUND, RunHelper, hermetic_env, keyring_usernames, run_helper_in

from docker_credential_convox.settings import Settings
from standins.processes import wait_until
from standins.secret_service import SECRETS_NAME, SecretService, private_secret_service

SECRET_SERVICE_CLASS = "keyring.backends.SecretService.Keyring"


@pytest.fixture
def host() -> str:
    """A registry host of this test's own: the Secret Service is shared by the whole session."""
    return f"r-{uuid.uuid4().hex[:12]}.example"


SESSION = "DOCKER_CREDENTIAL_CONVOX_SECRET_SERVICE_SESSION"


@pytest.fixture(params=["plain", "encrypted"])
def session(request: pytest.FixtureRequest) -> dict[str, str]:
    """The direct read's session (plain: jeepney alone; encrypted: secretstorage), as a variable."""
    return {SESSION: request.param}


def store_request(host: str, secret: str = "pw") -> str:
    return json.dumps({"ServerURL": host, "Username": "alice", "Secret": secret})


def test_no_secret_service_gives_one_line_that_says_what_to_do(tmp_path: Path, host: str) -> None:
    env = hermetic_env(tmp_path)  # no DBUS_SESSION_BUS_ADDRESS: nothing answers
    result = run_helper_in(env, "store", stdin=store_request(host))
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith("no usable OS keyring")
    # The three ways out: a Secret Service, the pass store, a fleet's shared scope.
    assert "gnome-keyring-daemon" in result.stdout
    assert "DOCKER_CREDENTIAL_CONVOX_SECRET_STORE=pass" in result.stdout
    assert "pass init" in result.stdout + result.stderr
    assert "DOCKER_CREDENTIAL_CONVOX_SHARED=" in result.stdout
    assert "gnome-keyring-daemon" in result.stderr
    # keyrings.alt asks for a password on every `get` (and fails under Docker): never advised.
    assert "keyrings.alt" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert json.loads(run_helper_in(env, "list").stdout) == {}


def test_without_a_keyring_unknown_servers_are_still_plain_not_found(
    tmp_path: Path, host: str
) -> None:
    env = hermetic_env(tmp_path)
    get = run_helper_in(env, "get", stdin=host)
    assert (get.returncode, get.stdout) == (1, NOT_FOUND + "\n")
    erase = run_helper_in(env, "erase", stdin=host)
    assert (erase.returncode, erase.stdout) == (0, "")


def test_explicit_backend_that_does_not_exist_is_named(
    helper_env: dict[str, str], host: str
) -> None:
    env = {**helper_env, "PYTHON_KEYRING_BACKEND": "no.such.Backend"}
    result = run_helper_in(env, "store", stdin=store_request(host))
    assert result.returncode == 1
    assert "cannot load keyring backend no.such.Backend" in result.stdout


@pytest.fixture
def own_secret_service() -> Iterator[SecretService]:
    """A Secret Service of this test's own, so it can be restarted with another password."""
    with private_secret_service(password="right-password") as service:
        yield service


def relock(service: SecretService) -> None:
    """Restart the keyring daemon with the wrong password: the login keyring stays locked."""
    service.stop_keyring()
    service.start_keyring(password="wrong-password")


def abort(daemon: subprocess.Popen[bytes] | None) -> None:
    """SIGABRT gnome-keyring and wait for it to exit. FAULT INJECTION: gnome-keyring 42 aborts
    when a client hangs up before its property Get is answered (standins/secret_service.py);
    that race is not on demand."""
    assert daemon is not None
    daemon.send_signal(signal.SIGABRT)
    daemon.wait(timeout=30)


def test_a_secret_service_that_died_is_not_replaced_on_demand_and_is_started_again(
    tmp_path: Path, own_secret_service: SecretService, host: str
) -> None:
    env = hermetic_env(tmp_path, own_secret_service.env)
    assert run_helper_in(env, "store", stdin=store_request(host)).returncode == 0
    abort(own_secret_service.keyring_process)

    gone = run_helper_in(env, "get", stdin=host, timeout=30)
    # No gnome-keyring started by the bus in its place, without the password or `login`
    # (which answers every request "Prompt dismissed"): the real cause, in one line.
    assert gone.returncode == 1, gone
    assert gone.stdout.count("\n") == 1, gone
    assert gone.stdout.startswith("no usable OS keyring: no Secret Service answers"), gone
    assert "Prompt dismissed" not in gone.stdout + gone.stderr

    assert own_secret_service.restart_if_dead() == -signal.SIGABRT
    assert own_secret_service.restart_if_dead() is None  # running: left alone
    assert json.loads(run_helper_in(env, "get", stdin=host).stdout)["Secret"] == "pw"


def test_a_secret_service_restarting_on_demand_answers_after_each_abort_unlocked(
    tmp_path: Path, host: str
) -> None:
    # The test session's Secret Service (tests/conftest.py): as a user's session bus does,
    # the bus starts gnome-keyring again when the next client asks, here unlocked as before.
    with private_secret_service(password="right-password", restart_on_demand=True) as service:
        env = hermetic_env(tmp_path, service.env)
        assert run_helper_in(env, "store", stdin=store_request(host)).returncode == 0
        abort(service.keyring_process)
        assert not service.name_has_owner(SECRETS_NAME)

        for restarts in (1, 2):
            got = run_helper_in(env, "get", stdin=host, timeout=30)
            assert json.loads(got.stdout)["Secret"] == "pw", got
            assert service.restarts() == restarts
            started = int(service.started_on_demand.read_text().split()[-1])
            os.kill(started, signal.SIGABRT)  # and the one the bus started aborts in turn
            wait_until("its name unowned", lambda: not service.name_has_owner(SECRETS_NAME))

        assert service.restart_if_dead() == -signal.SIGABRT  # ours: reported once, not started
        assert service.restart_if_dead() is None
        assert service.unreported_restarts() == 2
        assert service.unreported_restarts() == 0
        got = run_helper_in(env, "get", stdin=host, timeout=30)
        assert json.loads(got.stdout)["Secret"] == "pw", got
        last = int(service.started_on_demand.read_text().split()[-1])
    # Stopped with the rest: nothing the bus started outlives the Secret Service.
    wait_until("the daemon the bus started to exit", lambda: not running(last))


def running(pid: int) -> bool:
    """Whether `pid` is a process that has not exited (a zombie has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_locked_keyring_is_reported_as_locked_and_nothing_is_indexed(
    tmp_path: Path, own_secret_service: SecretService, host: str
) -> None:
    relock(own_secret_service)
    env = hermetic_env(tmp_path, own_secret_service.env)
    result = run_helper_in(env, "store", stdin=store_request(host), timeout=30)
    assert result.returncode == 1
    assert result.stdout.startswith("the OS keyring is locked")
    assert result.stdout.count("\n") == 1
    assert json.loads(run_helper_in(env, "list").stdout) == {}


KILL_BETWEEN = """
import os, sys
from docker_credential_convox import cli, registry_index_writer
from docker_credential_convox.stores import keyring
def killed(*args, **kwargs):
    os._exit(137)  # SIGKILL-like: no cleanup, no finally blocks
target = {target!r}
if target == "index.put":
    registry_index_writer.RegistryIndexWriter.put = killed
elif target == "index.remove":
    registry_index_writer.RegistryIndexWriter.remove = killed
elif target == "keychain.put":
    keyring.KeyringStore.put = killed
else:
    keyring.KeyringStore.delete = killed
sys.exit(cli.main([{action!r}]))
"""


def run_killed_between_writes(env: dict[str, str], action: str, stdin: str, target: str) -> None:
    """Fault injection: the real helper, killed exactly between its keyring and index writes."""
    code = KILL_BETWEEN.format(target=target, action=action)
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=stdin.encode(),
        env=env,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 137, result


def pending_dir(env: dict[str, str]) -> Path:
    return Path(Settings(env).index_path).parent / "pending"


def pending_markers(env: dict[str, str]) -> list[str]:
    """The keys the pending markers beside the registry index name (a store under way or
    interrupted); read from the files themselves."""
    pending = pending_dir(env)
    if not pending.is_dir():
        return []
    return sorted(path.read_text() for path in pending.iterdir() if not path.name.startswith("."))


def test_store_killed_between_keyring_and_index_looks_like_no_store(
    run_helper: RunHelper, helper_env: dict[str, str], host: str
) -> None:
    run_killed_between_writes(helper_env, "store", store_request(host), "index.put")
    assert keyring_usernames(helper_env, host) == ["alice"]  # the orphan exists...
    assert pending_markers(helper_env) == [host]  # ...and is known without opening the keyring
    assert run_helper("get", host).stdout == NOT_FOUND + "\n"  # ...but is not served
    assert json.loads(run_helper("list").stdout) == {}
    assert run_helper("erase", host).returncode == 0
    assert keyring_usernames(helper_env, host) == []  # erase swept it
    assert pending_markers(helper_env) == []


def test_store_killed_before_its_keyring_write_leaves_a_marker_the_next_erase_clears(
    run_helper: RunHelper, helper_env: dict[str, str], host: str
) -> None:
    run_killed_between_writes(helper_env, "store", store_request(host), "keychain.put")
    assert pending_markers(helper_env) == [host]
    assert keyring_usernames(helper_env, host) == []
    assert run_helper("get", host).stdout == NOT_FOUND + "\n"
    assert run_helper("erase", host).returncode == 0
    assert keyring_usernames(helper_env, host) == []
    assert pending_markers(helper_env) == []


def test_a_store_keeps_the_marker_of_an_interrupted_one_until_erase_sweeps(
    run_helper: RunHelper, helper_env: dict[str, str], host: str
) -> None:
    """The orphan (alice) outlives a completed store of another username (bob): the marker
    it left must too, or the erase after would not look for it."""
    run_killed_between_writes(helper_env, "store", store_request(host), "index.put")
    bob = json.dumps({"ServerURL": host, "Username": "bob", "Secret": "pw"})
    assert run_helper("store", bob).returncode == 0
    assert pending_markers(helper_env) == [host]
    assert run_helper("erase", host).returncode == 0
    assert keyring_usernames(helper_env, host) == []
    assert pending_markers(helper_env) == []


def test_a_completed_store_and_erase_leave_no_marker(
    run_helper: RunHelper, helper_env: dict[str, str], host: str
) -> None:
    assert run_helper("store", store_request(host)).returncode == 0
    assert pending_markers(helper_env) == []
    assert run_helper("erase", host).returncode == 0
    assert pending_markers(helper_env) == []
    assert keyring_usernames(helper_env, host) == []


def test_an_orphan_without_a_marker_is_left_to_the_next_store(
    run_helper: RunHelper, helper_env: dict[str, str], host: str
) -> None:
    """A secret an earlier release orphaned (it wrote no marker): erase of the unknown
    registry no longer opens the keyring for it; the next store of that login replaces it."""
    run_killed_between_writes(helper_env, "store", store_request(host), "index.put")
    for marker in pending_dir(helper_env).iterdir():
        marker.unlink()  # as an earlier release left it: no marker
    assert run_helper("erase", host).returncode == 0
    assert keyring_usernames(helper_env, host) == ["alice"]
    assert run_helper("store", store_request(host, "new")).returncode == 0
    assert run_helper("erase", host).returncode == 0
    assert keyring_usernames(helper_env, host) == []


def test_store_after_an_interrupted_store_works(
    run_helper: RunHelper, helper_env: dict[str, str], host: str
) -> None:
    run_killed_between_writes(helper_env, "store", store_request(host), "index.put")
    assert run_helper("store", store_request(host, "pw2")).returncode == 0
    assert json.loads(run_helper("get", host).stdout)["Secret"] == "pw2"
    assert keyring_usernames(helper_env, host) == ["alice"]


def test_erase_killed_between_keyring_and_index_leaves_no_secret_and_is_finished_by_erase(
    run_helper: RunHelper, helper_env: dict[str, str], host: str
) -> None:
    assert run_helper("store", store_request(host)).returncode == 0
    run_killed_between_writes(helper_env, "erase", host, "index.remove")
    assert keyring_usernames(helper_env, host) == []  # the secret went first: no orphan...
    assert pending_markers(helper_env) == []  # ...so no marker was written
    assert run_helper("get", host).stdout == NOT_FOUND + "\n"
    assert json.loads(run_helper("list").stdout) == {host: "alice"}  # until the next erase
    assert run_helper("erase", host).returncode == 0
    assert json.loads(run_helper("list").stdout) == {}


def test_erase_killed_before_its_keyring_delete_leaves_the_registry_as_it_was(
    run_helper: RunHelper, helper_env: dict[str, str], host: str
) -> None:
    assert run_helper("store", store_request(host)).returncode == 0
    run_killed_between_writes(helper_env, "erase", host, "keychain.delete")
    assert json.loads(run_helper("get", host).stdout)["Secret"] == "pw"
    assert json.loads(run_helper("list").stdout) == {host: "alice"}
    assert pending_markers(helper_env) == []


def test_secret_missing_from_keyring_is_not_found_with_a_warning(
    run_helper: RunHelper, helper_env: dict[str, str], host: str, session: dict[str, str]
) -> None:
    assert run_helper("store", store_request(host)).returncode == 0
    subprocess.run(
        ["secret-tool", "clear", "service", f"docker-credential-convox:{host}"],
        env=helper_env,
        check=True,
    )
    result = run_helper("get", host, session)
    assert (result.returncode, result.stdout) == (1, NOT_FOUND + "\n")
    assert "secret is missing from the OS keyring" in result.stderr


def run_concurrent_stores(env: dict[str, str], count: int, prefix: tuple[str, ...] = ()) -> None:
    """`count` stores of registries r0.example... at once, all running before any reads; each
    must succeed (what a failing one said is in the assertion)."""
    from support import HELPER

    processes = [
        subprocess.Popen(
            [*prefix, str(HELPER), "store"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for _ in range(count)
    ]
    for number, process in enumerate(processes):
        payload = {"ServerURL": f"r{number}.example", "Username": f"u{number}", "Secret": "s"}
        assert process.stdin is not None
        process.stdin.write(json.dumps(payload).encode())
        process.stdin.close()
    outcomes = []  # what each said, so that a failure shows why (a line or two: no pipe fills)
    for process in processes:
        assert process.stdout is not None
        assert process.stderr is not None
        said = process.stdout.read().decode(), process.stderr.read().decode()
        outcomes.append((process.wait(timeout=180), *said))
    assert [outcome for outcome in outcomes if outcome[0] != 0] == []


def test_concurrent_stores_lose_no_index_entry(
    run_helper: RunHelper, helper_env: dict[str, str]
) -> None:
    run_concurrent_stores(helper_env, 12)
    listing = json.loads(run_helper("list").stdout)
    assert listing == {f"r{n}.example": f"u{n}" for n in range(12)}


# FAULT INJECTION: strace makes every fsync of the stores take this long (a disk that slow cannot
# be had on demand; a store giving up on the lock is what stop 24's CI run showed). Each store
# holds the index's lock across two fsyncs, so twelve keep it busy longer than its 30 s bound.
SLOW_FSYNC = (
    *("strace", "-f", "--seccomp-bpf", "-qq", "-o", "/dev/null", "-e", "trace=fsync"),
    *("-e", "inject=fsync:delay_exit=1500000"),  # microseconds
)


def test_concurrent_stores_on_a_slow_disk_all_finish(
    run_helper: RunHelper, helper_env: dict[str, str]
) -> None:
    run_concurrent_stores(helper_env, 12, SLOW_FSYNC)
    listing = json.loads(run_helper("list").stdout)
    assert listing == {f"r{n}.example": f"u{n}" for n in range(12)}


def pin_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CACHE_HOME"]) / "docker-credential-convox" / "keyring-backend"


def test_discovered_backend_is_remembered_privately(
    run_helper: RunHelper, helper_env: dict[str, str], host: str
) -> None:
    assert run_helper("store", store_request(host)).returncode == 0
    pin = pin_file(helper_env)
    assert pin.read_text() == "keyring.backends.SecretService.Keyring\n"
    assert oct(pin.stat().st_mode & 0o777) == oct(0o600)


@pytest.mark.parametrize(
    "pinned", ["no.such.module.Keyring", "not a dotted path!", "keyring.backends.fail.Keyring"]
)
def test_a_stale_or_broken_remembered_backend_is_replaced(
    run_helper: RunHelper, helper_env: dict[str, str], host: str, pinned: str
) -> None:
    assert run_helper("store", store_request(host)).returncode == 0
    pin_file(helper_env).write_text(pinned + "\n")
    result = run_helper("get", host)
    assert result.returncode == 0, result
    assert json.loads(result.stdout)["Secret"] == "pw"
    assert pin_file(helper_env).read_text() == "keyring.backends.SecretService.Keyring\n"


def test_explicit_backend_choice_wins_over_the_remembered_one(
    run_helper: RunHelper, helper_env: dict[str, str], host: str
) -> None:
    assert run_helper("store", store_request(host)).returncode == 0
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    result = run_helper("get", host, env)
    assert result.returncode == 1
    assert result.stdout.startswith("no usable OS keyring")


def test_get_reads_the_secret_service_directly_without_importing_keyring(
    run_helper: RunHelper, helper_env: dict[str, str], host: str
) -> None:
    assert run_helper("store", store_request(host)).returncode == 0  # remembers the backend
    probe = (
        "import sys\n"
        "from docker_credential_convox import cli\n"
        "code = cli.main(['get'])\n"
        "sys.stderr.write('KEYRING_IMPORTED=%s\\n' % ('keyring' in sys.modules))\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        input=host.encode(),
        capture_output=True,
        env=helper_env,
        check=False,
    )
    assert result.returncode == 0, result
    assert json.loads(result.stdout)["Secret"] == "pw"
    assert b"KEYRING_IMPORTED=False" in result.stderr


def test_a_keyring_property_in_the_environment_sends_get_through_keyring(
    run_helper: RunHelper, helper_env: dict[str, str], host: str
) -> None:
    assert run_helper("store", store_request(host)).returncode == 0
    env = {"KEYRING_PROPERTY_SCHEME": "KeePassXC"}  # keyring would look up other attributes
    result = run_helper("get", host, env)
    assert (result.returncode, result.stdout) == (1, NOT_FOUND + "\n")


def test_get_from_a_keyring_that_became_locked_says_it_is_locked(
    tmp_path: Path, own_secret_service: SecretService, host: str, session: dict[str, str]
) -> None:
    env = hermetic_env(tmp_path, {**own_secret_service.env, **session})
    assert run_helper_in(env, "store", stdin=store_request(host)).returncode == 0
    relock(own_secret_service)
    result = run_helper_in(env, "get", stdin=host, timeout=30)
    assert result.returncode == 1
    assert result.stdout.startswith("the OS keyring is locked")
    assert "pw" not in result.stdout.split()


def test_without_a_bus_a_stored_login_is_reported_as_no_keyring(
    run_helper: RunHelper, helper_env: dict[str, str], host: str, session: dict[str, str]
) -> None:
    assert run_helper("store", store_request(host)).returncode == 0  # remembers the backend
    env = {**{k: v for k, v in helper_env.items() if k != "DBUS_SESSION_BUS_ADDRESS"}, **session}
    result = run_helper_in(env, "get", stdin=host)
    assert result.returncode == 1
    assert result.stdout.startswith("no usable OS keyring")
    assert result.stdout.count("\n") == 1


def test_of_several_matching_items_get_answers_the_one_keyring_answers(
    run_helper: RunHelper, helper_env: dict[str, str], host: str, session: dict[str, str]
) -> None:
    assert run_helper("store", store_request(host, "first")).returncode == 0
    # A second item whose attributes include keyring's: the same search finds both.
    subprocess.run(
        [
            *("secret-tool", "store", "--label=other"),
            *("service", f"docker-credential-convox:{host}", "username", "alice", "extra", "1"),
        ],
        input=b"second",
        env=helper_env,
        check=True,
    )
    through_keyring = run_helper("get", host, {"PYTHON_KEYRING_BACKEND": SECRET_SERVICE_CLASS})
    result = run_helper("get", host, session)
    assert result.returncode == 0, result
    assert json.loads(result.stdout)["Secret"] == json.loads(through_keyring.stdout)["Secret"]


READ_PROBE = """
import sys
from docker_credential_convox import cli
code = cli.main(['get'])
loaded = [n for n in ("keyring", "secretstorage", "cryptography", "jeepney") if n in sys.modules]
sys.stderr.write("LOADED=" + ",".join(loaded) + "\\n")
sys.exit(code)
"""


@pytest.mark.parametrize(
    ("setting", "loaded"),
    [
        ({}, "LOADED="),  # plain, the default: the bus's socket alone (stores/dbus_wire.py)
        ({SESSION: "plain"}, "LOADED="),
        ({SESSION: "encrypted"}, "LOADED=secretstorage,cryptography,jeepney"),
    ],
)
def test_get_reads_the_item_in_the_session_the_setting_names(
    run_helper: RunHelper,
    helper_env: dict[str, str],
    host: str,
    setting: dict[str, str],
    loaded: str,
) -> None:
    assert run_helper("store", store_request(host)).returncode == 0  # remembers the backend
    result = subprocess.run(
        [sys.executable, "-c", READ_PROBE],
        input=host.encode(),
        capture_output=True,
        env={**helper_env, **setting},
        check=False,
    )
    assert result.returncode == 0, result
    assert json.loads(result.stdout)["Secret"] == "pw"
    assert loaded in result.stderr.decode().splitlines()


def test_an_unknown_session_setting_is_a_one_line_error(run_helper: RunHelper, host: str) -> None:
    assert run_helper("store", store_request(host)).returncode == 0
    result = run_helper("get", host, {SESSION: "rot13"})
    assert result.returncode == 1
    assert result.stdout == (
        "DOCKER_CREDENTIAL_CONVOX_SECRET_SERVICE_SESSION must be plain or encrypted, not 'rot13'\n"
    )
