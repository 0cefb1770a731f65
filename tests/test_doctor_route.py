"""`registries doctor` and `get` agree (issue 18, item 5): both follow the router's one route.

For a stored `registry.example.com/team`, `get` of `registry.example.com/team/app` answers by the
longest stored prefix; doctor must say so rather than "holds nothing". The property test stores
random sets of entries (hosts with and without paths, ECR and not) in the real Secret Service,
in-process on the router, and checks for random queries that doctor's credentials verdict is
`get`'s outcome; ECR tokens come from moto behind the counting proxy.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import RunHelper, run_helper_in, store_as_docker_does
from support.registries import get_credentials
from support.shared import RUNTIME_DIR, SHARED, share

from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.errors import CredentialsNotFound
from docker_credential_convox.helper import Helper
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.registries import docker_config
from docker_credential_convox.registries.doctor import Doctor
from docker_credential_convox.registries.doctor_report import OK, PROBLEM
from docker_credential_convox.registries.operations import store_shared
from docker_credential_convox.server_keys import parse_server
from docker_credential_convox.settings import Settings
from standins.aws_proxy import AwsProxy
from standins.environment import endpoint_env

pytest_plugins = ["support.aws_emulator", "support.shared"]

ECR_HOST = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"
HOSTS = ["registry.example.com", "reg.example:5000", ECR_HOST]
ACCESS_KEY_ID = "AKIAIOSFODNN7DOCTOR1"


def doctor_lines(env: Mapping[str, str], server: str) -> dict[str, str]:
    result = run_helper_in(env, "registries", "doctor", server)
    assert "Traceback" not in result.stderr, result
    lines: dict[str, str] = {}
    for line in result.stdout.splitlines():
        status, _, rest = line.partition(": ")
        if status in ("ok", "problem", "note"):
            lines.setdefault(rest.partition(":")[0], line)
    return lines


def test_doctor_of_a_longer_path_names_the_prefix_that_answers_as_get_does(
    run_helper: RunHelper, helper_env: dict[str, str]
) -> None:
    host = f"registry-{uuid.uuid4().hex[:8]}.example.com"
    store_as_docker_does(run_helper, f"{host}/team", "team-user", "team-secret")
    (Path(helper_env["DOCKER_CONFIG"]) / "config.json").write_text(
        json.dumps({"credHelpers": {host: "convox"}})
    )
    assert get_credentials(helper_env, f"{host}/team/app") == {
        "ServerURL": f"{host}/team/app",
        "Username": "team-user",
        "Secret": "team-secret",
    }
    lines = doctor_lines(helper_env, f"{host}/team/app")
    assert lines["credentials"].startswith("ok: credentials: username team-user"), lines
    assert f"{host}/team" in lines["credentials"]
    assert "holds nothing" not in lines["credentials"]
    assert lines["keyring"].startswith("ok: keyring:"), lines
    # The host itself has no entry of its own, and a path beside it neither.
    for other in (host, f"{host}/other"):
        assert get_credentials(helper_env, other) is None
        assert doctor_lines(helper_env, other)["credentials"].startswith("problem: credentials:")


@pytest.fixture
def environ(ecr_environ: dict[str, str]) -> dict[str, str]:
    """The Secret Service and moto, as this process's environment (the router reads os.environ
    through keyring and botocore)."""
    return dict(os.environ)


def test_route_is_what_get_follows(environ: dict[str, str]) -> None:
    helper = Helper(Settings(environ), Diagnostics(io.StringIO(), False))
    helper.store(Credentials("registry.example.com/team", "u", "s"), verify=False)
    route = helper.route(parse_server("registry.example.com/team/app"))
    assert route.kind == "local"
    assert route.entry_key == "registry.example.com/team"
    assert route.server.key == "registry.example.com/team"
    assert "registry.example.com/team" in route.why
    nothing = helper.route(parse_server("registry.example.com"))
    assert (nothing.kind, nothing.source, nothing.entry_key) == ("nothing", None, None)
    chain = helper.route(parse_server(ECR_HOST))
    assert (chain.kind, chain.entry_key) == ("default-chain", None)


paths = st.lists(st.sampled_from(["team", "app", "x"]), max_size=2).map("/".join)
servers = st.tuples(st.sampled_from(HOSTS), paths).map(
    lambda pair: f"{pair[0]}/{pair[1]}" if pair[1] else pair[0]
)


def verdicts_and_outcomes(
    helper: Helper, doctor: Doctor, queries: list[str]
) -> list[tuple[str, bool, str]]:
    """For each query: whether `get` answered, and doctor's credentials status."""
    found = []
    for query in queries:
        try:
            helper.get(query)
            answered = True
        except CredentialsNotFound:
            answered = False
        findings = doctor.examine(query, parse_server(query))
        statuses = [f.status for f in findings if f.topic == "credentials"]
        assert statuses, findings
        found.append((query, answered, statuses[0]))
    return found


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stored=st.lists(servers, max_size=4), queries=st.lists(servers, min_size=1, max_size=3))
def test_doctors_credentials_verdict_is_gets_outcome(
    environ: dict[str, str], tmp_path: Path, stored: list[str], queries: list[str]
) -> None:
    home = tmp_path / uuid.uuid4().hex
    env = {
        **environ,
        "DOCKER_CREDENTIAL_CONVOX_CONFIG_DIR": str(home / "config"),
        "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR": str(home / "cache"),
    }
    settings_ = Settings(env)
    helper = Helper(settings_, Diagnostics(io.StringIO(), False))
    for number, url in enumerate(stored):
        # An ECR host's username is an access key ID (tokens minted by moto with it).
        username = ACCESS_KEY_ID if url.startswith(ECR_HOST) else f"user-{number}"
        helper.store(Credentials(url, username, f"secret-{number}"), verify=False)
    config = docker_config.DockerConfig.load(str(home / "docker"))
    doctor = Doctor(
        settings_, helper, load_config=lambda: config, which=lambda name: "/usr/bin/" + name
    )
    for query, answered, status in verdicts_and_outcomes(helper, doctor, queries):
        assert status in (OK, PROBLEM), (query, status)
        assert (status == OK) == answered, (stored, query, status)


