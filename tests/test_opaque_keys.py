"""Every key Docker can send is stored (issue 18, item 2), through the installed helper on the real
Secret Service.

The Go helpers treat a server URL as an opaque string. Ours normalises what it can read (scheme,
case, trailing slash, default port, Docker Hub's aliases) and keeps anything else as sent: an
unbracketed IPv6 address, an IDN host, a host starting with `-`, a port out of range. `store`,
`get`, `list` and `erase` then work on it as on any other key; `get` of such a key with nothing
stored answers the protocol's not-found line, and `erase` of one succeeds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import NOT_FOUND, RunHelper, helper_listing, run_helper_in, store_as_docker_does

from docker_credential_convox.server_keys import parse_key

# Spellings real clients send that no URL parser of ours reads as host[:port][/path].
OPAQUE_SPELLINGS = [
    "::1",
    "::1:5000",
    "fe80::1:5000/team",
    "münchen.example",
    "https://münchen.example:5000/v2/",
    "-leading-dash.example",
    "registry.example.com:99999",
    "registry.example.com:port",
    "[::1",
    "http://",
    "ex!ample",
    "registry.example.com/a b",
    "../../../etc/passwd",
]


def listing_of(run_helper: RunHelper) -> dict[str, str]:
    return helper_listing(run_helper.env)


@pytest.mark.parametrize("server", OPAQUE_SPELLINGS)
def test_an_unreadable_key_is_stored_got_listed_and_erased_as_sent(
    run_helper: RunHelper, server: str
) -> None:
    store_as_docker_does(run_helper, server, "opaque-user", "opaque-sécret")
    got = run_helper("get", server)
    assert (got.returncode, got.stderr) == (0, ""), got
    assert json.loads(got.stdout) == {
        "ServerURL": server,
        "Username": "opaque-user",
        "Secret": "opaque-sécret",
    }
    assert listing_of(run_helper) == {server: "opaque-user"}

    erased = run_helper("erase", server)
    assert (erased.returncode, erased.stdout) == (0, ""), erased
    again = run_helper("get", server)
    assert (again.returncode, again.stdout) == (1, NOT_FOUND + "\n"), again
    assert listing_of(run_helper) == {}
    twice = run_helper("erase", server)
    assert (twice.returncode, twice.stdout) == (0, ""), twice


@pytest.mark.parametrize("server", ["::1", "münchen.example", "-x.example:99999", "[::1"])
def test_get_of_an_unreadable_key_with_nothing_stored_is_not_found(
    run_helper: RunHelper, server: str
) -> None:
    got = run_helper("get", server)
    assert (got.returncode, got.stdout) == (1, NOT_FOUND + "\n"), got
    erased = run_helper("erase", server)
    assert (erased.returncode, erased.stdout) == (0, ""), erased


def test_a_nul_in_the_url_is_not_found_erased_and_refused_by_store(run_helper: RunHelper) -> None:
    # No Secret Service attribute can hold a NUL, so nothing is ever stored under such a key.
    got = run_helper("get", b"reg\x00istry.example.com")
    assert (got.returncode, got.stdout) == (1, NOT_FOUND + "\n"), got
    erased = run_helper("erase", b"reg\x00istry.example.com")
    assert (erased.returncode, erased.stdout) == (0, ""), erased
    payload = json.dumps({"ServerURL": "reg\x00istry", "Username": "u", "Secret": "s"})
    stored = run_helper("store", payload)
    assert stored.returncode == 1, stored
    assert stored.stdout.startswith("invalid server URL: it contains a NUL character"), stored


def test_opaque_keys_never_meet_normalised_ones_nor_each_other(run_helper: RunHelper) -> None:
    # Each spelling names an entry of its own: the bracketed address is normalised, the bare one
    # kept as sent; a string that looks like an opaque key is itself only a string.
    servers = ["[::1]:5000", "::1:5000", "opaque ::1:5000", "MÜNCHEN.example", "münchen.example"]
    for number, server in enumerate(servers):
        store_as_docker_does(run_helper, server, f"user-{number}", f"secret-{number}")
    for number, server in enumerate(servers):
        got = run_helper("get", server)
        assert json.loads(got.stdout)["Secret"] == f"secret-{number}", (server, got)
    assert listing_of(run_helper) == {server: f"user-{n}" for n, server in enumerate(servers)}


def test_no_file_is_named_after_an_opaque_key(run_helper: RunHelper, tmp_path: Path) -> None:
    escape = tmp_path / "escaped"
    for server in ("../../../escaped", f"{escape}", "..", "a/../../escaped:99999"):
        store_as_docker_does(run_helper, server, "u", "s")
        assert run_helper("erase", server).returncode == 0
    assert not escape.exists()
    for directory, _, files in os.walk(tmp_path):
        for name in files:
            assert "escaped" not in name, os.path.join(directory, name)


# Printable text as a client could send it: no control characters, no surrogates; Go trims the
# `get` request, so none at either end either.
printable = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40
).filter(lambda text: text.strip() == text)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(server=printable)
def test_any_printable_key_stored_is_found_by_get_and_list(
    run_helper: RunHelper, server: str
) -> None:
    username = f"user-{abs(hash(server))}"
    store_as_docker_does(run_helper, server, username, "the-secret")
    got = run_helper("get", server)
    assert got.returncode == 0, got
    reply = json.loads(got.stdout)
    # The URL without any userinfo (never kept), otherwise as sent.
    kept = parse_key(server).url
    assert reply == {"ServerURL": kept, "Username": username, "Secret": "the-secret"}
    assert listing_of(run_helper).get(kept) == username
    assert run_helper("erase", server).returncode == 0


# Server URLs as clients spell them, odd parts included: schemes, userinfo, IPv6 with and without
# brackets, IDN and dashed hosts, ports out of range, paths with spaces.
url_like = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["", "http://", "https://", "HTTPS://"]),
        st.sampled_from(["", "user@", "user:pw@", "u:p/w@", "@"]),
        st.sampled_from(
            ["registry.example.com", "::1", "[::1]", "fe80::1", "münchen.example", "-x.example"]
        ),
        st.sampled_from(["", ":5000", ":443", ":0", ":99999", ":port"]),
        st.sampled_from(["", "/", "/v2/", "/team", "/a b", "/../x", "/%2F"]),
    ),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(server=url_like)
def test_any_url_a_client_spells_is_found_by_get_and_list_and_never_keeps_a_password(
    run_helper: RunHelper, server: str
) -> None:
    username = f"user-{abs(hash(server))}"
    store_as_docker_does(run_helper, server, username, "the-secret")
    got = run_helper("get", server)
    assert got.returncode == 0, got
    assert json.loads(got.stdout)["Username"] == username
    listing = listing_of(run_helper)
    assert listing.get(parse_key(server).url) == username
    assert not any("pw" in key or "p/w" in key for key in listing), listing
    assert run_helper("erase", server).returncode == 0
    assert run_helper("get", server).stdout == NOT_FOUND + "\n"


def test_ipv6_without_brackets_is_explained_where_it_is_still_refused(
    helper_env: dict[str, str],
) -> None:
    # `registries add` needs a registry it can reach: there the address must be bracketed.
    result = run_helper_in(
        helper_env,
        "registries",
        "add",
        "::1:5000",
        "--username",
        "u",
        "--password-stdin",
        stdin="pw",
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "bracket" in output, result
    assert "[::1]:5000" in output, result
    assert "not a number" not in output


def test_registries_list_shows_an_opaque_entry_and_doctor_explains_the_brackets(
    run_helper: RunHelper, helper_env: dict[str, str]
) -> None:
    store_as_docker_does(run_helper, "::1:5000", "v6-user", "v6-secret")
    listed = run_helper_in(helper_env, "registries", "list")
    assert listed.returncode == 0, listed
    assert "::1:5000  v6-user" in listed.stdout
    assert "v6-user" in listed.stdout
    doctor = run_helper_in(helper_env, "registries", "doctor", "::1:5000")
    assert doctor.returncode != 0
    assert "brackets" in doctor.stdout + doctor.stderr
    assert "Traceback" not in doctor.stderr
