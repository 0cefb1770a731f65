"""Our helper and Go's docker-credential-secretservice, side by side on one Secret Service:
the same bytes for the same stored data, except where docs/differences.md says why (issue 18).

tests/differential.py runs the cases; its EXPECTED lists the differences we keep on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from differential import (
    Case,
    Differential,
    entries_case,
    get,
    key_table_cases,
    protocol_cases,
    stale,
    store,
    unexpected,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from standins.secret_service import SecretService


@pytest.fixture(scope="module")
def differential(
    secret_service: SecretService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Differential]:
    harness = Differential(secret_service.env, tmp_path_factory.mktemp("differential"))
    yield harness
    harness.clear_go_items()


def fixed_cases() -> list[Case]:
    return key_table_cases() + protocol_cases()


def test_the_fixed_inputs_cover_the_readme_key_table_and_the_protocol() -> None:
    names = [case.name for case in fixed_cases()]
    assert len(names) == len(set(names))
    assert sum(name.startswith("key table: ") for name in names) >= 18


def test_fixed_inputs_differ_only_where_we_say_why(differential: Differential) -> None:
    cases = fixed_cases()
    report = differential.run(cases)
    surprises = unexpected(report)
    assert not surprises, "not in KEPT (docs/differences.md) or PENDING:\n" + "\n".join(
        difference.describe() for difference in surprises
    )
    gone = "\n".join(stale(report, cases))
    assert not gone, f"no longer differ (drop them from differential.PENDING or KEPT):\n{gone}"


# Text as Docker can send it: any code point but NUL (D-Bus strings cannot hold one; the Go
# helper cuts the string there, ours refuses a username with one) and lone surrogates (UTF-8
# cannot carry them), with the characters JSON and Go's encoder treat specially made likely.
special = st.sampled_from(list('"\\<>&/\b\f\n\r\t\x01\x1f\x7f\x80é中\u2028\u2029\ufeff😀 '))
text_chars = st.one_of(special, st.characters(exclude_categories=["Cs"], exclude_characters="\0"))
servers = st.sampled_from(
    ["registry.example.com", "127.0.0.1:5000", "registry.example.com/team-a", "r2.example.org:8443"]
)
entries = st.lists(
    st.tuples(
        servers,
        st.text(text_chars, min_size=1, max_size=24),
        # Not empty: Go's get answers not found for an empty secret (the fixed cases show it).
        st.text(text_chars, min_size=1, max_size=24),
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda entry: entry[0],
)


@settings(
    max_examples=40,
    derandomize=os.environ.get("CI") == "true",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    # Each example runs a dozen processes: no shrinking (minutes); the failure shows the example.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(logins=entries)
def test_generated_logins_give_the_go_helpers_bytes(
    differential: Differential, logins: list[tuple[str, str, str]]
) -> None:
    report = differential.run([entries_case("generated", logins)])
    assert not report.differences, "\n".join(d.describe() for d in report.differences)


def test_the_harness_sees_a_difference(differential: Differential) -> None:
    """A harness that cannot fail proves nothing: the Go helper matches the exact string, ours
    the key, and the harness must say so."""
    asked = "https://registry.example.com/"
    case = Case("probe", (store("registry.example.com", "u", "s"), get(asked)))
    report = differential.run([case])
    assert [difference.where for difference in report.differences] == [f"probe | get {asked}"]
    assert report.differences[0].go.stdout == b"credentials not found in native keychain\n"
    assert report.differences[0].ours.stdout.startswith(b'{"ServerURL":"https://registry')
