"""Run the helper in an interpreter started without `site`, and load `site` the moment it counts.

Docker starts the helper for every `get`, and `site` (every .pth file of the environment, user
site-packages, sitecustomize) costs more than the rest of a cached ECR `get`. Each install form
has a launcher (packaging/launchers/) that starts Python with -S, appends this package's
directory to sys.path (in a venv and in Debian's dist-packages it is also the directory of its
dependencies) and calls `run`, which calls the helper's own entry, cli.main: no second path
through the helper, nothing to drift.

The hot paths (`version`, a cached ECR `get`, get/list of a registry nobody stored) import only
the standard library and this package, and a Secret Service `get` adds jeepney (a dependency,
found beside the package; it finds nothing through entry points or .pth files, so `site` would
change nothing about it). The first import of any other top-level module
(botocore, keyring, whose backends are found through entry points anywhere on the path, a
module of PYTHONPATH, a backend PYTHON_KEYRING_BACKEND names) loads `site` first, so from there
on the process is exactly what the normal console script would be. So does an import nothing
on the short path can satisfy (an editable install: the package is found through a .pth file),
after which it is tried again. Python without `sys.stdlib_module_names` (3.9) loads `site` at
once. PYTHON* variables work as with the normal script: the interpreter is not isolated.

Until `site` loads, the cyclic garbage collector is off and the process ends with os._exit once
stdout and stderr are flushed: a hot path allocates a few thousand objects, and collecting them
and tearing the interpreter down cost a cached `get` about a fifth of its instructions. Every
file the package writes is closed by a `with` block, no thread runs, nothing registered with
`atexit` (checked), so the usual shutdown would do nothing more. Once `site` has loaded
(botocore, keyring, any other library), the collector is back on and the process ends as usual.

Until then, too, this package's own modules are found by their names alone and run from the
bytecode pip compiled beside them (`_OwnModules`), which spares a cached ECR `get` about 4% of
its instructions (importlib's general search of the path, its reading of each file). Only
bytecode that importlib itself would accept is used (this interpreter's magic number, the
source's modification time and size); anything else, and any module of another package, is
left to the usual finders.
"""

from __future__ import annotations

import _imp
import gc
import marshal
import posix  # minios's calls, named here: this module installs the finder minios is found by
import sys

from docker_credential_convox import TYPE_CHECKING

try:  # the import system's own classes, loaded with the interpreter (importlib.machinery
    # would load `warnings` and more for the same names)
    from _frozen_importlib import ModuleSpec as _ModuleSpec
    from _frozen_importlib_external import MAGIC_NUMBER, SourceFileLoader
except ImportError:  # not CPython: the usual finders do it all
    SourceFileLoader = None  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import CodeType, ModuleType
    from typing import Optional

# Top-level modules imported without `site` besides the standard library's.
OWN = frozenset({"docker_credential_convox", "jeepney"})
_appended: list[str] = []
_PACKAGE_DIR = __file__.rpartition("/")[0]
_PREFIX = __name__.rpartition(".")[0] + "."


class _SiteBeforeOthers:
    """First on sys.meta_path: loads `site` before a top-level import that is not ours or the
    standard library's, then lets the usual finders look (on the whole path)."""

    @staticmethod
    def find_spec(
        name: str, path: Optional[Sequence[str]] = None, target: Optional[ModuleType] = None
    ) -> Optional[ModuleSpec]:
        if path is None and name not in OWN and name not in sys.stdlib_module_names:
            load_site()
        return None


class _SiteOnMiss:
    """Last on sys.meta_path: nothing found a top-level module (an editable install, say), so
    load `site` and ask every finder again."""

    @staticmethod
    def find_spec(
        name: str, path: Optional[Sequence[str]] = None, target: Optional[ModuleType] = None
    ) -> Optional[ModuleSpec]:
        if path is not None or site_loaded():
            return None
        load_site()
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            spec = find(name, None, target) if find is not None else None
            if spec is not None:
                return spec  # type: ignore[no-any-return]
        return None


