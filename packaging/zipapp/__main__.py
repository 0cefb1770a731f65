"""Run docker-credential-convox from its single-file build (a zipapp).

The file is a zip archive holding this module and `site-packages/`: the helper and every library
it needs. Python cannot load compiled extensions or botocore's data files from inside a zip, so
the first run unpacks `site-packages/` into the helper's cache directory (`zipapp/BUILD_ID` in
~/.cache/docker-credential-convox, or wherever XDG_CACHE_HOME or DOCKER_CREDENTIAL_CONVOX_CACHE_DIR
put it, or DOCKER_CREDENTIAL_CONVOX_ZIPAPP_CACHE_DIR for these libraries alone), and every run
imports from there: after the first run the helper starts like an
installed package. This module imports nothing but `os` and `sys` on that path (shiv's
bootstrap costs ~40 ms a run; a credential helper runs on every pull and push), and the file
starts Python without `site` (`python3 -S`, from the two lines of sh before the archive):
`site` loads only when the helper imports more than the standard library and itself.

The first run of each Python version also byte-compiles the libraries, as pip does when it
installs: the helper must not recompile botocore on every run where PYTHONDONTWRITEBYTECODE is
set (a common setting in containers and CI). Concurrent first runs wait on one lock while one of
them does the work; unpacking goes to a temporary directory renamed into place, so a process
killed half-way leaves nothing that a later run would take for a finished copy.
"""

import os
import sys

BUILD_ID = "@BUILD_ID@"  # replaced when the archive is built
APP = "docker-credential-convox"
MEMBERS = "site-packages/"


class SharedWithOthers(OSError):
    """A directory another user owns or may write: code unpacked there could be theirs."""


def unpack_root() -> str:
    """`zipapp/` in DOCKER_CREDENTIAL_CONVOX_ZIPAPP_CACHE_DIR if set, else in the helper's cache
    directory, resolved as the helper resolves it."""
    base = os.environ.get("DOCKER_CREDENTIAL_CONVOX_ZIPAPP_CACHE_DIR", "")
    base = base or os.environ.get("DOCKER_CREDENTIAL_CONVOX_CACHE_DIR", "")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(xdg):
            xdg = os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, APP)
    if not os.path.isabs(base):  # no HOME and no password-database entry
        raise OSError(0, "no home directory")
    return os.path.join(base, "zipapp")


