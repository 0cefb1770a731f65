"""The pass store beside docker-credential-pass: one layout, read and written by both helpers.

Real `pass`, real gpg (support.pass_store) and Debian's Go helper (golang-docker-credential-helpers,
0.6.4). An entry either helper stores is answered by the other's `get` and shown by its `list`;
either helper's `erase` removes what the other stored. Also: the setting in the config file, the
errors of a store nobody initialised, no secret in any argv, no keyring on the path.
"""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from support import HELPER, NOT_FOUND, fail_without, hermetic_env, run_helper_in
from support.pass_store import (
    GO_PASS_HELPER,
    PASS_FOLDER,
    SECRET_STORE,
    encoded,
    kill_agent,
    pass_logins,
    pass_usernames,
    run_tool,
    store_dir,
)
from test_faults_randomized import (
    KEYS,
    PROCESSES,
    ROUNDS,
    State,
    race,
    random_action,
    serial_states,
)

from docker_credential_convox.settings import Settings

pytest.register_assert_rewrite("conformance")  # before its import: asserts show values
from conformance import CRASH_AT, KILLED  # noqa: E402

pytest_plugins = ["support.pass_store"]

HUB = "https://index.docker.io/v1/"
REGISTRY = "127.0.0.1:5000"
# A store's second write.
INDEX_WRITE = "docker_credential_convox.registry_index_writer:RegistryIndexWriter.put"


@pytest.fixture(autouse=True)
def _go_helper() -> None:
    fail_without(GO_PASS_HELPER)


