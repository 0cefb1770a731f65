"""Private, atomic, locked files: the only way the helper writes its own state."""

from __future__ import annotations

import os
import stat

from docker_credential_convox.errors import StateError

# `typing` costs milliseconds at start-up; mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
LOCK_POLL_SECONDS = 0.02
# Group- or world-writable, or sticky (/tmp): others may add, rename or replace entries there.
SHARED_DIR_BITS = stat.S_IWGRP | stat.S_IWOTH | stat.S_ISVTX


def ensure_private_dir(path: str) -> None:
    """Create `path` and any missing parents 0700; refuse an existing one others can use.

    Only directories created here are ours to chmod: an existing one (a home directory, /tmp
    named in a setting) is left exactly as it is, and refused if another user owns it or may
    write in it, since files there could be replaced or planted.
    """
    try:
        _make_private_dirs(path)
        info = os.stat(path)
    except OSError as exc:
        raise StateError(
            f"cannot create directory {path}: {exc.strerror}; "
            "check its permissions or choose another location"
        ) from None
    if info.st_uid != os.getuid():
        raise StateError(
            f"directory {path} belongs to another user; refusing to keep credentials there: "
            "remove it or choose another location"
        )
    if info.st_mode & SHARED_DIR_BITS:
        raise StateError(
            f"directory {path} is shared with other users (mode {stat.S_IMODE(info.st_mode):04o});"
            " refusing to keep credentials there: choose a directory of your own, "
            "such as a new subdirectory of it"
        )


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


def read_regular(path: str, limit: Optional[int] = None) -> Optional[bytes]:
    """The bytes of the regular file at `path` (at most `limit` + 1), or None if there is none.

    Opened without blocking and checked before reading: a FIFO, device or socket in the file's
    place is refused with a StateError instead of hanging the client that runs the helper.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror}") from None
    try:
        file_mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(file_mode):
            what = "a directory, not a file" if stat.S_ISDIR(file_mode) else "not a regular file"
            raise StateError(f"cannot read {path}: {what}; move it aside")
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            return handle.read(-1 if limit is None else limit + 1)
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror}") from None
    finally:
        if fd >= 0:
            os.close(fd)


def read_text(path: str) -> Optional[str]:
    """The file's UTF-8 text, or None if it does not exist; StateError if it is not a file."""
    data = read_regular(path)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise StateError(f"cannot read {path}: not UTF-8 text") from None


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

    With a `timeout`, give up with a StateError after that many seconds instead of waiting on a
    holder that hangs. The kernel drops the lock when its holder dies, so no lock is ever stale.
    (A class, not a contextlib.contextmanager: contextlib costs a cached `get` milliseconds.)
    """

    def __init__(self, path: str, timeout: Optional[float] = None) -> None:
        self.path = path
        self.timeout = timeout
        self.fd = -1

    def __enter__(self) -> None:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        except OSError as exc:
            raise StateError(f"cannot open lock file {self.path}: {exc.strerror}") from None
        try:
            _acquire(self.fd, self.path, self.timeout)
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(self, *exc_info: object) -> None:
        os.close(self.fd)


def _acquire(fd: int, path: str, timeout: Optional[float]) -> None:
    import fcntl
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if deadline is None else fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if deadline is not None and time.monotonic() >= deadline:
                raise StateError(
                    f"another process has held the lock {path} for over {timeout:g} s; "
                    "giving up on it"
                ) from None
            time.sleep(LOCK_POLL_SECONDS)
        except OSError as exc:
            raise StateError(f"cannot lock {path}: {exc.strerror}") from None