def unpack(archive: str, target: str) -> None:
    """Unpack the archive's site-packages/ to `target`, all at once or not at all."""
    import glob
    import shutil
    import tempfile
    import zipfile

    parent = os.path.dirname(target)
    for leftover in glob.glob(os.path.join(parent, ".unpacking-*")):  # from a killed process
        shutil.rmtree(leftover, ignore_errors=True)
    temp = tempfile.mkdtemp(prefix=".unpacking-", dir=parent)
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                if member.filename.startswith(MEMBERS):
                    path = zf.extract(member, temp)
                    mode = (member.external_attr >> 16) & 0o755
                    if mode and not member.is_dir():
                        os.chmod(path, mode)
        os.rename(temp, target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def private_dirs(path: str) -> None:
    """mkdir -p, 0700 for every directory it creates; `path` itself must be ours alone.

    The helper imports what is unpacked in `path`: in a directory another user may write (a
    DOCKER_CREDENTIAL_CONVOX_CACHE_DIR of /tmp, say) they could plant code, so it is refused.
    """
    missing = []
    current = os.path.abspath(path)
    while not os.path.isdir(current) and os.path.dirname(current) != current:
        missing.append(current)
        current = os.path.dirname(current)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:  # a concurrent first run; checked below like any other
            continue
        os.chmod(directory, 0o700)  # a umask can take bits from mkdir's mode
    info = os.stat(path)
    if info.st_uid != os.getuid() or info.st_mode & 0o1022:  # sticky, group or world-writable
        raise SharedWithOthers(0, "the directory is shared with other users", path)


def ours_alone(path: str, sticky_ok: bool = False) -> bool:
    """Whether the directory `path` is this user's and no one else may write in it (with
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


def untrusted_part(target: str) -> "str | None":
    """The directory that lets someone else put code in `target`, if any: `target` and
    `zipapp/` above it must be this user's alone, and the cache directory above that too, or
    sticky (then no one else can rename `zipapp/` away). start.py checks the same (`trusted`)
    before it runs the unpacked copy."""
    root = os.path.dirname(target)
    base = os.path.dirname(root)
    if not ours_alone(base, sticky_ok=True):
        return base
    for path in (root, target):
        if not ours_alone(path):
            return path
    return None


def prepare(archive: str, target: str, compiled: str) -> None:
    """Unpack (once per build) and byte-compile (once per Python version), under a lock."""
    import compileall
    import fcntl

    parent = os.path.dirname(target)
    private_dirs(parent)
    with open(os.path.join(parent, ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent first runs wait for one to finish
        if os.path.exists(compiled):
            return
        site_packages = os.path.join(target, MEMBERS)
        if not os.path.isdir(site_packages):
            unpack(archive, target)
        compileall.compile_dir(site_packages, quiet=2)
        with open(compiled, "w"):
            pass


def unpacked_copy(archive: str) -> str:
    """This build's copy in the cache directory, unpacked and compiled on first use; refused
    (SharedWithOthers) where another user could have put code."""
    target = os.path.join(unpack_root(), BUILD_ID)
    compiled = os.path.join(target, ".compiled-" + sys.implementation.cache_tag)
    if not os.path.exists(compiled):
        prepare(archive, target, compiled)
    refused = untrusted_part(target)
    if refused is not None:  # another user could have planted code there: never run it
        raise SharedWithOthers(0, "another user owns it or may write in it", refused)
    return target


def copy_for_this_run(archive: str, refused: OSError) -> str:
    """A copy in a private temporary directory, removed when the helper exits: slower (about a
    second), but the helper still runs, and never code another user planted."""
    import atexit
    import shutil
    import tempfile

    sys.stderr.write(
        f"{APP}: warning: not running its libraries from {refused.filename}: "
        f"{refused.strerror}; unpacked them for this run only (slower): set "
        "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR to a directory of your own\n"
    )
    temp = tempfile.mkdtemp(prefix=f"{APP}-zipapp-")  # 0700, a new name: no one else's
    atexit.register(shutil.rmtree, temp, True)
    target = os.path.join(temp, BUILD_ID)
    unpack(archive, target)
    return target


def main() -> int:
    archive = os.path.dirname(os.path.abspath(__file__))
    refused_path = None
    try:
        try:
            target = unpacked_copy(archive)
        except SharedWithOthers as refused:
            target = copy_for_this_run(archive, refused)
            refused_path = refused.filename
    except OSError as exc:  # one line on stdout, exit 1: what credential clients expect
        sys.stdout.write(
            f"{APP}: cannot unpack its libraries: {exc.strerror or exc}"
            f"{f' ({exc.filename})' if exc.filename else ''}; "
            "set DOCKER_CREDENTIAL_CONVOX_CACHE_DIR to a writable directory\n"
        )
        return 1
    site_packages = os.path.join(target, MEMBERS)
    # The unpacked libraries replace the archive at the front of sys.path: they win over any
    # copy in the interpreter's own site-packages, which stay reachable for keyring plugins.
    sys.path[:] = [site_packages.rstrip("/")] + [
        entry for entry in sys.path if os.path.abspath(entry or ".") != archive
    ]
    if refused_path:  # one warning line per refused directory: the helper says no more
        try:
            from docker_credential_convox import fileio

            fileio.mark_reported(refused_path)
        except Exception:  # noqa: S110 - only spares a second warning line
            pass
    try:  # without `site` until something needs it (docker_credential_convox/start_without_site.py)
        from docker_credential_convox.start_without_site import run
    except Exception:  # noqa: S110 - a broken launcher: start as the usual console script does
        pass
    else:
        return run()
    if "site" not in sys.modules:
        import site

        site.main()
    from docker_credential_convox.cli import main as helper_main

    return helper_main()


if __name__ == "__main__":
    sys.exit(main())