def go(env: Mapping[str, str], action: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """docker-credential-pass ACTION in `env`."""
    return run_tool(env, GO_PASS_HELPER, action, stdin=stdin)


def store_request(server: str, username: str, secret: str) -> str:
    return json.dumps({"ServerURL": server, "Username": username, "Secret": secret})


def ours_get(env: Mapping[str, str], server: str) -> dict[str, str]:
    result = run_helper_in(env, "get", stdin=server)
    assert result.returncode == 0, result
    reply: dict[str, str] = json.loads(result.stdout)
    return reply


def ours_list(env: Mapping[str, str]) -> dict[str, str]:
    result = run_helper_in(env, "list")
    assert result.returncode == 0, result
    listed: dict[str, str] = json.loads(result.stdout)
    return listed


@pytest.mark.parametrize("server", [REGISTRY, HUB, f"{REGISTRY}/team-a"])
def test_stored_by_docker_credential_pass_is_answered_and_listed_by_ours(
    pass_env: dict[str, str], server: str
) -> None:
    stored = go(pass_env, "store", store_request(server, "gopher", "go-secret"))
    assert stored.returncode == 0, stored

    assert ours_get(pass_env, server) == {
        "ServerURL": server,
        "Username": "gopher",
        "Secret": "go-secret",
    }
    assert ours_list(pass_env) == {server: "gopher"}


def test_an_entry_of_docker_credential_pass_under_another_spelling_is_found(
    pass_env: dict[str, str],
) -> None:
    assert (
        go(pass_env, "store", store_request(f"https://{REGISTRY}/", "gopher", "pw")).returncode == 0
    )

    assert ours_get(pass_env, REGISTRY)["Secret"] == "pw"
    assert ours_get(pass_env, f"{REGISTRY}/team/app")["Username"] == "gopher"


def test_stored_by_ours_is_answered_and_listed_by_docker_credential_pass(
    pass_env: dict[str, str],
) -> None:
    for server, username in ((REGISTRY, "alice"), (HUB, "hubber")):
        result = run_helper_in(
            pass_env, "store", stdin=store_request(server, username, "pw-" + username)
        )
        assert (result.returncode, result.stdout) == (0, ""), result

    for server, username in ((REGISTRY, "alice"), (HUB, "hubber")):
        got = go(pass_env, "get", server)
        assert got.returncode == 0, got
        assert json.loads(got.stdout) == {
            "ServerURL": server,
            "Username": username,
            "Secret": "pw-" + username,
        }
    listed = go(pass_env, "list")
    assert json.loads(listed.stdout) == {REGISTRY: "alice", HUB: "hubber"}
    assert ours_list(pass_env) == {REGISTRY: "alice", HUB: "hubber"}
    # In pass's own layout: gpg files, private, in the folder docker-credential-pass reads.
    secret_file = store_dir(pass_env) / PASS_FOLDER / encoded(REGISTRY) / "alice.gpg"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert b"pw-alice" not in secret_file.read_bytes()


@pytest.mark.parametrize("server", ["::1:5000", "münchen.example", "-dash.example:99999"])
def test_a_key_no_parser_reads_is_shared_with_docker_credential_pass_as_sent(
    pass_env: dict[str, str], server: str
) -> None:
    # Ours keeps such a key opaque (README, the key table); pass's folder names it as sent, so
    # each helper reads what the other stored.
    result = run_helper_in(pass_env, "store", stdin=store_request(server, "ours", "ours-pw"))
    assert (result.returncode, result.stdout) == (0, ""), result
    got = go(pass_env, "get", server)
    assert got.returncode == 0, got
    assert json.loads(got.stdout) == {"ServerURL": server, "Username": "ours", "Secret": "ours-pw"}
    assert json.loads(go(pass_env, "list").stdout) == {server: "ours"}
    assert (store_dir(pass_env) / PASS_FOLDER / encoded(server) / "ours.gpg").exists()

    erased = run_helper_in(pass_env, "erase", stdin=server)
    assert (erased.returncode, erased.stdout) == (0, ""), erased
    # docker-credential-pass 0.6.4 answers a missing entry with empty fields.
    gone = go(pass_env, "get", server).stdout.strip()
    assert gone in (
        NOT_FOUND,
        json.dumps(
            {"ServerURL": server, "Username": "", "Secret": ""},
            ensure_ascii=False,
            separators=(",", ":"),
        ),
    ), gone
    stored = go(pass_env, "store", store_request(server, "gopher", "go-pw"))
    assert stored.returncode == 0, stored
    assert ours_get(pass_env, server) == {
        "ServerURL": server,
        "Username": "gopher",
        "Secret": "go-pw",
    }
    assert ours_list(pass_env) == {server: "gopher"}
    assert go(pass_env, "erase", server).returncode == 0
    assert run_helper_in(pass_env, "get", stdin=server).stdout.strip() == NOT_FOUND


def test_a_new_username_from_ours_replaces_the_login_docker_credential_pass_reads(
    pass_env: dict[str, str],
) -> None:
    assert go(pass_env, "store", store_request(REGISTRY, "zed", "old")).returncode == 0
    result = run_helper_in(pass_env, "store", stdin=store_request(REGISTRY, "alice", "new"))
    assert result.returncode == 0, result

    assert json.loads(go(pass_env, "get", REGISTRY).stdout)["Username"] == "alice"
    assert pass_logins(pass_env) == {REGISTRY: ["alice"]}


def test_erase_by_ours_removes_what_docker_credential_pass_stored(
    pass_env: dict[str, str],
) -> None:
    assert go(pass_env, "store", store_request(REGISTRY, "gopher", "pw")).returncode == 0

    erased = run_helper_in(pass_env, "erase", stdin=REGISTRY)

    assert (erased.returncode, erased.stdout) == (0, ""), erased
    assert json.loads(go(pass_env, "list").stdout) == {}
    got = run_helper_in(pass_env, "get", stdin=REGISTRY)
    assert (got.returncode, got.stdout) == (1, NOT_FOUND + "\n")
    assert pass_logins(pass_env) == {}


def test_erase_by_docker_credential_pass_removes_what_ours_stored(
    pass_env: dict[str, str],
) -> None:
    result = run_helper_in(pass_env, "store", stdin=store_request(REGISTRY, "alice", "pw"))
    assert result.returncode == 0, result

    assert go(pass_env, "erase", REGISTRY).returncode == 0

    # Our index still names the registry; the secret is gone, so `get` answers not found.
    got = run_helper_in(pass_env, "get", stdin=REGISTRY)
    assert (got.returncode, got.stdout) == (1, NOT_FOUND + "\n"), got
    assert json.loads(go(pass_env, "list").stdout) == {}
    assert ours_list(pass_env) == {}


def test_the_config_file_selects_the_pass_store(pass_env: dict[str, str]) -> None:
    env = {key: value for key, value in pass_env.items() if key != SECRET_STORE}
    config = Path(Settings(env).config_path)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"secret_store": "pass"}))

    result = run_helper_in(env, "store", stdin=store_request(REGISTRY, "alice", "pw"))

    assert result.returncode == 0, result
    assert pass_logins(env) == {REGISTRY: ["alice"]}


