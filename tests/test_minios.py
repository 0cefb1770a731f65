"""minios answers as `os` does: the same calls, `os.path`'s answers, `os.environ`'s view."""

from __future__ import annotations

import os
import posixpath
import stat
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from docker_credential_convox import minios

# Paths made of the characters that decide these functions' answers.
paths = st.text(alphabet="/a.~ ", max_size=12)


def test_every_call_is_the_one_os_and_stat_export() -> None:
    for name in minios.__all__:
        ours = getattr(minios, name)
        if name == "DEVNULL":
            assert ours == os.devnull
        elif name.startswith("S_"):
            assert ours == getattr(stat, name)
        elif name in ("dirname", "environ", "isabs", "join", "split"):  # ours: tested below
            assert callable(ours)
        else:
            assert ours is getattr(os, name), name


@given(paths, st.lists(paths, max_size=4))
def test_join_is_posixpaths(first: str, rest: list[str]) -> None:
    assert minios.join(first, *rest) == posixpath.join(first, *rest)


@given(paths)
def test_split_dirname_and_isabs_are_posixpaths(path: str) -> None:
    assert minios.split(path) == posixpath.split(path)
    assert minios.dirname(path) == posixpath.dirname(path)
    assert minios.isabs(path) == posixpath.isabs(path)


PROBE = """
import os, sys
from docker_credential_convox import minios
ours = minios.environ()
sys.stdout.write(repr(ours == dict(os.environ)) + " " + repr(ours["ODD"]))
os.environ["LATER"] = "set in process"
sys.stdout.write(" " + repr(minios.environ().get("LATER")))
"""


def test_environ_is_os_environs_view_even_of_bytes_that_are_not_utf8() -> None:
    env = {**os.environb, b"ODD": b"caf\xe9 \xff"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=False
    )
    assert done.stdout == "True 'caf\\udce9 \\udcff' 'set in process'", done.stderr
