"""The one rule for trusting the helper's own files, and reading them (trusted_dir,
read_regular(private=True)); file_writes.py writes them by the same rule (private directories,
atomic writes, exclusive locks), loaded only where something is written.

A directory the helper did not create is used only if the user owns it and no one else may
write in it, or if it is sticky and world-writable like /tmp: then the helper keeps its files in
a private subdirectory of its own (APP-UID, 0700). A file is believed only if it is a regular
file the user owns that no one else may write, opened without following a link and checked on
the open descriptor. Anything else raises Untrusted; callers say so once (report_untrusted)
and do without the file: a cache runs uncached, a pin is ignored, the index is refused.
"""

from __future__ import annotations

import errno  # built in: no file to load

from docker_credential_convox import APP, TYPE_CHECKING, minios
from docker_credential_convox.errors import StateError

if TYPE_CHECKING:
    from typing import Optional

    from docker_credential_convox.diagnostics import Diagnostics

# Others may write in (or replace) what has these bits: never trusted, never used.
OTHERS_WRITE_BITS = minios.S_IWGRP | minios.S_IWOTH
# Refusals already reported in this process, so one cause is one warning line however many
# files it touches (the token cache and the keyring pin share the cache directory).
_reported: set[str] = set()


class Untrusted(StateError):
    """A file or directory someone other than the user may have written: never read or used."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path

    def first_report(self) -> bool:
        """True the first time this path is refused in this process (then: warn once)."""
        if self.path in _reported:
            return False
        _reported.add(self.path)
        return True


def mark_reported(path: str) -> None:
    """Count `path` as refused and said so already (by the single file's bootstrap, which
    would not run its libraries from it): the one warning line has been written."""
    _reported.add(path)


def report_untrusted(diagnostics: Diagnostics, refusal: Untrusted, consequence: str) -> None:
    """`CONSEQUENCE: WHY` as one warning line, the first time this path is refused; later
    refusals of it in the same process are debug lines."""
    line = f"{consequence}: {refusal.message}"
    if refusal.first_report():
        diagnostics.warn(line)
    else:
        diagnostics.debug(line)


def private_subdir_name() -> str:
    """The helper's own directory inside a sticky world-writable one, like /tmp."""
    return f"{APP}-{minios.getuid()}"


def _is_sticky_shared(info: minios.stat_result) -> bool:
    """A /tmp-like directory: anyone may add entries, only their owner may rename or remove
    them, and it belongs to root or to the user (its owner could remove anything in it)."""
    mode = info.st_mode
    return (
        minios.S_ISDIR(mode)
        and mode & minios.S_ISVTX != 0
        and mode & minios.S_IWOTH != 0
        and info.st_uid in (0, minios.getuid())
    )


def _untrusted_dir(path: str, info: minios.stat_result) -> Optional[Untrusted]:
    """Why the directory `path` (as stat or lstat saw it) may not hold the helper's files."""
    fix = "choose a directory of your own"
    if minios.S_ISLNK(info.st_mode):
        return Untrusted(path, f"{path} is a symbolic link, not a directory: remove it")
    if not minios.S_ISDIR(info.st_mode):
        return Untrusted(path, f"{path} is not a directory: move it aside")
    if info.st_uid != minios.getuid():
        return Untrusted(
            path, f"directory {path} belongs to another user (uid {info.st_uid}): {fix}"
        )
    if info.st_mode & OTHERS_WRITE_BITS:
        mode = minios.S_IMODE(info.st_mode)
        return Untrusted(
            path,
            f"directory {path} is shared with other users (mode {mode:04o}): "
            f"make it yours alone (chmod go-w {path}) or {fix}",
        )
    return None


def trusted_dir(path: str) -> Optional[str]:
    """Where the helper's files meant for directory `path` are: None while there is none yet.

    `path` itself when the user owns it and no one else may write in it; for a sticky
    world-writable directory (/tmp), the helper's private subdirectory of it (APP-UID, 0700,
    not a link). Anything else raises Untrusted: files there may have been planted or replaced.
    One stat (two for a sticky directory); parents are not examined.
    """
    try:
        info = minios.stat(path)
    except (FileNotFoundError, NotADirectoryError):  # none, or none possible (under a file)
        return None
    except OSError as exc:
        raise StateError(f"cannot use directory {path}: {exc.strerror}") from None
    if _is_sticky_shared(info):
        path = minios.join(path, private_subdir_name())
        try:
            info = minios.lstat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot use directory {path}: {exc.strerror}") from None
    refusal = _untrusted_dir(path, info)
    if refusal is not None:
        raise refusal
    return path


def untrusted_file(path: str, info: minios.stat_result) -> Optional[Untrusted]:
    """Why the open file `path` (fstat's `info`) may not be believed: not the user's alone."""
    if info.st_uid != minios.getuid():
        return Untrusted(
            path,
            f"{path} belongs to another user (uid {info.st_uid}): remove it, or make it yours "
            "if you trust what it holds",
        )
    if info.st_mode & OTHERS_WRITE_BITS:
        mode = minios.S_IMODE(info.st_mode)
        return Untrusted(
            path,
            f"{path} may be written by other users (mode {mode:04o}): remove it, or "
            f"chmod go-w {path} if you trust what it holds",
        )
    return None


def read_regular(path: str, limit: Optional[int] = None, private: bool = False) -> Optional[bytes]:
    """The bytes of the regular file at `path` (at most `limit` + 1), or None if there is none.

    Opened without blocking and checked before reading: a FIFO, device or socket in the file's
    place is refused with a StateError instead of hanging the client that runs the helper.
    `private`: one of the helper's own files, which it reads back and believes. Then a link in
    its place is not followed, and a file another user owns or may write raises Untrusted (all
    checked on the open descriptor, so nothing can be swapped in between).
    """
    flags = (
        minios.O_RDONLY
        | minios.O_NONBLOCK
        | minios.O_CLOEXEC
        | (minios.O_NOFOLLOW if private else 0)
    )
    try:
        fd = minios.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):  # a file under a non-directory: none either
        return None
    except OSError as exc:
        if private and exc.errno == errno.ELOOP:
            raise Untrusted(path, f"{path} is a symbolic link: remove it") from None
        raise StateError(f"cannot read {path}: {exc.strerror}") from None
    try:
        info = minios.fstat(fd)
        if not minios.S_ISREG(info.st_mode):
            what = (
                "a directory, not a file" if minios.S_ISDIR(info.st_mode) else "not a regular file"
            )
            raise StateError(f"cannot read {path}: {what}; move it aside")
        refusal = untrusted_file(path, info) if private else None
        if refusal is not None:
            raise refusal
        return _read_all(fd, info.st_size, -1 if limit is None else limit + 1)
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror}") from None
    finally:
        minios.close(fd)


def _read_all(fd: int, size: int, most: int) -> bytes:
    """What is left to read of `fd`, at most `most` bytes (-1: all); `size` is what fstat said,
    so a file that did not change is read in one call (a buffered read of up to `most` would
    allocate `most` bytes first)."""
    data = b""
    while most < 0 or len(data) < most:
        want = max(size + 1 - len(data), 4096)
        chunk = minios.read(fd, want if most < 0 else min(want, most - len(data)))
        if not chunk:
            break
        data += chunk
    return data


def read_text(path: str, private: bool = False) -> Optional[str]:
    """The file's UTF-8 text, or None if it does not exist; StateError if it is not a file
    (`private`: as read_regular's)."""
    data = read_regular(path, private=private)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise StateError(f"cannot read {path}: not UTF-8 text") from None
