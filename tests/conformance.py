"""The protocol contract every route of the helper keeps: one test class, subclassed per route.

As `keyring.testing.backend` does for keyring backends, `CredentialHelperContract` states once
what Docker, skopeo and docker-py rely on (round trips of store/get/erase/list, the not-found
answer, erase of nothing, one entry for every spelling of a registry, identity tokens, list's
shape, no half-state after a kill between two writes) and runs unchanged against each route: a
kind of registry and the store behind it (tests/test_conformance_<route>.py). It drives the
installed executable only (argv, JSON on stdin, stdout, exit code), so it knows nothing of the
helper's internals and holds for any implementation of a route; the one exception, where to
kill the helper between two writes, is named by each route (`crash_at`), not here.

A route's subclass provides only
- `route_env`, a fixture: the environment the helper runs in for one test;
- `new_server()`: a registry of the route that no other test uses, and `neighbours(server)`:
  registries near it (other host, other port) that must never share its entry;
- `logins`: two different credentials to store for it;
- `check_answer(reply, stored)`: what `get` answers for stored credentials, and
  `check_nothing_stored(result, asked)`: what it answers when nothing is stored;
and declares what the route can do in the capability attributes below (CAPABILITIES says what
each one means). A test that needs a capability the route lacks is skipped and says which:
differences between routes are declarations here, never branches in a test. A route whose
credentials are not written by the protocol's own `store` and `erase` (a shared store filled
by `registries add --shared`, say) overrides the `store` and `erase` methods and declares
`protocol_writes = False`.

Not collected by itself: neither this module's name nor the class's starts with test/Test.
Route modules call `pytest.register_assert_rewrite("conformance")` before importing it, so a
failed assert here reports its values as one in a test module does.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Callable, ClassVar, NamedTuple, Optional, TypeVar, cast

import pytest

EXECUTABLE = "docker-credential-convox"  # found on the route environment's PATH, as clients do
HUB = "https://index.docker.io/v1/"
HUB_ACCESS = HUB + "access-token"
HUB_REFRESH = HUB + "refresh-token"
HUB_SPELLINGS = ("docker.io", "index.docker.io", "registry-1.docker.io", HUB)
# How clients spell one registry: each must reach the entry stored under the bare host[:port].
SPELLINGS: dict[str, Callable[[str], str]] = {
    "as stored": lambda server: server,
    "http, trailing slash": lambda server: f"http://{server}/",
    "https": lambda server: f"https://{server}",
    "upper case": str.upper,
    "trailing slash": lambda server: f"{server}/",
    "a path under it": lambda server: f"{server}/team/app",
}
KILLED = 137  # what the crash point exits with: os._exit, as SIGKILL leaves a process
# The crash points of a route that keeps its secret in the OS keyring and its entry in the
# registry index: store writes the keyring, then the index; erase the keyring, then the index.
# "store, before its secret" is after the pending marker (pending_markers.py), before the keyring
# write.
KEYRING_THEN_INDEX: Mapping[str, str] = MappingProxyType(
    {
        "store": "docker_credential_convox.registry_index_writer:RegistryIndexWriter.put",
        "store, before its secret": "docker_credential_convox.stores.keyring:KeyringStore.put",
        "erase": "docker_credential_convox.registry_index_writer:RegistryIndexWriter.remove",
    }
)

CAPABILITIES = {
    "protocol_writes": "`store` and `erase` on stdin write to this route's store",
    "keeps_any_secret": "any username and secret, empty or not, come back from `get` verbatim",
    "identity_tokens": 'Username "<token>" (an identity token) is kept and answered verbatim',
    "docker_hub": "Docker Hub's entries live in this route",
    "path_entries": "host/path is an entry of its own beside the host's",
    "opaque_keys": "a server URL no parser reads (`::1`, an IDN host) is a key kept as sent",
    "crash_points": "store and erase make two writes, and a kill between them can be injected",
}

# Fault injection (a kill at an exact point cannot be produced from outside on demand): the real
# helper with one function replaced by an immediate exit. A crash point that no longer exists
# fails the test (AttributeError, not exit 137) instead of passing it untested.
CRASH_AT = """
import importlib, os, sys
from docker_credential_convox import cli
module_name, _, attribute = sys.argv[1].partition(":")
owner = importlib.import_module(module_name)
*parents, name = attribute.split(".")
for parent in parents:
    owner = getattr(owner, parent)