registries = st.sampled_from(HOSTS)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    local=st.lists(servers, max_size=3),
    shared=st.lists(registries, max_size=2),
    queries=st.lists(servers, min_size=1, max_size=3),
)
def test_with_a_shared_scope_doctors_verdict_is_still_gets_outcome(
    environ: dict[str, str],
    tmp_path: Path,
    local: list[str],
    shared: list[str],
    queries: list[str],
) -> None:
    # Shared entries are per registry (`registries add --shared` drops a path); local entries
    # win, for their key and longer paths.
    home = tmp_path / uuid.uuid4().hex
    env = {
        **environ,
        "DOCKER_CREDENTIAL_CONVOX_CONFIG_DIR": str(home / "config"),
        "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR": str(home / "cache"),
        SHARED: f"secretsmanager:dccx-route/{uuid.uuid4().hex[:12]}",
        RUNTIME_DIR: str(home / "run"),
    }
    settings_ = Settings(env)
    helper = Helper(settings_, Diagnostics(io.StringIO(), False))
    for number, url in enumerate(shared):
        username = ACCESS_KEY_ID if url == ECR_HOST else f"fleet-{number}"
        store_shared(helper, Credentials(url, username, f"fleet-secret-{number}"), verify=False)
    for number, url in enumerate(local):
        username = ACCESS_KEY_ID if url.startswith(ECR_HOST) else f"user-{number}"
        helper.store(Credentials(url, username, f"secret-{number}"), verify=False)
    config = docker_config.DockerConfig.load(str(home / "docker"))
    doctor = Doctor(
        settings_, helper, load_config=lambda: config, which=lambda name: "/usr/bin/" + name
    )
    for query, answered, status in verdicts_and_outcomes(helper, doctor, queries):
        assert status in (OK, PROBLEM), (query, status)
        assert (status == OK) == answered, (local, shared, query, status)


def test_doctor_verdicts_through_the_installed_helper_match_get(
    run_helper: RunHelper, helper_env: dict[str, str]
) -> None:
    host = f"registry-{uuid.uuid4().hex[:8]}.example.com"
    for url in (f"{host}/a", f"{host}/a/b/c"):
        store_as_docker_does(run_helper, url, "u", "s")
    for query in (host, f"{host}/a", f"{host}/a/b", f"{host}/a/b/c/d", f"{host}/b"):
        answered = get_credentials(helper_env, query) is not None
        line = doctor_lines(helper_env, query)["credentials"]
        assert line.startswith("ok: " if answered else "problem: "), (query, line)


def test_doctor_and_get_agree_between_a_local_path_and_a_shared_registry(
    helper_env: dict[str, str], aws_proxy: AwsProxy, shared_scope: str, tmp_path: Path
) -> None:
    # A local entry for a path wins over the registry's shared entry, for that path only.
    host = f"registry-{uuid.uuid4().hex[:8]}.example.com"
    env = {
        **helper_env,
        **endpoint_env(aws_proxy.url),
        SHARED: shared_scope,
        RUNTIME_DIR: str(tmp_path / "run"),
    }
    assert share(env, host, "fleet-user", "fleet-secret", "--no-verify").returncode == 0
    store_as_docker_does(RunHelper(env), f"{host}/team", "local-user", "local-secret")
    expected = {
        host: "fleet-user",
        f"{host}/team/app": "local-user",
        f"{host}/other": "fleet-user",
        f"{host}/team": "local-user",
    }
    for query, username in expected.items():
        reply = get_credentials(env, query)
        assert reply is not None
        assert reply["Username"] == username, query
        line = doctor_lines(env, query)["credentials"]
        assert line.startswith("ok: credentials: "), (query, line)
        assert username in line, (query, line)
        assert ("shared" in line) == (username == "fleet-user"), (query, line)
