"""Private, atomic, locked files: the only way the helper writes its own state."""

from __future__ import annotations

import contextlib
import os

from docker_credential_convox.errors import StateError

# `typing` costs milliseconds at start-up; mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Optional

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
LOCK_POLL_SECONDS = 0.02


def ensure_private_dir(path: str) -> None:
    """Create `path` (and parents) 0700 if missing; tighten it to 0700 if we own it."""
    try:
        os.makedirs(path, mode=PRIVATE_DIR_MODE, exist_ok=True)
        info = os.stat(path)
        if info.st_uid != os.getuid():
            raise StateError(
                f"directory {path} belongs to another user; refusing to keep credentials there: "
                "remove it or choose another location"
            )
        if info.st_mode & 0o077:
            os.chmod(path, PRIVATE_DIR_MODE)
    except OSError as exc:
        raise StateError(
            f"cannot create directory {path}: {exc.strerror}; "
            "check its permissions or choose another location"
        ) from None


def read_text(path: str) -> Optional[str]:
    """The file's text, or None if it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise StateError(f"cannot read {path}: {reason}") from None


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
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise StateError(
            f"cannot write {path}: {exc.strerror}; check the directory's permissions and free space"
        ) from None
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def exclusive_lock(path: str, timeout: Optional[float] = None) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path` (created 0600) for the block's duration.

    With a `timeout`, give up with a StateError after that many seconds instead of waiting on a
    holder that hangs. The kernel drops the lock when its holder dies, so no lock is ever stale.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    except OSError as exc:
        raise StateError(f"cannot open lock file {path}: {exc.strerror}") from None
    try:
        _acquire(fd, path, timeout)
        yield
    finally:
        os.close(fd)


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