getattr(owner, name)
def killed(*args, **kwargs):
    os._exit(137)  # no cleanup, no finally blocks, like SIGKILL
setattr(owner, name, killed)
sys.exit(cli.main([sys.argv[2]]))
"""


class Login(NamedTuple):
    """Credentials as a client stores them."""

    username: str
    secret: str


Reply = Mapping[str, str]
Result = subprocess.CompletedProcess[str]
ContractTest = TypeVar("ContractTest", bound=Callable[..., None])


def needs(capability: str) -> Callable[[ContractTest], ContractTest]:
    """Run the decorated contract test only on routes that declare `capability`."""
    assert capability in CAPABILITIES, capability

    def decorate(test: ContractTest) -> ContractTest:
        @functools.wraps(test)
        def run(self: CredentialHelperContract, *args: Any, **kwargs: Any) -> None:
            if not getattr(self, capability):
                pytest.skip(f"{type(self).__name__} lacks {capability}: {CAPABILITIES[capability]}")
            test(self, *args, **kwargs)

        return cast(ContractTest, run)

    return decorate


def request_for(server: str, login: Login) -> str:
    """The JSON of a store request, as docker sends it (docker adds a newline)."""
    return json.dumps({"ServerURL": server, "Username": login.username, "Secret": login.secret})


class CredentialHelperContract:
    """What every route answers to store/get/erase/list, checked through the executable."""

    protocol_writes: ClassVar[bool] = True
    keeps_any_secret: ClassVar[bool] = True
    identity_tokens: ClassVar[bool] = True
    docker_hub: ClassVar[bool] = True
    path_entries: ClassVar[bool] = True
    opaque_keys: ClassVar[bool] = True
    # action -> "module:Class.function" to kill the helper at, between the action's two writes
    crash_at: ClassVar[Mapping[str, str]] = MappingProxyType({})
    # contract test name -> the defect of this route that fails it (an issue to fix, not a
    # capability): the test runs as a strict xfail, so fixing the defect turns the run red
    # until the entry is removed.
    known_defects: ClassVar[Mapping[str, str]] = MappingProxyType({})
    logins: ClassVar[tuple[Login, Login]]

    env: dict[str, str]
    server: str

    # -- what a route provides ------------------------------------------------------------

    @pytest.fixture
    def route_env(self) -> dict[str, str]:
        """The environment the helper runs in for one test (each route overrides this)."""
        raise NotImplementedError

    def new_server(self) -> str:
        """A registry of this route that no other test uses."""
        raise NotImplementedError

    def neighbours(self, server: str) -> Sequence[str]:
        """Registries next to `server` (another host, another port) with entries of their own."""
        raise NotImplementedError

    def check_answer(self, reply: Reply, stored: Login) -> None:
        """Assert that `reply` (a `get` reply's JSON) is what this route answers for `stored`."""
        raise NotImplementedError

    def check_nothing_stored(self, result: Result, asked: str) -> None:
        """Assert that `result` is this route's `get` answer for `asked` when nothing is stored."""
        raise NotImplementedError

    def secrets_filed_under(self, server: str) -> list[str]:
        """The usernames with a secret in the route's secret store for `server`, read from the
        store itself (routes with crash points provide it: a swept orphan must be gone)."""
        raise NotImplementedError

    # -- how the contract drives the helper -------------------------------------------------

    @property
    def crash_points(self) -> bool:
        """Whether the route names its crash points (the capability `crash_points`)."""
        return bool(self.crash_at)

    @pytest.fixture(autouse=True)
    def _bind_route(self, route_env: dict[str, str], request: pytest.FixtureRequest) -> None:
        defect = self.known_defects.get(request.function.__name__)
        if defect is not None:
            request.applymarker(pytest.mark.xfail(reason=defect, strict=True))
        self.env = route_env
        self.server = self.new_server()

    def run(self, *args: str, stdin: str = "") -> Result:
        """The installed helper with `args`, as a client runs it."""
        return subprocess.run(
            [EXECUTABLE, *args],
            input=stdin,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            env=self.env,
            timeout=60,
            check=False,
        )

    def store(self, server: str, login: Login) -> None:
        """Store `login` for `server` and see it succeed silently (the protocol's `store`)."""
        result = self.run("store", stdin=request_for(server, login) + "\n")
        assert (result.returncode, result.stdout) == (0, ""), result

    def erase(self, server: str) -> None:
        """Erase `server` and see it succeed silently (whether or not anything was stored)."""
        result = self.run("erase", stdin=server)
        assert (result.returncode, result.stdout) == (0, ""), result

    def listing(self, stdin: str = "") -> dict[str, str]:
        result = self.run("list", stdin=stdin)
        assert result.returncode == 0, result
        listed: dict[str, str] = json.loads(result.stdout)
        return listed

    def answer(self, asked: str) -> Optional[Reply]:
        """The reply `get` gives for `asked`, or None where it answers that nothing is stored."""
        result = self.run("get", stdin=asked)
        if result.returncode != 0:
            self.check_nothing_stored(result, asked)
            return None
        reply: dict[str, str] = json.loads(result.stdout)
        assert reply["ServerURL"] == asked, reply
        return reply

    def assert_answers(self, asked: str, stored: Login) -> None:
        reply = self.answer(asked)
        assert reply is not None, f"nothing stored for {asked}"
        self.check_answer(reply, stored)

    def assert_nothing_stored(self, asked: str) -> None:
        self.check_nothing_stored(self.run("get", stdin=asked), asked)

    def run_killed(self, point: str, stdin: str) -> None:
        """The helper running the action `point` names (its first word), killed there."""
        action = point.split(",", maxsplit=1)[0]
        result = subprocess.run(
            [sys.executable, "-c", CRASH_AT, self.crash_at[point], action],
            input=stdin.encode(),
            capture_output=True,
            env=self.env,
            timeout=60,
            check=False,
        )
        assert result.returncode == KILLED, result

    # -- store and get ---------------------------------------------------------------------

    def test_store_then_get_answers_with_the_url_asked_for(self) -> None:
        self.store(self.server, self.logins[0])
        asked = f"https://{self.server}/"
        result = self.run("get", stdin=asked)
        assert result.returncode == 0, result
        reply = json.loads(result.stdout)
        assert sorted(reply) == ["Secret", "ServerURL", "Username"]
        assert reply["ServerURL"] == asked
        self.check_answer(reply, self.logins[0])
        assert result.stderr == ""

    def test_get_of_a_server_never_stored_answers_nothing_stored(self) -> None:
        self.assert_nothing_stored(self.new_server())

    @pytest.mark.parametrize("spelling", list(SPELLINGS))
    def test_every_spelling_of_a_registry_reaches_one_entry(self, spelling: str) -> None:
        self.store(self.server, self.logins[0])
        self.assert_answers(SPELLINGS[spelling](self.server), self.logins[0])

    def test_neighbouring_hosts_and_ports_do_not_share_an_entry(self) -> None:
        self.store(self.server, self.logins[0])
        for other in self.neighbours(self.server):
            self.assert_nothing_stored(other)

    def test_store_replaces_and_a_new_username_drops_the_old_secret(self) -> None:
        self.store(self.server, self.logins[0])
        self.store(self.server, self.logins[1])
        self.assert_answers(self.server, self.logins[1])
        assert self.listing() == {self.server: self.logins[1].username}

    @needs("protocol_writes")
    def test_store_field_names_are_case_insensitive_and_unknown_fields_ignored(self) -> None:
        login = self.logins[0]
        payload = json.dumps(
            {"serverurl": self.server, "USERNAME": login.username, "secret": login.secret}
        )
        result = self.run("store", stdin=payload[:-1] + ', "Extra": [1, 2]}')
        assert (result.returncode, result.stdout) == (0, ""), result
        self.assert_answers(self.server, login)

    def test_get_trims_whitespace_around_the_url(self) -> None:
        self.store(self.server, self.logins[0])
        result = self.run("get", stdin=f"  {self.server} \n")
        assert result.returncode == 0, result
        self.check_answer(json.loads(result.stdout), self.logins[0])

    @needs("keeps_any_secret")
    def test_empty_secret_is_allowed_on_store(self) -> None:
        self.store(self.server, Login("alice", ""))
        self.assert_answers(self.server, Login("alice", ""))

    @needs("keeps_any_secret")
    def test_unicode_and_long_secrets_round_trip(self) -> None:
        login = Login("ünï", "pässwörd-🔑-" + "x" * 8000)
        self.store(self.server, login)
        self.assert_answers(self.server, login)

    # -- identity tokens -------------------------------------------------------------------

    @needs("identity_tokens")
    def test_identity_token_round_trips_verbatim(self) -> None:
        self.store(self.server, Login("<token>", "refresh-token-value"))
        reply = self.answer(self.server)
        assert reply == {
            "ServerURL": self.server,
            "Username": "<token>",
            "Secret": "refresh-token-value",
        }

    @needs("identity_tokens")
    @needs("protocol_writes")
    def test_go_escaped_identity_token_username_is_the_same_json(self) -> None:
        payload = f'{{"ServerURL":"{self.server}","Username":"\\u003ctoken\\u003e","Secret":"x"}}'
        assert self.run("store", stdin=payload).returncode == 0
        reply = self.answer(self.server)
        assert reply is not None
        assert reply["Username"] == "<token>"

    # -- erase -----------------------------------------------------------------------------

    def test_erase_forgets_and_erasing_again_exits_0(self) -> None:
        self.store(self.server, self.logins[0])
        self.erase(f"http://{self.server}")
        self.assert_nothing_stored(self.server)
        self.erase(self.server)

    def test_erase_of_a_server_never_stored_exits_0(self) -> None:
        self.erase(self.new_server())

    # -- list ------------------------------------------------------------------------------

    def test_list_maps_each_stored_url_to_its_username_and_ignores_stdin(self) -> None:
        assert self.listing("unused") == {}
        other = self.new_server()
        self.store(self.server, self.logins[0])
        self.store(other, self.logins[1])
        for stdin in ("unused", "", "garbage {"):
            result = self.run("list", stdin=stdin)
            assert result.returncode == 0, result
            assert json.loads(result.stdout) == {
                self.server: self.logins[0].username,
                other: self.logins[1].username,
            }
            for login in self.logins:
                assert login.secret not in result.stdout

    # -- Docker Hub ------------------------------------------------------------------------

    @needs("docker_hub")
    @pytest.mark.parametrize("asked", HUB_SPELLINGS)
    def test_docker_hub_aliases_share_one_entry(self, asked: str) -> None:
        self.store(HUB, self.logins[0])
        self.assert_answers(asked, self.logins[0])

    @needs("docker_hub")
    def test_docker_hub_web_login_keeps_three_entries_and_its_logout_leaves_the_pat(
        self,
    ) -> None:
        # What Docker CLI 27+ `docker login` (web-based, no username) stores, in its order.
        stored = {
            HUB_ACCESS: Login("bob", "ACCESS"),
            HUB_REFRESH: Login("bob", "REFRESH..client"),
            HUB: Login("bob", "PAT"),
        }
        for server, login in stored.items():
            self.store(server, login)
        for server, login in stored.items():
            self.assert_answers(server, login)
        assert self.listing() == {server: "bob" for server in stored}

        # Its logout: read the refresh token back (to revoke it), then erase both token entries.
        assert self.answer(HUB_REFRESH) is not None
        for server in (HUB_ACCESS, HUB_REFRESH):
            self.erase(server)

        self.assert_nothing_stored(HUB_REFRESH)
        self.assert_nothing_stored(HUB_ACCESS)
        for spelling in (HUB, "docker.io", "registry-1.docker.io"):
            self.assert_answers(spelling, stored[HUB])
        assert self.listing() == {HUB: "bob"}

    # -- keys no parser reads ----------------------------------------------------------------

    @needs("opaque_keys")
    def test_a_key_no_parser_reads_is_stored_got_listed_and_erased_as_sent(self) -> None:
        host = self.server.partition(":")[0]
        odd = [f"::1:{len(host)}", f"münchen.{host}", f"-{host}", f"{host}:99999", f"{host}/a b"]
        first, second = self.logins
        for server in odd:
            self.store(server, first)
        self.store(odd[0], second)
        for server in odd[1:]:
            self.assert_answers(server, first)
        self.assert_answers(odd[0], second)
        listed = self.listing()
        assert {server: listed.get(server) for server in odd} == {
            odd[0]: second.username,
            **{server: first.username for server in odd[1:]},
        }
        assert self.server not in listed
        for server in odd:
            self.erase(server)
            self.assert_nothing_stored(server)
            self.erase(server)
        assert not set(odd) & set(self.listing())

    # -- paths -----------------------------------------------------------------------------

    @needs("path_entries")
    def test_a_path_is_its_own_entry_and_never_replaces_the_hosts(self) -> None:
        host, team = self.logins
        self.store(self.server, host)
        self.store(f"{self.server}/team-a", team)

        self.assert_answers(f"https://{self.server}/", host)
        self.assert_answers(f"https://{self.server}/v2/team-a/", team)
        assert self.listing() == {
            self.server: host.username,
            f"{self.server}/team-a": team.username,
        }

        self.erase(f"{self.server}/team-a")
        self.assert_answers(self.server, host)
        assert self.listing() == {self.server: host.username}

    @needs("path_entries")
    def test_erasing_the_host_leaves_its_path_entries(self) -> None:
        host, team = self.logins
        self.store(f"{self.server}/team-a", team)
        self.store(self.server, host)

        self.erase(f"https://{self.server}")

        self.assert_nothing_stored(self.server)
        self.assert_answers(f"{self.server}/team-a", team)

    @needs("path_entries")
    def test_get_of_a_path_without_an_entry_falls_back_to_the_longest_stored_prefix(
        self,
    ) -> None:
        host, team = self.logins
        self.store(self.server, host)
        self.store(f"{self.server}/team-a", team)

        self.assert_answers(f"https://{self.server}/team-a/app/x", team)
        self.assert_answers(f"{self.server}/team-b/app", host)
        # Case matters in a path: Team-A is not team-a.
        self.assert_answers(f"{self.server}/Team-A", host)

    @needs("path_entries")
    def test_erase_of_a_path_without_an_entry_erases_nothing(self) -> None:
        self.store(self.server, self.logins[0])

        self.erase(f"{self.server}/team-a")

        self.assert_answers(self.server, self.logins[0])

    # -- a kill between the two writes of store and erase ----------------------------------

    @needs("crash_points")
    def test_store_killed_between_its_writes_looks_like_no_store_and_erase_succeeds(
        self,
    ) -> None:
        self.run_killed("store", request_for(self.server, self.logins[0]))

        self.assert_nothing_stored(self.server)
        assert self.listing() == {}
        self.erase(self.server)
        self.assert_nothing_stored(self.server)
        assert self.secrets_filed_under(self.server) == []

    @needs("crash_points")
    def test_store_killed_before_its_secret_write_leaves_nothing_after_erase(self) -> None:
        self.run_killed("store, before its secret", request_for(self.server, self.logins[0]))

        self.assert_nothing_stored(self.server)
        assert self.listing() == {}
        self.erase(self.server)
        self.assert_nothing_stored(self.server)
        assert self.secrets_filed_under(self.server) == []

    @needs("crash_points")
    def test_store_after_an_interrupted_store_works(self) -> None:
        self.run_killed("store", request_for(self.server, self.logins[0]))

        self.store(self.server, self.logins[1])

        self.assert_answers(self.server, self.logins[1])
        assert self.listing() == {self.server: self.logins[1].username}

    @needs("crash_points")
    def test_erase_killed_between_its_writes_leaves_no_secret_and_erase_again_succeeds(
        self,
    ) -> None:
        self.store(self.server, self.logins[0])

        self.run_killed("erase", self.server)

        # The secret went first: it is never answered again and no orphan is left; the entry
        # (still listed) points at nothing until the next erase removes it.
        assert self.secrets_filed_under(self.server) == []
        result = self.run("get", stdin=self.server)
        assert result.returncode == 1, result
        assert self.logins[0].secret not in result.stdout + result.stderr
        self.erase(self.server)
        assert self.listing() == {}
        self.assert_nothing_stored(self.server)
        assert self.secrets_filed_under(self.server) == []