def test_password_store_dir_is_honoured(pass_env: dict[str, str], tmp_path: Path) -> None:
    env = {**pass_env, "PASSWORD_STORE_DIR": str(tmp_path / "elsewhere")}
    fingerprint = (store_dir(pass_env) / ".gpg-id").read_text().strip()
    assert run_tool(env, "pass", "init", fingerprint).returncode == 0

    assert go(env, "store", store_request(REGISTRY, "gopher", "pw")).returncode == 0

    assert ours_get(env, REGISTRY)["Secret"] == "pw"
    assert ours_list(pass_env) == {}


def test_an_unknown_store_name_is_one_line_naming_the_choices(pass_env: dict[str, str]) -> None:
    result = run_helper_in(
        {**pass_env, SECRET_STORE: "vault"}, "store", stdin=store_request(REGISTRY, "a", "pw")
    )
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1
    assert SECRET_STORE in result.stdout
    assert "keyring" in result.stdout
    assert "pass" in result.stdout


def test_a_store_nobody_initialised_says_to_run_pass_init(
    tmp_path: Path, gpg_key: tuple[Path, str]
) -> None:
    env = hermetic_env(tmp_path, {"GNUPGHOME": str(gpg_key[0]), SECRET_STORE: "pass"})

    result = run_helper_in(env, "store", stdin=store_request(REGISTRY, "alice", "s3cret-value"))

    assert result.returncode == 1
    assert result.stdout.count("\n") == 1, result
    assert "pass init" in result.stdout
    assert "not initialized" in result.stdout
    assert "s3cret-value" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    # No empty directory left behind (docker-credential-pass 0.6.4's list fails on one).
    assert not (store_dir(env) / PASS_FOLDER).exists()
    # Nothing stored: get is plain not-found, list empty, erase succeeds.
    got = run_helper_in(env, "get", stdin=REGISTRY)
    assert (got.returncode, got.stdout) == (1, NOT_FOUND + "\n")
    assert ours_list(env) == {}
    assert run_helper_in(env, "erase", stdin=REGISTRY).returncode == 0


def test_no_secret_reaches_the_argv_of_pass(pass_env: dict[str, str], tmp_path: Path) -> None:
    # A spy, not a fake: it records its argv and runs the real pass.
    spy_dir = tmp_path / "spy"
    spy_dir.mkdir()
    log = tmp_path / "argv.log"
    spy = spy_dir / "pass"
    spy.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec /usr/bin/pass "$@"\n')
    spy.chmod(0o755)
    env = {**pass_env, "PATH": f"{pass_env['PATH'].split(':', 1)[0]}:{spy_dir}:{pass_env['PATH']}"}

    stored = run_helper_in(env, "store", stdin=store_request(REGISTRY, "alice", "s3cret-value"))
    assert stored.returncode == 0, stored
    assert ours_get(env, REGISTRY)["Secret"] == "s3cret-value"

    calls = log.read_text()
    assert "insert" in calls
    assert "show" in calls
    assert "s3cret-value" not in calls

    # Which logins exist is read from the folder: list and an unknown registry run no pass.
    log.unlink()
    assert ours_list(env) == {REGISTRY: "alice"}
    unknown = run_helper_in(env, "get", stdin="unknown.example")
    assert (unknown.returncode, unknown.stdout) == (1, NOT_FOUND + "\n")
    assert not log.exists()


KEYRING_MODULES = """
import sys
from docker_credential_convox import cli
code = cli.main([sys.argv[1]])
roots = ("keyring", "jeepney", "secretstorage")
loaded = sorted(name for name in sys.modules if name.split(".")[0] in roots)
print(loaded, file=sys.stderr)
sys.exit(code)
"""


