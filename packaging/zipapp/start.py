"""The first Python of the single file: `python3 -S -c` runs this text, given the archive path.

build.py puts it in the two lines of sh before the archive, with the id of the build filled in. An
earlier run unpacked this build for this Python (the marker `__main__.py` writes last exists):
run the helper from there, without reading the archive at all (zipimport parses the directory of
its 600 files in Python on every start). Otherwise import the bootstrap from the archive
(__main__.py, as BOOTSTRAP_MODULE), which unpacks, byte-compiles and runs the helper. The
directory is found as __main__.unpack_root finds it (tests/test_faults_edges.py checks they
agree). No single quote may appear in this file: it is quoted for sh.
"""

import posix  # not os: importing os costs a cached get 15% (docker_credential_convox/minios.py)
import sys

sys.path[:1] = [entry for entry in sys.path[:1] if entry]  # -c puts the current directory first
del sys.argv[0]  # "-c": argv becomes what running the archive gives


def getenv(name: str) -> str:
    """os.environ.get(name, ""): the environment as os decodes it."""
    value = posix.environ.get(name.encode())
    return "" if value is None else value.decode(sys.getfilesystemencoding(), "surrogateescape")


def join(path: str, *names: str) -> str:
    """os.path.join for str paths."""
    for name in names:
        if name.startswith("/"):
            path = name
        elif not path or path.endswith("/"):
            path += name
        else:
            path += "/" + name
    return path


def dirname(path: str) -> str:
    """os.path.dirname for str paths."""
    head = path[: path.rfind("/") + 1]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head


def home() -> str:
    """os.path.expanduser("~")."""
    if b"HOME" in posix.environ:
        found = getenv("HOME")
    else:
        import pwd

        try:
            found = pwd.getpwuid(posix.getuid()).pw_dir
        except KeyError:
            return "~"
    return found.rstrip("/") or "/"


def unpacked() -> str:
    """The unpack directory of this build (may not exist), as __main__.unpack_root resolves it."""
    base = getenv("DOCKER_CREDENTIAL_CONVOX_ZIPAPP_CACHE_DIR")
    base = base or getenv("DOCKER_CREDENTIAL_CONVOX_CACHE_DIR")
    if not base:
        xdg = getenv("XDG_CACHE_HOME")
        if not xdg.startswith("/"):
            xdg = join(home(), ".cache")
        base = join(xdg, "docker-credential-convox")
    return join(base, "zipapp", "@BUILD_ID@")


def ours_alone(path: str, sticky_ok: bool = False) -> bool:
    """Whether the directory `path` belongs to this user and no one else may write in it (with
    `sticky_ok`, or it is sticky and world-writable like /tmp, of root or this user)."""
    try:
        info = posix.stat(path)
    except OSError:
        return False
    if info.st_uid not in (0, posix.getuid()):
        return False
    if sticky_ok and info.st_mode & 0o1002 == 0o1002:
        return True
    return info.st_uid == posix.getuid() and not info.st_mode & 0o022


def trusted(target: str) -> bool:
    """Whether only this user can have put the code in `target`: it and `zipapp/` above it are
    theirs alone, and the cache directory above that is too, or sticky (then no one else can
    rename `zipapp/` away). The bootstrap (__main__.trusted) checks the same."""
    root = dirname(target)
    return ours_alone(dirname(root), sticky_ok=True) and ours_alone(root) and ours_alone(target)


def exists(path: str) -> bool:
    """os.path.exists."""
    try:
        posix.stat(path)
    except (OSError, ValueError):
        return False
    return True


def start() -> int:
    target = unpacked()
    marker = join(target, ".compiled-" + sys.implementation.cache_tag)
    # Code another user could have planted never runs: the bootstrap then says so in one line.
    if target.startswith("/") and exists(marker) and trusted(target):
        sys.path.insert(0, join(target, "site-packages"))
        try:
            from docker_credential_convox.start_without_site import run
        except Exception:  # a broken copy: the bootstrap does what it does today
            sys.path.pop(0)
        else:
            return run()
    sys.path.insert(0, sys.argv[0])
    from docker_credential_convox_zipapp import main  # type: ignore[import-not-found]

    code: int = main()  # __main__.py, imported from the archive
    return code


sys.exit(start())
