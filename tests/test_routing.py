"""The router's decisions, in process: which entry answers a `get`, through which source, and why.

A `Helper` is built as cli.py builds it, over a fresh HOME (a real registry index on disk) with
the in-memory SecretStore (support/secret_stores.py: a fake, kept honest by the store contract
in test_secret_stores.py) and a clock the test holds. Only the router's public face is used:
`route()`, and `store`, `get`, `erase`, `list`. Nothing here calls AWS except the shared-scope
tests at the end, which read moto through the counting proxy (support.aws_emulator).
"""

from __future__ import annotations

import io
import itertools
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import hermetic_env, set_environ
from support.secret_stores import InMemoryStore
from support.shared import Machine, share

from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.errors import CredentialsNotFound
from docker_credential_convox.helper import DEFAULT_CHAIN, LOCAL, NOTHING, SHARED, Helper
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.registry_index import Entry
from docker_credential_convox.registry_index_writer import RegistryIndexWriter
from docker_credential_convox.server_keys import parse_key
from docker_credential_convox.settings import Settings
from docker_credential_convox.sources.ecr import EcrAlias, EcrDefaultChain, EcrKeys
from docker_credential_convox.sources.ecr_roles import EcrProfile

pytest_plugins = ["support.aws_emulator", "support.shared"]

REGISTRY = "registry.example.com"
ECR_HOST = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
OTHER_ECR_HOST = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"
DOCKER_HUB_SPELLINGS = (
    "https://index.docker.io/v1/",
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "registry.hub.docker.com",
    "https://registry-1.docker.io/v2/",
)