def test_the_pass_store_loads_no_keyring_library(pass_env: dict[str, str]) -> None:
    for action, stdin in (
        ("store", store_request(REGISTRY, "alice", "pw")),
        ("get", REGISTRY),
        ("list", ""),
        ("erase", REGISTRY),
    ):
        result = subprocess.run(
            [sys.executable, "-c", KEYRING_MODULES, action],
            input=stdin,
            capture_output=True,
            text=True,
            env=pass_env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result
        assert result.stderr.strip().splitlines()[-1] == "[]", (action, result.stderr)


BOUNDED_GET = """
import sys
from docker_credential_convox import cli
from docker_credential_convox.stores import pass_store
pass_store.PASS_TIMEOUT = 2.0  # the bound, shortened so the test takes seconds, not a minute
sys.exit(cli.main(["get"]))
"""


# /proc states of a thread that cannot run: stopped (T), stopped under a tracer (t), ended.
STOPPED_OR_ENDED = ("T", "t", "Z", "X")
STOP_WITHIN = 30.0  # seconds to get gpg-agent stopped for good


def agent_pid(env: Mapping[str, str]) -> int:
    """The process id of the gpg-agent serving `env`'s GNUPGHOME."""
    result = run_tool(env, "gpg-connect-agent", "--no-autostart", "getinfo pid", "/bye")
    line = next(line for line in result.stdout.splitlines() if line.startswith("D "))
    return int(line.split()[1])


def thread_states(pid: int) -> list[str]:
    """The scheduler state (R, S, T...) of every thread of process `pid`."""
    states = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        states.append(stat.rpartition(")")[2].split()[0])
    return states


def all_stopped(pid: int) -> bool:
    """Whether no thread of process `pid` can run (each stopped, or ended)."""
    states = thread_states(pid)
    return "T" in states and all(state in STOPPED_OR_ENDED for state in states)


def stop_agent(pid: int) -> None:
    """SIGSTOP gpg-agent `pid` and wait until every thread of it has stopped."""
    # A connection thread of gpg-agent ends by waking the agent's main loop with SIGCONT to its
    # own process (gnupg 2.2's interrupt_main_thread_loop), which undoes a pending stop: a
    # SIGSTOP sent before the thread of the connection `agent_pid` just closed has finished is
    # lost (1 in 30 on a loaded machine), and the agent answers the get. Once every thread is
    # stopped none is left to send one, so the stop holds until the test's SIGCONT.
    deadline = time.monotonic() + STOP_WITHIN
    while time.monotonic() < deadline:
        os.kill(pid, signal.SIGSTOP)  # again, if the agent's own SIGCONT undid the last one
        settled = time.monotonic() + 0.5
        while time.monotonic() < settled:
            if all_stopped(pid):
                return
            time.sleep(0.01)
    pytest.fail(f"gpg-agent {pid} did not stay stopped within {STOP_WITHIN:g} s")


def test_a_hung_gpg_agent_is_one_line_after_the_bound(pass_env: dict[str, str]) -> None:
    stored = run_helper_in(pass_env, "store", stdin=store_request(REGISTRY, "alice", "pw"))
    assert stored.returncode == 0, stored
    assert ours_get(pass_env, REGISTRY)["Secret"] == "pw"  # the agent that decrypts is up
    pid = agent_pid(pass_env)
    try:
        stop_agent(pid)  # a real agent, alive but not answering
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", BOUNDED_GET],
            input=REGISTRY,
            capture_output=True,
            text=True,
            env=pass_env,
            timeout=60,
            check=False,
        )
        elapsed = time.monotonic() - started
        assert all_stopped(pid), thread_states(pid)  # hung for the whole get
    finally:
        os.kill(pid, signal.SIGCONT)
    assert result.returncode == 1, result
    assert result.stdout.count("\n") == 1, result
    assert result.stdout.startswith("pass did not read a secret within 2 s"), result
    assert "Traceback" not in result.stderr
    assert elapsed < 30


def test_registries_list_remove_and_doctor_see_what_docker_credential_pass_stored(
    pass_env: dict[str, str],
) -> None:
    assert go(pass_env, "store", store_request(REGISTRY, "gopher", "go-secret")).returncode == 0

    listed = run_helper_in(pass_env, "registries", "list")
    assert listed.returncode == 0, listed
    assert REGISTRY in listed.stdout, listed.stdout
    assert "gopher" in listed.stdout, listed.stdout
    doctor = run_helper_in(pass_env, "registries", "doctor", REGISTRY)
    credentials = [line for line in doctor.stdout.splitlines() if "credentials:" in line]
    assert len(credentials) == 1, doctor.stdout
    assert credentials[0].startswith("ok: "), doctor.stdout
    assert "gopher" in credentials[0]
    assert "go-secret" not in doctor.stdout + doctor.stderr

    removed = run_helper_in(pass_env, "registries", "remove", REGISTRY)

    assert removed.returncode == 0, removed
    assert json.loads(go(pass_env, "list").stdout) == {}


