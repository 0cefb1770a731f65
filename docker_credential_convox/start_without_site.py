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
"""

from __future__ import annotations

import sys

from docker_credential_convox import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Optional

# Top-level modules imported without `site` besides the standard library's.
OWN = frozenset({"docker_credential_convox", "jeepney"})
_appended: list[str] = []


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


def site_loaded() -> bool:
    """Whether `site` has run (or the launcher never left it out)."""
    return not sys.flags.no_site or "site" in sys.modules


def load_site() -> None:
    """Run `site` as the interpreter would have at start-up; once."""
    sys.meta_path[:] = [f for f in sys.meta_path if f not in (_SiteBeforeOthers, _SiteOnMiss)]
    if site_loaded():
        return
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
    sys.meta_path.append(_SiteOnMiss)


def run(appended: Sequence[str] = ()) -> int:
    """Prepare the interpreter, then run the helper's own entry; its exit code."""
    try:
        prepare(appended)
    except Exception:  # a launcher that cannot prepare falls back to the usual start
        load_site()
    from docker_credential_convox.cli import main

    return main()
