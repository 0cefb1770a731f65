"""Private, atomic, locked files: the only way the helper writes its own state, by fileio's rule.

Directories it creates are 0700 (an existing one is used only as fileio.trusted_dir allows);
files are written 0600 through a temp file and a rename; locks are regular files the user alone
owns. Only what writes loads this module: a `get` or a `list` reads through fileio alone.
"""

from __future__ import annotations

import errno  # built in: no file to load
import os
import stat

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.errors import StateError
from docker_credential_convox.fileio import (
    Untrusted,
    private_subdir_name,
    trusted_dir,
    untrusted_file,
)

if TYPE_CHECKING:
    from typing import Optional

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
LOCK_POLL_SECONDS = 0.02


def ensure_private_dir(path: str) -> str:
    """trusted_dir(path), creating what is missing (parents included) 0700; never None.

    Only directories created here are ours to chmod: an existing one (a home directory, /tmp
    named in a setting) is left exactly as it is, and refused (Untrusted) unless trusted_dir's
    rule allows it.
    """
    try:
        _make_private_dirs(path)
        found = trusted_dir(path)
        if found is None:  # a sticky directory without the helper's subdirectory yet
            subdir = os.path.join(path, private_subdir_name())
            _make_private_dirs(subdir)
            found = trusted_dir(path)
    except OSError as exc:
        raise StateError(
            f"cannot create directory {path}: {exc.strerror}; "
            "check its permissions or choose another location"
        ) from None
    if found is None:  # removed meanwhile: never write where nothing was checked
        raise StateError(f"directory {path} vanished while it was being made; try again")
    return found


def _make_private_dirs(path: str) -> None:
    """mkdir -p, 0700 for every directory it creates (os.makedirs gives parents 0777 & ~umask)."""
    missing: list[str] = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, PRIVATE_DIR_MODE)
        except FileExistsError:  # another process was first; it is checked like any other
            continue
        os.chmod(directory, PRIVATE_DIR_MODE)  # a umask can take bits from mkdir's mode


def atomic_write(path: str, text: str, mode: int = PRIVATE_FILE_MODE) -> None:
    """Replace `path` with `text` all at once: a temp file in the same directory, fsync, rename.

    A reader sees the old content or the new, never a mix; a crash leaves at most a stray temp file.
    """
    directory = os.path.dirname(path) or "."
    temp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
        try:
            os.fchmod(fd, mode)  # O_CREAT's mode is filtered by the umask; the file's must not be
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                fd = -1
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            if fd >= 0:
                os.close(fd)
        os.replace(temp, path)
    except OSError as exc:
        try:  # noqa: SIM105 - contextlib costs a cached `get` milliseconds
            os.unlink(temp)
        except OSError:
            pass
        raise StateError(
            f"cannot write {path}: {exc.strerror}; check the directory's permissions and free space"
        ) from None
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


class exclusive_lock:  # used as `with exclusive_lock(path):`, like a function
    """Hold an exclusive advisory lock on `path` (created 0600) for the block's duration.

    The lock file is opened without following a link (a link would let whoever placed it make
    the helper create files elsewhere) and refused (Untrusted) unless it is a regular file the
    user owns that no one else may write.

    With a `timeout`, give up with a StateError once one holder has kept the lock for that many
    seconds, instead of waiting on a holder that hangs; a lock that keeps changing hands (a queue
    of writers on a slow disk) is waited for however long the queue takes. Each holder stamps
    the lock file when it takes it (`_stamp`), which is how a waiter sees the hands change. The
    kernel drops the lock when its holder dies, so no lock is ever stale.
    (A class, not a contextlib.contextmanager: contextlib costs a cached `get` milliseconds.)
    """

    def __init__(self, path: str, timeout: Optional[float] = None) -> None:
        self.path = path
        self.timeout = timeout
        self.fd = -1

    def __enter__(self) -> None:
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            self.fd = os.open(self.path, flags, PRIVATE_FILE_MODE)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise Untrusted(self.path, f"{self.path} is a symbolic link: remove it") from None
            raise StateError(f"cannot open lock file {self.path}: {exc.strerror}") from None
        try:
            info = os.fstat(self.fd)
            refusal = (
                untrusted_file(self.path, info)
                if stat.S_ISREG(info.st_mode)
                else Untrusted(self.path, f"{self.path} is not a regular file: move it aside")
            )
            if refusal is not None:
                raise refusal
            _acquire(self.fd, self.path, self.timeout)
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(self, *exc_info: object) -> None:
        os.close(self.fd)


def _acquire(fd: int, path: str, timeout: Optional[float]) -> None:
    import fcntl
    import time

    try:
        if timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _stamp(fd, time.monotonic_ns())
            return
        holder, deadline = _read_stamp(fd), time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                _stamp(fd, time.monotonic_ns())
                return
            except BlockingIOError:
                now, stamp = time.monotonic(), _read_stamp(fd)
            if stamp != holder:  # the lock changed hands: the new holder's time starts now
                holder, deadline = stamp, now + timeout
            elif now >= deadline:
                raise StateError(
                    f"another process has held the lock {path} for over {timeout:g} s; "
                    "giving up on it"
                )
            time.sleep(LOCK_POLL_SECONDS)
    except OSError as exc:
        raise StateError(f"cannot lock {path}: {exc.strerror}") from None


# A holder's stamp: its pid and the moment it took the lock, fixed width so that one pwrite
# replaces the last holder's. Nothing else is ever written into a lock file.
STAMP_WIDTH = 32


def _stamp(fd: int, taken_ns: int) -> None:
    """Say, in the lock file, that a new holder has the lock (best effort: a stamp that cannot
    be written, on a full disk say, only makes waiters count from an older one)."""
    stamp = f"{os.getpid()} {taken_ns}".encode()[: STAMP_WIDTH - 1]
    try:  # noqa: SIM105 - contextlib costs milliseconds at start-up
        os.pwrite(fd, stamp.ljust(STAMP_WIDTH - 1) + b"\n", 0)
    except OSError:
        pass


def _read_stamp(fd: int) -> bytes:
    """The stamp of the lock's latest holder (b"" for none, or none readable)."""
    try:
        return os.pread(fd, STAMP_WIDTH, 0)
    except OSError:
        return b""