def test_a_key_whose_passphrase_nobody_can_type_is_one_line_saying_so(
    pass_env: dict[str, str],
) -> None:
    made = run_tool(
        pass_env,
        "gpg",
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "a-passphrase",
        "--quick-gen-key",
        "Locked <locked@example.invalid>",
        "default",
        "default",
        "never",
    )
    assert made.returncode == 0, made
    listed = run_tool(pass_env, "gpg", "--batch", "--with-colons", "--list-secret-keys", "locked")
    fingerprint = next(line.split(":")[9] for line in listed.stdout.splitlines() if "fpr" in line)
    assert run_tool(pass_env, "pass", "init", fingerprint).returncode == 0
    stored = run_helper_in(pass_env, "store", stdin=store_request(REGISTRY, "alice", "s3cret"))
    assert stored.returncode == 0, stored
    kill_agent(Path(pass_env["GNUPGHOME"]))  # forget the passphrase gpg was given

    # Without a terminal (a new session), as Docker runs the helper from a daemon or CI.
    result = subprocess.run(
        [str(HELPER), "get"],
        input=REGISTRY,
        capture_output=True,
        text=True,
        env=pass_env,
        timeout=90,
        check=False,
        start_new_session=True,
    )

    assert result.returncode == 1, result
    assert result.stdout.count("\n") == 1, result
    assert result.stdout.startswith("pass failed to read a secret"), result
    assert "decryption failed" in result.stdout, result
    assert "if the key has a passphrase, gpg cannot ask for it here" in result.stdout, result
    assert "s3cret" not in result.stdout + result.stderr


def test_a_replacing_store_killed_before_its_index_write_keeps_the_old_login(
    pass_env: dict[str, str],
) -> None:
    stored = run_helper_in(pass_env, "store", stdin=store_request(REGISTRY, "alice", "old"))
    assert stored.returncode == 0, stored

    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASH_AT,
            "docker_credential_convox.registry_index_writer:RegistryIndexWriter.put",
            "store",
        ],
        input=store_request(REGISTRY, "bob", "new"),
        capture_output=True,
        text=True,
        env=pass_env,
        timeout=60,
        check=False,
    )

    assert killed.returncode == KILLED, killed
    assert ours_get(pass_env, REGISTRY) == {
        "ServerURL": REGISTRY,
        "Username": "alice",
        "Secret": "old",
    }
    assert ours_list(pass_env) == {REGISTRY: "alice"}
    # The next store of the registry finishes the job: one login left, the new one.
    stored = run_helper_in(pass_env, "store", stdin=store_request(REGISTRY, "bob", "new"))
    assert stored.returncode == 0, stored
    assert pass_logins(pass_env) == {REGISTRY: ["bob"]}
    assert json.loads(go(pass_env, "get", REGISTRY).stdout)["Username"] == "bob"


# Fault injection (a real scheduler interleaves two stores this way only by chance): the real
# helper whose store pauses between its index write and its clean-up of the key's other logins.
PAUSED_STORE = """
import os, sys, time
from docker_credential_convox import cli
from docker_credential_convox.stores import pass_index
original = pass_index.keep_only
def paused(*args, **kwargs):
    open(sys.argv[1], "w").close()
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.02)
    return original(*args, **kwargs)
pass_index.keep_only = paused
sys.exit(cli.main(["store"]))
"""


def test_a_store_overtaken_before_its_clean_up_leaves_the_later_login(
    pass_env: dict[str, str], tmp_path: Path
) -> None:
    paused, resume = tmp_path / "paused", tmp_path / "resume"
    first = subprocess.Popen(
        [sys.executable, "-c", PAUSED_STORE, str(paused), str(resume)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=pass_env,
    )
    assert first.stdin is not None
    first.stdin.write(store_request(REGISTRY, "alice", "pw-alice").encode())
    first.stdin.close()
    deadline = time.monotonic() + 60
    while not paused.exists():
        assert first.poll() is None, first.stderr.read() if first.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)

    second = run_helper_in(pass_env, "store", stdin=store_request(REGISTRY, "bob", "pw-bob"))
    assert second.returncode == 0, second
    resume.touch()
    assert first.wait(timeout=60) == 0, first.stderr.read() if first.stderr else ""

    # The later index write (bob's) is the login: in the index, in the store, for both helpers.
    expected = {"ServerURL": REGISTRY, "Username": "bob", "Secret": "pw-bob"}
    assert ours_get(pass_env, REGISTRY) == expected
    assert ours_list(pass_env) == {REGISTRY: "bob"}
    assert json.loads(go(pass_env, "get", REGISTRY).stdout) == expected


