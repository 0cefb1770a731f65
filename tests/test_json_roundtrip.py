"""JSON that remembers how it was written: any document comes back token for token."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.registries import REAL_WORLD_CONFIG, tokens

from docker_credential_convox.registries import json_roundtrip
from docker_credential_convox.registries.json_roundtrip import JsonArray, JsonObject, Scalar


def test_a_real_world_config_round_trips_token_for_token() -> None:
    written = json_roundtrip.render(json_roundtrip.parse(REAL_WORLD_CONFIG))

    assert tokens(written) == tokens(REAL_WORLD_CONFIG)
    # Go's escapes, number spellings and key order survive as they were.
    for kept in ("\\u003cci\\u003e \\u0026", "caf\\u00e9 \\/ build", "1.50", "1e3", "-0.0"):
        assert kept in written
    assert "12345678901234567890" in written


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    document=st.dictionaries(st.text(), JSON_VALUES, max_size=6),
    ensure_ascii=st.booleans(),
    indent=st.sampled_from([None, 0, 2, 4, "\t"]),
)
def test_any_json_object_round_trips_token_for_token(
    document: dict[str, Any], ensure_ascii: bool, indent: Any
) -> None:
    text = json.dumps(document, ensure_ascii=ensure_ascii, indent=indent)

    written = json_roundtrip.render(json_roundtrip.parse(text), json_roundtrip.detect_indent(text))

    assert tokens(written) == tokens(text)
    assert json.loads(written) == document


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ('{\n\t"a": 1\n}', "\t"),
        ('{\n  "a": 1\n}', "  "),
        ('{\n    "a": {\n        "b": 1\n    }\n}', "    "),
        ('{"a": 1}', "\t"),
        ("", "\t"),
    ],
)
def test_the_file_keeps_its_indentation_and_new_files_use_tabs_as_docker_does(
    text: str, unit: str
) -> None:
    assert json_roundtrip.detect_indent(text) == unit


def test_tokens_drops_only_the_whitespace_between_tokens() -> None:
    assert json_roundtrip.tokens('{ "a b" :\n\t[1, "c\\" d"] }') == '{"a b":[1,"c\\" d"]}'


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ('{"auths": {}', "Expecting ',' delimiter: line 1 column 13"),
        ('{"a": NaN}', "NaN is not JSON"),
        ("[1, -Infinity]", "-Infinity is not JSON"),
        ("", "Expecting value: line 1 column 1"),
    ],
)
def test_text_that_is_not_strict_json_is_a_one_line_value_error(text: str, detail: str) -> None:
    with pytest.raises(ValueError, match=re.escape(detail)) as caught:
        json_roundtrip.parse(text)

    assert str(caught.value) == detail


def test_nesting_past_the_recursion_limit_is_a_recursion_error() -> None:
    with pytest.raises(RecursionError):
        json_roundtrip.parse("[" * 100_000 + "]" * 100_000)


def test_a_key_written_twice_reads_as_decoders_read_it_and_edits_keep_both_copies() -> None:
    document = json_roundtrip.parse('{"a": 1, "b": 2, "a": 3}')
    assert isinstance(document, JsonObject)

    assert document.names() == ["b", "a"]
    first = document.get("a")
    assert isinstance(first, Scalar)
    assert first.value == 3
    assert [node.text for node in document.every("a") if isinstance(node, Scalar)] == ["1", "3"]

    document.set("a", Scalar.of("new"))
    assert json_roundtrip.tokens(json_roundtrip.render(document)) == '{"a":1,"b":2,"a":"new"}'
    document.set("c", JsonArray())
    assert document.delete("a")
    assert not document.delete("a")
    assert json_roundtrip.tokens(json_roundtrip.render(document)) == '{"b":2,"c":[]}'


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("[]", "an array"),
        ("{}", "an object"),
        ('"x"', "a string"),
        ("null", "null"),
        ("true", "a boolean"),
        ("1.5", "a number"),
    ],
)
def test_kind_names_a_node_as_a_sentence_would(text: str, kind: str) -> None:
    assert json_roundtrip.kind(json_roundtrip.parse(text)) == kind


def test_string_value_is_empty_for_anything_but_a_string() -> None:
    document = json_roundtrip.parse('{"s": "text", "n": 1, "z": null, "o": {}}')
    assert isinstance(document, JsonObject)

    values = [json_roundtrip.string_value(document.get(name)) for name in ("s", "n", "z", "o", "x")]

    assert values == ["text", "", "", "", ""]
    assert [json_roundtrip.is_null(document.get(name)) for name in ("z", "x", "n")] == [
        True,
        True,
        False,
    ]


def test_a_new_scalar_is_spelled_as_json_dumps_spells_it() -> None:
    assert [Scalar.of(value).text for value in ("<ci>", 7, True, None)] == [
        '"<ci>"',
        "7",
        "true",
        "null",
    ]
