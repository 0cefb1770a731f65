"""`os` for the hot paths, without importing `os`: the built-in `posix` calls a `get` makes, its
environment, and the four `os.path` functions it uses.

`import os` alone costs a cached ECR `get` 6.4 M instructions, 15% of its whole process, most of
them the `collections.abc` registrations `os` runs on import; a `get` needs none of it. Every call
it makes is in `posix` and `_stat`, built into the interpreter and loaded before any of our code
(`os` is a layer over the same `posix`). The path functions are `posixpath`'s for `str` paths,
and `environ()` is the environment as `os.environ` decodes it; tests/test_minios.py holds both to
the standard library's answers. Modules off the hot paths import `os` as usual.
"""

from __future__ import annotations

import sys
from _stat import S_IMODE, S_ISDIR, S_ISLNK, S_ISREG, S_ISVTX, S_IWGRP, S_IWOTH
from posix import (
    O_CLOEXEC,
    O_NOFOLLOW,
    O_NONBLOCK,
    O_RDONLY,
    O_WRONLY,
    _exit,
    close,
    dup,
    dup2,
    fstat,
    getuid,
    lstat,
    open,
    read,
    stat,
    stat_result,
)
from posix import environ as _environ

__all__ = [
    "DEVNULL",
    "O_CLOEXEC",
    "O_NOFOLLOW",
    "O_NONBLOCK",
    "O_RDONLY",
    "O_WRONLY",
    "S_IMODE",
    "S_ISDIR",
    "S_ISLNK",
    "S_ISREG",
    "S_ISVTX",
    "S_IWGRP",
    "S_IWOTH",
    "_exit",
    "close",
    "dirname",
    "dup",
    "dup2",
    "environ",
    "fstat",
    "getuid",
    "isabs",
    "join",
    "lstat",
    "open",
    "read",
    "split",
    "stat",
    "stat_result",
]

DEVNULL = "/dev/null"  # os.devnull


def environ() -> dict[str, str]:
    """The environment now, as `os.environ` reads it: `posix.environ`, which `os.environ`
    keeps up to date, decoded with the file system encoding and surrogateescape."""
    encoding = sys.getfilesystemencoding()
    return {
        key.decode(encoding, "surrogateescape"): value.decode(encoding, "surrogateescape")
        for key, value in _environ.items()
    }


def join(path: str, *parts: str) -> str:
    """`os.path.join` of str paths."""
    for part in parts:
        if part.startswith("/"):
            path = part
        elif not path or path.endswith("/"):
            path += part
        else:
            path += "/" + part
    return path


def split(path: str) -> tuple[str, str]:
    """`os.path.split`: (everything before the last slash, what follows it)."""
    cut = path.rfind("/") + 1
    head, tail = path[:cut], path[cut:]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head, tail


def dirname(path: str) -> str:
    """`os.path.dirname`."""
    return split(path)[0]


def isabs(path: str) -> bool:
    """`os.path.isabs`."""
    return path.startswith("/")