# Fault injection, as PAUSED_STORE: a `get` that pauses between its read of the index and its
# read of the pass store's folder (so a whole store runs in between).
PAUSED_GET = """
import os, sys, time
from docker_credential_convox import cli
from docker_credential_convox.stores.pass_store import PassStore
original = PassStore.logins
def paused(self):
    open(sys.argv[1], "w").close()
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.02)
    return original(self)
PassStore.logins = paused
sys.exit(cli.main(["get"]))
"""


def test_a_get_overtaken_by_a_store_of_another_username_answers_a_login(
    pass_env: dict[str, str], tmp_path: Path
) -> None:
    stored = run_helper_in(pass_env, "store", stdin=store_request(REGISTRY, "alice", "pw-alice"))
    assert stored.returncode == 0, stored
    paused, resume = tmp_path / "paused", tmp_path / "resume"
    reader = subprocess.Popen(
        [sys.executable, "-c", PAUSED_GET, str(paused), str(resume)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=pass_env,
    )
    assert reader.stdin is not None
    reader.stdin.write(REGISTRY.encode())
    reader.stdin.close()
    deadline = time.monotonic() + 60
    while not paused.exists():
        assert reader.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.05)

    replaced = run_helper_in(pass_env, "store", stdin=store_request(REGISTRY, "bob", "pw-bob"))
    assert replaced.returncode == 0, replaced
    resume.touch()
    reader.wait(timeout=60)
    assert reader.stdout is not None
    out = reader.stdout.read().decode()

    # Answered as after the store (the registry had a login all along), never "not found".
    assert reader.returncode == 0, out
    assert json.loads(out) == {"ServerURL": REGISTRY, "Username": "bob", "Secret": "pw-bob"}


def observed_in_pass(env: Mapping[str, str], host: str, listing: Mapping[str, str]) -> State:
    """What the helper holds for `host`; AssertionError where our list, the pass store, our
    `get` and docker-credential-pass's `get` differ."""
    in_store = pass_usernames(env, host)
    got = run_helper_in(env, "get", stdin=host)
    if host not in listing:
        assert (in_store, got.stdout) == ([], NOT_FOUND + "\n"), "not listed, yet stored"
        return None
    username = listing[host]
    assert in_store == [username], f"listed as {username}, the store holds {in_store}"
    assert got.returncode == 0, f"listed as {username}, get fails: {got.stdout.strip()!r}"
    reply = json.loads(got.stdout)
    assert reply["Username"] == username, f"listed as {username}, get answers {reply}"
    assert json.loads(go(env, "get", host).stdout) == reply, "docker-credential-pass differs"
    return (username, reply["Secret"])


def test_random_races_on_the_pass_store_end_in_a_serial_state(pass_env: dict[str, str]) -> None:
    """test_faults_randomized's proof on the pass store, docker-credential-pass agreeing too."""
    seed = int(os.environ.get("DCCX_RACE_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)
    state: dict[str, State] = {f"k{n}.example": None for n in range(KEYS)}
    problems: list[str] = []
    for round_number in range(ROUNDS):
        actions = [random_action(rng, list(state)) for _ in range(PROCESSES)]
        outcomes = race(pass_env, actions)
        allowed = {host: serial_states(host, before, actions) for host, before in state.items()}
        for action, outcome in zip(actions, outcomes):
            if outcome.code != 0:
                problems.append(f"round {round_number}: {action.verb} failed: {outcome}")
        listing = ours_list(pass_env)
        for host in state:
            try:
                observed = observed_in_pass(pass_env, host, listing)
            except AssertionError as exc:
                problems.append(f"round {round_number}: {host}: {exc}")
                observed = None
            else:
                if observed not in allowed[host]:
                    problems.append(f"round {round_number}: {host}: {observed}, {allowed[host]}")
            state[host] = observed
    assert problems == [], f"seed {seed}:\n" + "\n".join(problems[:10])
