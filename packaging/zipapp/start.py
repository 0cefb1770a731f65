"""The first Python of the single file: `python3 -S -c` runs this text, given the archive path.

build.py puts it in the two lines of sh before the archive, with the id of the build filled in. An
earlier run unpacked this build for this Python (the marker `__main__.py` writes last exists):
run the helper from there, without reading the archive at all (zipimport parses the directory of
its 600 files in Python on every start). Otherwise import the bootstrap from the archive
(__main__.py, as BOOTSTRAP_MODULE), which unpacks, byte-compiles and runs the helper. The
directory is found as __main__.unpack_root finds it (tests/test_faults_edges.py checks they
agree). No single quote may appear in this file: it is quoted for sh.
"""

import os
import sys

sys.path[:1] = [entry for entry in sys.path[:1] if entry]  # -c puts the current directory first
del sys.argv[0]  # "-c": argv becomes what running the archive gives


def unpacked() -> str:
    """The unpack directory of this build (may not exist), as __main__.unpack_root resolves it."""
    base = os.environ.get("DOCKER_CREDENTIAL_CONVOX_ZIPAPP_CACHE_DIR", "")
    base = base or os.environ.get("DOCKER_CREDENTIAL_CONVOX_CACHE_DIR", "")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(xdg):
            xdg = os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "docker-credential-convox")
    return os.path.join(base, "zipapp", "@BUILD_ID@")


def ours_alone(path: str, sticky_ok: bool = False) -> bool:
    """Whether the directory `path` belongs to this user and no one else may write in it (with
    `sticky_ok`, or it is sticky and world-writable like /tmp, of root or this user)."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    if info.st_uid not in (0, os.getuid()):
        return False
    if sticky_ok and info.st_mode & 0o1002 == 0o1002:
        return True
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def trusted(target: str) -> bool:
    """Whether only this user can have put the code in `target`: it and `zipapp/` above it are
    theirs alone, and the cache directory above that is too, or sticky (then no one else can
    rename `zipapp/` away). The bootstrap (__main__.trusted) checks the same."""
    root = os.path.dirname(target)
    return (
        ours_alone(os.path.dirname(root), sticky_ok=True)
        and ours_alone(root)
        and ours_alone(target)
    )


def start() -> int:
    target = unpacked()
    marker = os.path.join(target, ".compiled-" + sys.implementation.cache_tag)
    # Code another user could have planted never runs: the bootstrap then says so in one line.
    if os.path.isabs(target) and os.path.exists(marker) and trusted(target):
        sys.path.insert(0, os.path.join(target, "site-packages"))
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
