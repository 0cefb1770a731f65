"""The randomized concurrency proof (issue 10 item 2): rounds of processes racing random `store`,
`erase` and `list` on a few registries; after each round the index (`list`), the keyring and
`get` must agree, in a state some serial order of the round's actions would leave.

DCCX_RACE_ROUNDS, DCCX_RACE_PROCESSES and DCCX_RACE_SEED make longer or repeatable runs.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import NamedTuple, Optional

from support import HELPER, NOT_FOUND, helper_listing, keyring_usernames, run_helper_in

ROUNDS = int(os.environ.get("DCCX_RACE_ROUNDS", "8"))
PROCESSES = int(os.environ.get("DCCX_RACE_PROCESSES", "8"))
KEYS = 3
USERNAMES = ("alice", "bob")

State = Optional[tuple[str, str]]  # (username, secret), or None when nothing is stored


class Action(NamedTuple):
    verb: str  # store, erase or list
    host: str
    stored: State  # what a store writes
    stdin: str


class Outcome(NamedTuple):
    code: int
    out: str
    err: str


def random_action(rng: random.Random, hosts: Sequence[str]) -> Action:
    verb, host = rng.choice(("store", "store", "erase", "erase", "list")), rng.choice(hosts)
    if verb == "store":
        stored = (rng.choice(USERNAMES), uuid.uuid4().hex)
        request = {"ServerURL": host, "Username": stored[0], "Secret": stored[1]}
        return Action(verb, host, stored, json.dumps(request))
    if verb == "erase":
        return Action(verb, host, None, host)
    return Action(verb, "", None, "")


def race(env: Mapping[str, str], actions: Sequence[Action]) -> list[Outcome]:
    """Start every action's process, then feed them all: they run at once."""
    children = [
        subprocess.Popen(
            [str(HELPER), action.verb],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
        )
        for action in actions
    ]
    for child, action in zip(children, actions):
        assert child.stdin is not None
        child.stdin.write(action.stdin.encode())
        child.stdin.close()
    outcomes = []
    for child in children:
        child.stdin = None  # fed and closed already; communicate() would flush it
        out, err = child.communicate(timeout=120)
        outcomes.append(Outcome(child.returncode, out.decode(), err.decode()))
    return outcomes


def serial_states(host: str, before: State, actions: Sequence[Action]) -> list[State]:
    """Every state of `host` that some serial order of `actions` leaves behind."""
    stores = [a.stored for a in actions if a.verb == "store" and a.host == host]
    erased = any(a.verb == "erase" and a.host == host for a in actions)
    return [*stores, *([None] if erased else [])] or [before]


def observed_state(env: Mapping[str, str], host: str, listing: Mapping[str, str]) -> State:
    """What the helper holds for `host`; AssertionError where index, keyring and `get` differ."""
    in_keyring = keyring_usernames(env, host)
    get = run_helper_in(env, "get", stdin=host)
    if host not in listing:
        assert (in_keyring, get.stdout) == ([], NOT_FOUND + "\n"), "not listed, yet stored"
        return None
    username = listing[host]
    assert in_keyring == [username], f"listed as {username}, keyring holds {in_keyring}"
    assert get.returncode == 0, f"listed as {username}, get fails: {get.stdout.strip()!r}"
    reply = json.loads(get.stdout)
    assert reply["Username"] == username, f"listed as {username}, get answers {reply}"
    return (username, reply["Secret"])


def check_round(
    env: Mapping[str, str],
    state: dict[str, State],
    actions: Sequence[Action],
    outcomes: Sequence[Outcome],
) -> list[str]:
    """The round's disagreements; `state` becomes what the helper holds now."""
    problems = []
    allowed = {host: serial_states(host, before, actions) for host, before in state.items()}
    for action, outcome in zip(actions, outcomes):
        if outcome.code != 0:
            problems.append(f"{action.verb} {action.host} failed: {outcome}")
        elif action.verb == "list":
            for host, username in json.loads(outcome.out).items():
                if username not in {s[0] for s in [state[host], *allowed[host]] if s}:
                    problems.append(f"a concurrent list showed {host} as {username}")
    listing = helper_listing(env)
    for host in state:
        try:
            observed = observed_state(env, host, listing)
        except AssertionError as exc:
            problems.append(f"{host}: {exc}")
            observed = None
        else:
            if observed not in allowed[host]:
                problems.append(f"{host} holds {observed}, a serial order gives {allowed[host]}")
        state[host] = observed
    return problems


def test_random_store_erase_list_races_always_end_in_a_serial_state(
    helper_env: dict[str, str],
) -> None:
    seed = int(os.environ.get("DCCX_RACE_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:8]
    state: dict[str, State] = {f"k{n}-{tag}.example": None for n in range(KEYS)}
    disagreements: list[str] = []
    started = time.monotonic()
    for round_number in range(ROUNDS):
        actions = [random_action(rng, list(state)) for _ in range(PROCESSES)]
        outcomes = race(helper_env, actions)
        for problem in check_round(helper_env, state, actions, outcomes):
            disagreements.append(f"round {round_number}: {problem}")
    print(
        f"randomized races: {ROUNDS} rounds x {PROCESSES} processes on {KEYS} registries "
        f"(seed {seed}) in {time.monotonic() - started:.1f}s: "
        f"{len(disagreements)} disagreements"
    )
    assert disagreements == [], "\n".join(disagreements[:10])