class Router:
    """One machine's helper, in process: its environment, the in-memory store, a held clock."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.store = InMemoryStore()
        self.stderr = io.StringIO()
        self.now = time.time()
        # As cli.py builds it, with the store and the clock injected.
        self.helper = Helper(
            Settings(env),
            Diagnostics(self.stderr, debug=True),
            secret_store=self.store,
            clock=lambda: self.now,
        )

    def login(self, server_url: str, username: str, secret: str) -> None:
        self.helper.store(Credentials(server_url, username, secret))

    def record(self, entry: Entry) -> None:
        """An index entry written as `registries` writes it (no check, no secret)."""
        RegistryIndexWriter(self.helper.index.configured).put(entry)

    def route(self, server_url: str) -> tuple[str, str]:
        """(kind, key of the server answered) of the route of `server_url`."""
        found = self.helper.route(parse_key(server_url))
        return found.kind, found.server.key

    def answer(self, server_url: str) -> tuple[str, str, str]:
        """(ServerURL, Username, Secret) that `get` answers."""
        reply = self.helper.get(server_url)
        return reply.server_url, reply.username, reply.secret


@pytest.fixture
def router(tmp_path: Path) -> Router:
    """A machine with a fresh HOME and nothing stored."""
    return Router(hermetic_env(tmp_path / "home"))


# -- stored logins: exact keys and paths --------------------------------------------------------


def test_an_exact_key_answers_with_its_own_login(router: Router) -> None:
    router.login(REGISTRY, "alice", "alice-secret")
    route = router.helper.route(parse_key(REGISTRY))
    assert (route.kind, route.server.key, route.entry_key) == (LOCAL, REGISTRY, REGISTRY)
    assert route.source is not None
    assert route.source.secret_username == "alice"
    assert router.answer(REGISTRY) == (REGISTRY, "alice", "alice-secret")
    assert router.answer(f"https://{REGISTRY}/v2/") == (
        f"https://{REGISTRY}/v2/",
        "alice",
        "alice-secret",
    )


def test_the_longest_stored_prefix_of_a_path_answers(router: Router) -> None:
    router.login(REGISTRY, "everyone", "registry-secret")
    router.login(f"{REGISTRY}/team", "team-bot", "team-secret")
    router.login(f"{REGISTRY}/team/app", "app-bot", "app-secret")
    assert router.route(f"{REGISTRY}/team/app/image") == (LOCAL, f"{REGISTRY}/team/app")
    assert router.route(f"{REGISTRY}/team/other") == (LOCAL, f"{REGISTRY}/team")
    assert router.route(f"{REGISTRY}/teammate") == (LOCAL, REGISTRY)  # whole segments only
    assert router.route(f"{REGISTRY}/elsewhere") == (LOCAL, REGISTRY)
    assert router.answer(f"{REGISTRY}/team/other")[1:] == ("team-bot", "team-secret")
    route = router.helper.route(parse_key(f"{REGISTRY}/team/other"))
    assert "longest stored prefix" in route.why


def test_a_path_is_not_answered_by_another_path_or_without_a_registry_entry(
    router: Router,
) -> None:
    router.login(f"{REGISTRY}/team", "team-bot", "team-secret")
    assert router.route(REGISTRY) == (NOTHING, REGISTRY)  # a longer key never answers a shorter
    assert router.route(f"{REGISTRY}/other/team") == (NOTHING, f"{REGISTRY}/other/team")
    with pytest.raises(CredentialsNotFound):
        router.helper.get(f"{REGISTRY}/other")


def test_erase_forgets_exactly_its_own_key(router: Router) -> None:
    router.login(REGISTRY, "everyone", "registry-secret")
    router.login(f"{REGISTRY}/team", "team-bot", "team-secret")
    router.helper.erase(f"{REGISTRY}/team/app")  # nothing stored under this key: nothing erased
    assert router.route(f"{REGISTRY}/team/app") == (LOCAL, f"{REGISTRY}/team")
    router.helper.erase(f"{REGISTRY}/team")
    assert router.route(f"{REGISTRY}/team/app") == (LOCAL, REGISTRY)
    assert router.store.get(f"{REGISTRY}/team", "team-bot") is None
    assert router.store.get(REGISTRY, "everyone") == "registry-secret"


def test_a_new_login_replaces_the_old_one_and_leaves_no_secret_behind(router: Router) -> None:
    router.login(REGISTRY, "alice", "alice-secret")
    router.login(f"https://{REGISTRY}/v2/", "bob", "bob-secret")  # the same key, spelled anew
    assert router.answer(REGISTRY) == (REGISTRY, "bob", "bob-secret")
    assert router.store.secrets == {(REGISTRY, "bob"): "bob-secret"}
    assert router.helper.list() == {f"https://{REGISTRY}/v2/": "bob"}


@settings(max_examples=40, deadline=None)
@given(
    stored=st.lists(
        st.lists(st.sampled_from("abc"), max_size=3).map("/".join),
        min_size=1,
        max_size=5,
        unique=True,
    ),
    requested=st.lists(st.sampled_from("abc"), max_size=4).map("/".join),
)
def test_any_request_is_answered_by_its_longest_stored_prefix(
    stored: list[str], requested: str
) -> None:
    with tempfile.TemporaryDirectory(prefix="dccx-routing-") as home:
        router = Router(hermetic_env(Path(home)))
        for path in stored:
            key = f"{REGISTRY}/{path}" if path else REGISTRY
            router.login(key, f"user-{path or 'root'}", f"secret-{path}")
        request = f"{REGISTRY}/{requested}" if requested else REGISTRY
        segments = requested.split("/") if requested else []
        prefixes = ["/".join(segments[:n]) for n in range(len(segments), -1, -1)]
        expected = next((path for path in prefixes if path in stored), None)
        if expected is None:
            assert router.route(request)[0] == NOTHING
        else:
            key = f"{REGISTRY}/{expected}" if expected else REGISTRY
            assert router.route(request) == (LOCAL, key)
            assert router.answer(request)[1:] == (
                f"user-{expected or 'root'}",
                f"secret-{expected}",
            )


# -- opaque keys and Docker Hub -------------------------------------------------------------------


@pytest.mark.parametrize(
    "server_url", ["::1", "b\u00fccher.example", "a b", "registry.example.com:99999"]
)
def test_an_opaque_key_answers_only_the_text_as_sent(router: Router, server_url: str) -> None:
    router.login(server_url, "alice", "alice-secret")
    route = router.helper.route(parse_key(server_url))
    assert route.server.opaque
    assert (route.kind, route.server.key) == (LOCAL, f"opaque {server_url}")
    assert router.answer(server_url) == (server_url, "alice", "alice-secret")
    assert router.route(server_url + "/path")[0] == NOTHING  # no prefix lookup in an opaque key
    assert router.route(server_url.upper() + "x")[0] == NOTHING


@pytest.mark.parametrize(
    ("stored", "requested"), list(itertools.product(DOCKER_HUB_SPELLINGS, repeat=2))
)
def test_every_spelling_of_docker_hub_answers_from_one_entry(
    router: Router, stored: str, requested: str
) -> None:
    router.login(stored, "hubuser", "hub-pat")
    assert router.route(requested) == (LOCAL, "docker.io")
    assert router.answer(requested) == (requested, "hubuser", "hub-pat")
    assert router.helper.list() == {"https://index.docker.io/v1/": "hubuser"}


def test_docker_hub_paths_stand_alone(router: Router) -> None:
    router.login("docker.io", "hubuser", "hub-pat")
    router.login("docker.io/team", "web-login", "web-token")
    assert router.route("docker.io/team") == (LOCAL, "docker.io/team")
    # A web-login token is not a namespace, and the Hub's PAT is not the token of a path.
    assert router.route("docker.io/team/app") == (NOTHING, "docker.io/team/app")
    assert router.route("docker.io/other") == (NOTHING, "docker.io/other")


def test_nothing_answers_a_registry_nobody_stored(router: Router) -> None:
    router.login(REGISTRY, "alice", "alice-secret")
    route = router.helper.route(parse_key("other.example.com/team/app"))
    assert (route.kind, route.source, route.entry_key) == (NOTHING, None, None)
    assert "no entry for other.example.com/team/app nor any shorter path" in route.why
    with pytest.raises(CredentialsNotFound):
        router.helper.get("other.example.com")
    assert router.store.calls == [("put", REGISTRY, "alice")]  # no store call to find nothing


# -- ECR: stored tokens, aliases, the default chain ---------------------------------------------


def test_an_unstored_ecr_registry_is_answered_by_the_default_chain(router: Router) -> None:
    for host in (ECR_HOST, "public.ecr.aws"):
        route = router.helper.route(parse_key(f"https://{host}/team/app"))
        assert (route.kind, route.server.key, route.entry_key) == (DEFAULT_CHAIN, host, None)
        assert isinstance(route.source, EcrDefaultChain)
        assert "nothing is recorded" in route.why
    assert router.store.calls == []


def test_an_ecr_path_is_answered_by_the_registry_entry(router: Router) -> None:
    router.login(ECR_HOST, "AWS", "ecr-login-token")
    # An ECR token covers the whole registry: a path names the same entry.
    assert router.route(f"{ECR_HOST}/team/app") == (LOCAL, ECR_HOST)
    assert router.answer(f"{ECR_HOST}/team/app")[1:] == ("AWS", "ecr-login-token")


@pytest.mark.parametrize(
    ("entry", "kind", "source_class"),
    [
        (Entry(ECR_HOST, ECR_HOST, "AKIAI44QH8DHBEXAMPLE", EcrKeys.kind), LOCAL, EcrKeys),
        (
            Entry(ECR_HOST, ECR_HOST, "profile:dev", EcrProfile.kind, {"profile": "dev"}),
            LOCAL,
            EcrProfile,
        ),
        # An entry this release cannot read leaves an ECR registry to the default chain.
        (
            Entry(ECR_HOST, ECR_HOST, "x", "a-source-of-a-later-release"),
            DEFAULT_CHAIN,
            EcrDefaultChain,
        ),
    ],
    ids=["access-keys", "profile", "unknown-source"],
)
def test_an_ecr_entry_routes_to_the_source_it_records(
    router: Router, entry: Entry, kind: str, source_class: type
) -> None:
    router.record(entry)
    route = router.helper.route(parse_key(f"https://{ECR_HOST}/team/app"))
    assert (route.kind, route.server.key) == (kind, ECR_HOST)
    assert type(route.source) is source_class
    assert router.store.calls == []  # routing reads the index, never a secret


def test_an_ecr_alias_answers_with_its_targets_token_under_its_own_name(router: Router) -> None:
    router.login(ECR_HOST, "AWS", "ecr-login-token")
    router.login(REGISTRY, f"ecr-alias:{ECR_HOST}", "")
    route = router.helper.route(parse_key(f"{REGISTRY}/team/app"))
    assert (route.kind, route.server.key, route.via, route.entry_key) == (
        LOCAL,
        ECR_HOST,
        REGISTRY,
        ECR_HOST,
    )
    assert f"another name of the ECR registry {ECR_HOST}" in route.why
    assert router.answer(REGISTRY) == (REGISTRY, "AWS", "ecr-login-token")
    assert router.answer(ECR_HOST) == (ECR_HOST, "AWS", "ecr-login-token")
    # The alias keeps no secret of its own: its token is the target's.
    assert [call for call in router.store.calls if call[1] == REGISTRY] == []


def test_an_alias_of_an_unstored_ecr_registry_is_the_targets_default_chain(
    router: Router,
) -> None:
    router.record(EcrAlias.of(parse_key(OTHER_ECR_HOST)).entry(REGISTRY, REGISTRY))
    route = router.helper.route(parse_key(REGISTRY))
    assert (route.kind, route.server.key, route.via, route.entry_key) == (
        DEFAULT_CHAIN,
        OTHER_ECR_HOST,
        REGISTRY,
        None,
    )
    assert isinstance(route.source, EcrDefaultChain)


def test_an_alias_naming_no_ecr_registry_answers_nothing_with_a_warning(router: Router) -> None:
    router.record(Entry(REGISTRY, REGISTRY, "AWS", EcrAlias.kind, {"target": "not-ecr.example"}))
    route = router.helper.route(parse_key(REGISTRY))
    assert (route.kind, route.source, route.entry_key) == (NOTHING, None, REGISTRY)
    assert "ECR alias without a valid ECR registry" in route.why
    assert "warning: registry.example.com is recorded as an ECR alias" in router.stderr.getvalue()


# -- the shared scope (Secrets Manager: moto behind the counting proxy) -------------------------


@pytest.fixture
def fleet_router(machine: Machine, monkeypatch: pytest.MonkeyPatch) -> Router:
    """A machine of the fleet, in process (botocore reads os.environ: it is the machine's)."""
    set_environ(monkeypatch, machine)
    return Router(machine)


def test_a_shared_entry_answers_a_registry_without_a_local_one(
    fleet_router: Router, machine: Machine
) -> None:
    shared = share(machine, REGISTRY, "fleet-bot", "fleet-secret", "--no-verify")
    assert shared.returncode == 0, shared
    route = fleet_router.helper.route(parse_key(f"{REGISTRY}/team/app"))
    assert (route.kind, route.server.key) == (SHARED, REGISTRY)
    assert route.scope == machine["DOCKER_CREDENTIAL_CONVOX_SHARED"]
    assert fleet_router.answer(REGISTRY) == (REGISTRY, "fleet-bot", "fleet-secret")
    assert fleet_router.store.calls == []  # a shared answer never opens the local store
    assert fleet_router.helper.list() == {REGISTRY: "fleet-bot"}
    nothing = fleet_router.helper.route(parse_key("other.example.com"))
    assert nothing.kind == NOTHING
    assert nothing.why.endswith(f", here or in {route.scope}")


def test_a_local_entry_beats_the_shared_one(fleet_router: Router, machine: Machine) -> None:
    shared = share(machine, REGISTRY, "fleet-bot", "fleet-secret", "--no-verify")
    assert shared.returncode == 0, shared
    fleet_router.login(f"{REGISTRY}/team", "team-bot", "team-secret")
    # Any local entry among the lookup keys wins, even a path's over the shared registry's.
    assert fleet_router.route(f"{REGISTRY}/team/app") == (LOCAL, f"{REGISTRY}/team")
    assert fleet_router.route(REGISTRY) == (SHARED, REGISTRY)
    fleet_router.login(REGISTRY, "local-user", "local-secret")
    assert fleet_router.route(REGISTRY) == (LOCAL, REGISTRY)
    assert fleet_router.answer(REGISTRY) == (REGISTRY, "local-user", "local-secret")
    assert fleet_router.helper.list() == {
        REGISTRY: "local-user",
        f"{REGISTRY}/team": "team-bot",
    }
    fleet_router.helper.erase(REGISTRY)  # erase stays local: the shared entry answers again
    assert fleet_router.answer(REGISTRY) == (REGISTRY, "fleet-bot", "fleet-secret")
