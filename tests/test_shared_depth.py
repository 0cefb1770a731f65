"""A `get` of a deep path with a shared scope is bounded (issue 17, item 12): at most two
GetSecretValue calls and two entries in the machine's cache (plus the scope's listing), however
many segments the path has; never one call and one file per prefix.

The exact path is asked first; a shorter path is then chosen from the scope's cached listing
(one ListSecrets per max age), or, where the machine may not list (an injected AccessDenied at
the counting proxy, a fault moto cannot produce without an IAM set-up), the registry's own
entry. Calls are counted at the proxy in front of moto, files in the machine's runtime
directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.registries import get_credentials
from support.shared import GET_SECRET, LIST_SECRETS, RUNTIME_DIR, aws_client, prefix_of, share

from standins.aws_proxy import AwsProxy
from standins.moto_servers import MotoProcess

pytest_plugins = ["support.aws_emulator", "support.shared"]

SERVER = "registry.example.com:5000"
PASSWORD = "depth-secret-90d3"
SEGMENTS = 200
DEEP = SERVER + "/a" * SEGMENTS
MAX_GETS = 2
MAX_ENTRY_FILES = MAX_GETS + 1  # the two entries asked and the listing


def cache_entries(machine: dict[str, str]) -> list[Path]:
    directory = Path(machine[RUNTIME_DIR]) / "shared"
    return sorted(directory.glob("*.json")) if directory.exists() else []


def plant_path_entry(machine: dict[str, str], moto_url: str, key: str, secret: str) -> None:
    """A shared entry for a path (other tooling may write one; `add --shared` shares hosts)."""
    sm = aws_client("secretsmanager", moto_url)
    value = {
        "version": 1,
        "ServerURL": key,
        "Username": "path-user",
        "Secret": secret,
        "Source": "keyring",
    }
    name = f"{prefix_of(machine)}/{key.replace(':', '+')}"
    sm.create_secret(Name=name, SecretString=json.dumps(value))


@pytest.mark.parametrize("may_list", [True, False], ids=["listing", "no-listing"])
def test_a_deep_path_makes_at_most_two_reads_and_two_cache_entries(
    machine: dict[str, str], aws_proxy: AwsProxy, may_list: bool
) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    aws_proxy.reset()
    if not may_list:
        # FAULT INJECTION: a fleet role may read its secrets without secretsmanager:ListSecrets.
        aws_proxy.fail(LIST_SECRETS, "AccessDeniedException", "not authorized to ListSecrets")

    reply = get_credentials(machine, DEEP)

    assert reply is not None
    assert (reply["Username"], reply["Secret"]) == ("fleet", PASSWORD)
    assert aws_proxy.count(GET_SECRET) <= MAX_GETS, aws_proxy.calls
    assert aws_proxy.count(LIST_SECRETS) <= 1, aws_proxy.calls
    assert len(cache_entries(machine)) <= MAX_ENTRY_FILES, cache_entries(machine)


def test_a_refused_listing_is_remembered_not_asked_on_every_get(
    machine: dict[str, str], aws_proxy: AwsProxy
) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    aws_proxy.reset()
    # FAULT INJECTION: as above, a role without secretsmanager:ListSecrets.
    aws_proxy.fail(LIST_SECRETS, "AccessDeniedException", "not authorized to ListSecrets")

    for depth in (3, 4, 5):
        reply = get_credentials(machine, SERVER + "/b" * depth)
        assert reply is not None
        assert reply["Secret"] == PASSWORD

    assert aws_proxy.count(GET_SECRET) == 4, aws_proxy.calls  # 3 paths, then the host once
    assert aws_proxy.count(LIST_SECRETS) == 1, aws_proxy.calls


def test_a_shared_path_between_the_host_and_the_request_answers_through_the_listing(
    machine: dict[str, str], aws_proxy: AwsProxy, moto_server: MotoProcess
) -> None:
    assert share(machine, SERVER, "fleet", PASSWORD, "--no-verify").returncode == 0
    plant_path_entry(machine, moto_server.url, f"{SERVER}/a/a", "path-secret")
    aws_proxy.reset()

    reply = get_credentials(machine, DEEP)

    assert reply is not None
    assert (reply["Username"], reply["Secret"]) == ("path-user", "path-secret")
    assert aws_proxy.count(GET_SECRET) <= MAX_GETS, aws_proxy.calls
    assert len(cache_entries(machine)) <= MAX_ENTRY_FILES, cache_entries(machine)
