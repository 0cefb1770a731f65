"""The launcher of a wheel in a venv (pip, pipx): Python without `site` on the hot paths, `site`
loaded before anything else is imported, and the usual start whenever the launcher cannot help.

The wheel of this tree is built and installed with pip into a venv of this session's own, whose
other libraries are this venv's (linked, not copied): the layout a user's `pip install` makes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from support import NOT_FOUND

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = "docker-credential-convox"
SITE_SCRIPT = "docker-credential-convox-site"
HEAVY = ("boto3", "botocore", "keyring", "secretstorage", "cryptography", "jeepney", "cachetools")
SECRET_SERVICE_CLASS = "keyring.backends.SecretService.Keyring"


def make_venv(directory: Path, wheel: Path) -> Path:
    """A venv holding `wheel` (installed by pip, as users do) and links to this venv's libraries."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True)
    version = "python{}.{}".format(*sys.version_info[:2])
    ours = Path(sys.prefix) / "lib" / version / "site-packages"
    theirs = directory / "lib" / version / "site-packages"
    for entry in ours.iterdir():
        if not entry.name.startswith(("__editable__", "docker_credential_convox", "__pycache__")):
            (theirs / entry.name).symlink_to(entry)
    pip = [sys.executable, "-m", "pip", "--python", str(directory / "bin" / "python")]
    subprocess.run([*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    return directory


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"),
            *("--no-index", "-w", str(out), str(ROOT)),
        ],
        check=True,
        capture_output=True,
    )
    return next(out.glob("*.whl"))


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    return make_venv(tmp_path_factory.mktemp("launched") / "venv", wheel)


