"""minijson reads and writes exactly what json does, without importing it on the hot path."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from docker_credential_convox import minijson

SCALARS = st.none() | st.booleans() | st.integers() | st.text()
FLOATS = st.floats(allow_nan=False)
DOCUMENTS = st.recursive(
    SCALARS | FLOATS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(DOCUMENTS, st.sampled_from([None, 0, 2]))
def test_loads_reads_what_json_writes(document: object, indent: int | None) -> None:
    text = json.dumps(document, indent=indent)
    assert minijson.loads(text) == json.loads(text)
    assert minijson.loads(f" \n{text}\t\r\n") == json.loads(text)


@given(DOCUMENTS, st.booleans(), st.sampled_from([(", ", ": "), (",", ":")]))
def test_dumps_writes_what_json_writes(
    document: object, sort_keys: bool, separators: tuple[str, str]
) -> None:
    expected = json.dumps(document, sort_keys=sort_keys, separators=separators)
    assert minijson.dumps(document, sort_keys=sort_keys, separators=separators) == expected


@pytest.mark.parametrize(
    "text", ["", "   ", "{not json", '{"a": 1} x', "[1,]", '"\\x"', "\ufeff{}", "NaNa", "[1] [2]"]
)
def test_what_is_not_json_raises_what_json_raises(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as ours:
        minijson.loads(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "[1e400]"])
def test_json_constants_read_as_json_reads_them(text: str) -> None:
    assert repr(minijson.loads(text)) == repr(json.loads(text))


def test_reading_and_writing_import_no_json() -> None:
    probe = (
        "import sys\n"
        "from docker_credential_convox import minijson\n"
        'minijson.dumps(minijson.loads(\'{"a": [1, true, null, "x\\u00e9"]}\'), sort_keys=True)\n'
        "print(sorted(m for m in ('json', 're') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(__import__("pathlib").Path(minijson.__file__).parent.parent)},
    )
    assert result.stdout == "[]\n"