class _OwnModules:
    """Second on sys.meta_path: a module of this package, found where its name puts it under
    the package's directory (a package before a module of the same name, as importlib does)."""

    @staticmethod
    def find_spec(
        name: str, path: Optional[Sequence[str]] = None, target: Optional[ModuleType] = None
    ) -> Optional[ModuleSpec]:
        tag = sys.implementation.cache_tag
        if not name.startswith(_PREFIX) or tag is None or sys.flags.optimize or sys.pycache_prefix:
            return None  # other bytecode files (-O, a cache prefix): the usual finders know which
        parent, _, last = name[len(_PREFIX) :].rpartition(".")
        directory = _PACKAGE_DIR + "/" + parent.replace(".", "/") if parent else _PACKAGE_DIR
        for folder, file in ((directory + "/" + last, "__init__.py"), (directory, last + ".py")):
            try:
                source = posix.stat(folder + "/" + file)
            except OSError:
                continue
            loader = _CachedBytecode(name, folder + "/" + file)
            loader.source = source
            loader.cached = f"{folder}/__pycache__/{file[:-3]}.{tag}.pyc"
            package = file == "__init__.py"
            spec = _ModuleSpec(name, loader, origin=loader.path, is_package=package)
            spec.has_location = True
            spec.cached = loader.cached
            if package:
                spec.submodule_search_locations = [folder]
            return spec
        return None


class _CachedBytecode(SourceFileLoader):
    """importlib's loader of a source file, reading its cached bytecode in one system call;
    whatever is not exactly what importlib would accept, importlib's own way."""

    source: posix.stat_result
    cached: str

    def get_code(self, fullname: str) -> Optional[CodeType]:
        try:
            fd = posix.open(self.cached, posix.O_RDONLY | posix.O_CLOEXEC)
            try:
                data = posix.read(fd, posix.fstat(fd).st_size)
            finally:
                posix.close(fd)
        except OSError:
            data = b""
        if (  # the header of a timestamp-checked .pyc of this interpreter, for this source
            data[:4] != MAGIC_NUMBER
            or data[4:8] != b"\0\0\0\0"
            or int.from_bytes(data[8:12], "little") != int(self.source.st_mtime) & 0xFFFFFFFF
            or int.from_bytes(data[12:16], "little") != self.source.st_size & 0xFFFFFFFF
        ):
            return super().get_code(fullname)
        code: CodeType = marshal.loads(memoryview(data)[16:])  # noqa: S302 - as importlib does
        _imp._fix_co_filename(code, self.path)  # type: ignore[attr-defined] # as importlib does
        return code


def site_loaded() -> bool:
    """Whether `site` has run (or the launcher never left it out)."""
    return not sys.flags.no_site or "site" in sys.modules


def load_site() -> None:
    """Run `site` as the interpreter would have at start-up; once."""
    ours = (_SiteBeforeOthers, _OwnModules, _SiteOnMiss)
    sys.meta_path[:] = [finder for finder in sys.meta_path if finder not in ours]
    if site_loaded():
        return
    gc.enable()
    for entry in _appended:  # `site` adds them again, in its own order
        if entry in sys.path:  # the copy the launcher appended: the last one
            del sys.path[len(sys.path) - 1 - sys.path[::-1].index(entry)]
    _appended.clear()
    import site

    site.main()


def prepare(appended: Sequence[str] = ()) -> None:
    """Watch imports for the first that needs `site`; `appended`: the directories the launcher
    appended to sys.path, taken out again before `site` runs."""
    _appended[:] = appended
    if site_loaded():
        return
    if not hasattr(sys, "stdlib_module_names"):  # Python 3.9: no way to tell; as usual
        load_site()
        return
    sys.meta_path.insert(0, _SiteBeforeOthers)
    if SourceFileLoader is not None:
        sys.meta_path.insert(1, _OwnModules)
    sys.meta_path.append(_SiteOnMiss)
    gc.disable()


def run(appended: Sequence[str] = ()) -> int:
    """Prepare the interpreter, then run the helper's own entry; its exit code."""
    try:
        prepare(appended)
    except Exception:  # a launcher that cannot prepare falls back to the usual start
        load_site()
    from docker_credential_convox.cli import main

    code = main()
    if _may_skip_shutdown():
        posix._exit(code)
    return code


def _may_skip_shutdown() -> bool:
    """Whether the process may end without the interpreter's shutdown: `site` never loaded (so
    only the standard library and this package ran), no thread, nothing for `atexit`, and
    stdout and stderr flushed (a failure is left to the usual shutdown to report)."""
    if site_loaded() or "threading" in sys.modules:
        return False
    import atexit

    count = getattr(atexit, "_ncallbacks", None)
    if count is None or count():
        return False
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except Exception:
        return False
    return True