def run(
    exe: Path, env: Mapping[str, str], *args: str, stdin: str = ""
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """One process and the modules it imported, in order (-X importtime)."""
    result = subprocess.run(
        [str(exe), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        check=False,
    )
    modules = [
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]
    return result, modules[1:]  # the first line is the header


# argv, stdin, stdout and exit code of each hot path.
HOT_PATHS = {
    "version": (("version",), "", "docker-credential-convox (docker-credential-convox) 0.1.0\n", 0),
    "get unknown": (("get",), "unknown.example", NOT_FOUND + "\n", 1),
    "list": (("list",), "", "{}\n", 0),
}


@pytest.mark.parametrize("path", list(HOT_PATHS))
def test_hot_paths_run_without_site_and_import_no_heavy_library(
    venv: Path, helper_env: dict[str, str], path: str
) -> None:
    args, stdin, stdout, code = HOT_PATHS[path]
    result, modules = run(venv / "bin" / LAUNCHER, helper_env, *args, stdin=stdin)
    assert (result.returncode, result.stdout) == (code, stdout), result
    assert "site" not in modules
    assert [name for name in HEAVY if name in modules] == []
    # ...nor `os`, the launcher's Python part included (docker_credential_convox/minios.py).
    assert [name for name in ("os", "posixpath", "_collections_abc") if name in modules] == []


def test_the_usual_console_script_beside_it_loads_site(
    venv: Path, helper_env: dict[str, str]
) -> None:
    result, modules = run(venv / "bin" / SITE_SCRIPT, helper_env, "version")
    assert result.returncode == 0
    assert "site" in modules


def test_a_link_to_the_launcher_alone_runs_it_without_site(
    venv: Path, helper_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / LAUNCHER).symlink_to(venv / "bin" / LAUNCHER)  # README: ln -s into ~/.local/bin
    result, modules = run(tmp_path / LAUNCHER, helper_env, "get", stdin="unknown.example")
    assert (result.returncode, result.stdout) == (1, NOT_FOUND + "\n")
    assert "site" not in modules


def test_a_keyring_store_loads_site_before_keyring_and_a_get_needs_none(
    venv: Path, helper_env: dict[str, str]
) -> None:
    exe = venv / "bin" / LAUNCHER
    login = '{"ServerURL": "launched.example", "Username": "alice", "Secret": "pw"}'
    stored, modules = run(exe, helper_env, "store", stdin=login)
    assert stored.returncode == 0, stored
    assert "keyring" in modules
    assert "site" in modules
    assert modules.index("site") < modules.index("keyring")
    # The get reads the item over the bus's socket itself (stores/dbus_wire.py): no `site`,
    # nor jeepney.
    result, modules = run(exe, helper_env, "get", stdin="launched.example")
    assert result.returncode == 0, result
    assert json.loads(result.stdout)["Secret"] == "pw"
    assert "docker_credential_convox.stores.dbus_wire" in modules
    assert "jeepney" not in modules
    assert "site" not in modules
    assert "keyring" not in modules


# A keyring backend of the test's own, found only through PYTHONPATH and chosen with
# PYTHON_KEYRING_BACKEND: what a user's own plug-in looks like. It keeps secrets in a file.
PLUGIN = """
import json, os
from keyring.backend import KeyringBackend

class FileKeyring(KeyringBackend):
    priority = 1
    path = os.path.join(os.environ["HOME"], "plugin-keyring.json")

    def _load(self):
        try:
            with open(self.path) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def get_password(self, service, username):
        return self._load().get(service + "\\0" + username)

    def set_password(self, service, username, password):
        data = self._load()
        data[service + "\\0" + username] = password
        with open(self.path, "w") as f:
            json.dump(data, f)

    def delete_password(self, service, username):
        data = self._load()
        data.pop(service + "\\0" + username, None)
        with open(self.path, "w") as f:
            json.dump(data, f)
"""


def test_pythonpath_and_python_keyring_backend_work_as_with_the_usual_script(
    venv: Path, helper_env: dict[str, str], tmp_path: Path
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "launcher_test_keyring.py").write_text(PLUGIN)
    env = {
        **helper_env,
        "PYTHONPATH": str(plugins),
        "PYTHON_KEYRING_BACKEND": "launcher_test_keyring.FileKeyring",
    }
    exe = venv / "bin" / LAUNCHER
    login = '{"ServerURL": "plugin.example", "Username": "bob", "Secret": "from-the-plugin"}'
    stored, _ = run(exe, env, "store", stdin=login)
    assert stored.returncode == 0, stored
    result, _ = run(exe, env, "get", stdin="plugin.example")
    assert json.loads(result.stdout)["Secret"] == "from-the-plugin"
    assert "from-the-plugin" in (Path(env["HOME"]) / "plugin-keyring.json").read_text()


@pytest.fixture
def broken_venv(tmp_path: Path, wheel: Path) -> Iterator[Path]:
    directory = make_venv(tmp_path / "broken", wheel)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_a_broken_launcher_falls_back_to_the_usual_start(
    broken_venv: Path, helper_env: dict[str, str]
) -> None:
    version = "python{}.{}".format(*sys.version_info[:2])
    module = broken_venv / "lib" / version / "site-packages" / "docker_credential_convox"
    (module / "start_without_site.py").write_text("raise RuntimeError('a broken launcher')\n")
    result, modules = run(broken_venv / "bin" / LAUNCHER, helper_env, "get", stdin="x.example")
    assert (result.returncode, result.stdout) == (1, NOT_FOUND + "\n"), result
    assert "site" in modules
    assert "Traceback" not in result.stderr


def test_an_unreadable_interpreter_line_runs_the_usual_console_script(
    broken_venv: Path, helper_env: dict[str, str]
) -> None:
    site_script = broken_venv / "bin" / SITE_SCRIPT
    python = broken_venv / "bin" / "python"
    # pip's form for an interpreter path with spaces: the first line names /bin/sh instead.
    body = site_script.read_text().split("\n", 1)[1]
    site_script.write_text(f"#!/bin/sh\n'''exec' \"{python}\" \"$0\" \"$@\"\n' '''\n{body}")
    result, modules = run(broken_venv / "bin" / LAUNCHER, helper_env, "version")
    assert result.returncode == 0, result
    assert result.stdout.startswith("docker-credential-convox (")
    assert "site" in modules


def test_an_editable_install_falls_back_to_the_usual_start(helper_env: dict[str, str]) -> None:
    # This venv holds the package as an editable install (found through a .pth file).
    result, modules = run(Path(sys.executable).parent / LAUNCHER, helper_env, "version")
    assert result.returncode == 0, result
    assert "site" in modules


# -- the end of a hot path: no collector, no interpreter shutdown (issue 19 item 8) ----------

# A process as the launcher starts it (no `site`), with a witness whose finalizer writes to
# stderr when the interpreter shuts down as usual (module globals are cleared then).
WITNESS_PROBE = """
import gc, os, sys

class Witness:
    def __del__(self):
        os.write(2, b"SHUTDOWN\\n")

witness = Witness()
sys.argv = ["docker-credential-convox", *sys.argv[1:]]
from docker_credential_convox import cli

helper_main = cli.main

def main():
    code = helper_main()
    os.write(2, b"GC=%d\\n" % gc.isenabled())  # as the helper's request ends
    return code

cli.main = main
{before}
from docker_credential_convox.start_without_site import run
sys.exit(run([]))
"""


def run_witnessed(
    env: dict[str, str], before: str, *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of the probe running `before`, then the helper."""
    result = subprocess.run(
        [sys.executable, "-S", "-c", WITNESS_PROBE.format(before=before), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    return result.returncode, result.stdout, result.stderr


def test_a_hot_path_skips_the_collector_and_the_interpreter_shutdown(
    helper_env: dict[str, str],
) -> None:
    code, stdout, stderr = run_witnessed(helper_env, "", "get", stdin="unknown.example")
    assert (code, stdout) == (1, NOT_FOUND + "\n"), stderr
    assert "GC=0" in stderr
    assert "SHUTDOWN" not in stderr


def test_anything_left_for_atexit_gets_the_usual_shutdown(helper_env: dict[str, str]) -> None:
    before = "import atexit; atexit.register(lambda: os.write(2, b'ATEXIT\\\\n'))"
    code, stdout, stderr = run_witnessed(helper_env, before, "version")
    assert (code, stdout.startswith("docker-credential-convox (")) == (0, True), stderr
    assert "ATEXIT" in stderr
    assert "SHUTDOWN" in stderr


def test_a_path_that_loaded_site_gets_the_collector_and_the_usual_shutdown(
    helper_env: dict[str, str],
) -> None:
    # The collector goes off as the launcher prepares, and back on as `site` loads.
    before = (
        "from docker_credential_convox.start_without_site import load_site, prepare\n"
        "prepare([])\n"
        "assert not gc.isenabled()\n"
        "load_site()"
    )
    code, _, stderr = run_witnessed(helper_env, before, "version")
    assert code == 0, stderr
    assert "GC=1" in stderr
    assert "SHUTDOWN" in stderr


# -- this package's modules from their cached bytecode (issue 19 item 8) ---------------------

# Which loader loaded each of the package's modules that a request imported, one line each.
LOADERS_PROBE = """
import os, sys
sys.argv = ["docker-credential-convox", *sys.argv[1:]]
from docker_credential_convox import cli
from docker_credential_convox.start_without_site import run

helper_main = cli.main
earlier = set(sys.modules)  # loaded before the launcher prepared: the usual finders'

def main():
    code = helper_main()
    for name, module in sorted(sys.modules.items()):
        if name.startswith("docker_credential_convox.") and name not in earlier:
            loader = type(module.__spec__.loader).__name__
            os.write(2, f"LOADER {{name}} {{loader}} {{module.__file__}}\\n".encode())
    return code

cli.main = main
sys.exit(run([]))
"""


def loaders(env: dict[str, str], *args: str, stdin: str = "") -> dict[str, tuple[str, str]]:
    """Module -> (loader class, file) for the package's modules one request loaded."""
    result = subprocess.run(
        [sys.executable, "-S", "-c", LOADERS_PROBE.format(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    lines = [line.split()[1:] for line in result.stderr.splitlines() if line.startswith("LOADER")]
    return {name: (loader, file) for name, loader, file in lines}


def test_a_hot_path_runs_the_package_from_its_cached_bytecode(
    helper_env: dict[str, str],
) -> None:
    found = loaders(helper_env, "get", stdin="unknown.example")
    assert "docker_credential_convox.helper" in found
    assert {loader for loader, _ in found.values()} == {"_CachedBytecode"}
    helper_file = found["docker_credential_convox.helper"][1]
    assert helper_file == str(ROOT / "docker_credential_convox" / "helper.py")


def test_bytecode_older_than_its_source_is_not_run(
    broken_venv: Path, helper_env: dict[str, str]
) -> None:
    version = "python{}.{}".format(*sys.version_info[:2])
    package = broken_venv / "lib" / version / "site-packages" / "docker_credential_convox"
    protocol = package / "protocol.py"
    edited = protocol.read_text().replace(
        'return f"{name} ({distribution}) {version}\\n"', 'return "edited\\n"'
    )
    assert edited != protocol.read_text()
    protocol.write_text(edited)  # newer than the bytecode pip compiled, another size
    result, modules = run(broken_venv / "bin" / LAUNCHER, helper_env, "version")
    assert (result.returncode, result.stdout) == (0, "edited\n"), result
    assert "site" not in modules


def test_a_package_wins_over_a_module_of_its_name_as_with_importlib(
    broken_venv: Path, helper_env: dict[str, str]
) -> None:
    version = "python{}.{}".format(*sys.version_info[:2])
    package = broken_venv / "lib" / version / "site-packages" / "docker_credential_convox"
    assert (package / "sources" / "__init__.py").exists()
    # What a stale build directory leaves in a wheel after a module became a package.
    (package / "sources.py").write_text("raise RuntimeError('a stale module')\n")
    result, modules = run(broken_venv / "bin" / LAUNCHER, helper_env, "get", stdin="x.example")
    assert (result.returncode, result.stdout) == (1, NOT_FOUND + "\n"), result
    assert "site" not in modules


def test_the_launchers_own_directory_is_not_searched_for_modules(
    broken_venv: Path, helper_env: dict[str, str]
) -> None:
    """bin/ holds scripts, never a module of ours: the launcher takes it off sys.path before any
    import, so a file there is never run and no start lists that directory."""
    planted = broken_venv / "bin" / "__future__.py"  # what every module of the package imports
    planted.write_text("raise SystemExit('__future__ from bin/ was imported')\n")
    listed = run(broken_venv / "bin" / LAUNCHER, helper_env, "list")[0]

    assert "bin/ was imported" not in listed.stdout + listed.stderr
    assert (listed.returncode, listed.stdout) == (0, "{}\n"), listed
