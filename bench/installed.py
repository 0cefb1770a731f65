"""The helper as installed: the hot paths again, without the editable-install hook."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from bench.base import (
    BENCH_DIR,
    ECR_HOST,
    KEYRING_GET,
    MOTO_PASSWORD,
    PYTHON,
    REGISTRY,
    REGISTRY_SECRET,
    TARGETS,
    Bench,
    Row,
    run,
)
from bench.timing import Command


def installed_layout(bench: Bench) -> None:
    """Time the hot paths again in a venv laid out like a regular (non-editable) install.

    `pip install -e` leaves a .pth hook in .venv that runs on every interpreter start-up
    (pathlib, re, urllib.parse and importlib.util imported for it); a user's install has
    none. This venv uses the same interpreter and the same libraries (.venv's site-packages
    on its path), our package as a plain directory, and the console script pip writes.
    """
    python, helper = bench.installed = make_installed_layout(bench.root / "installed")
    direct, _ = bench.ecr_envs()
    run([str(helper), "get"], direct, ECR_HOST)
    bench.require_cache_hit(helper, direct)
    keyring_env = bench.home("keyring")
    cache = bench.settings(direct).token_cache_path
    commands = [
        Command("installed: python -c pass", bench.python("pass", python), direct),
        Command(
            "installed: convox version",
            bench.helper("version", None, helper),
            direct,
            None,
            "convox",
        ),
        Command(
            "installed: convox get (ECR, cached)",
            bench.helper("get", bench.stdin(ECR_HOST), helper),
            direct,
            expect=MOTO_PASSWORD,
        ),
        Command(
            "installed: convox get (keyring)",
            bench.helper("get", bench.stdin(REGISTRY), helper),
            keyring_env,
            expect=REGISTRY_SECRET,
        ),
        Command(
            "installed: cache-read floor",
            bench.python(f"import json\njson.load(open({cache!r}))", python),
            direct,
        ),
        Command(
            "installed: keyring floor",
            bench.python(KEYRING_GET, python),
            keyring_env,
            expect=REGISTRY_SECRET,
        ),
    ]
    passing, version, cached, keyring, cache_floor, keyring_floor = bench.timer.group(commands)
    bench.floor(
        "`python -c pass`, installed layout",
        passing,
        "the same interpreter in a venv without the editable-install hook",
    )
    bench.installed_cached, bench.installed_cache_floor = cached, cache_floor
    bench.installed_rows = [
        Row("`version`", version, None, "", passing, "`python -c pass`"),
        Row(
            "`get`, ECR, token cached",
            cached,
            bench.go_cached,
            "ecr-login",
            cache_floor,
            "Python + json read",
        ),
        Row(
            "`get`, keyring registry",
            keyring,
            None,
            "",
            keyring_floor,
            "Python + keyring",
        ),
    ]
    bench.verdict(
        "ecr-cached",
        TARGETS["ecr-cached"][0] + ", helper installed without the editable hook",
        cached,
        bench.go_cached,
    )


def make_installed_layout(directory: Path) -> tuple[Path, Path]:
    """A venv sharing .venv's interpreter and libraries, with our package installed plainly.

    Returns its python and its docker-credential-convox script.
    """
    import docker_credential_convox

    subprocess.run([str(PYTHON), "-m", "venv", "--without-pip", str(directory)], check=True)
    python = directory / "bin" / "python"
    purelib = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], {}
        ).strip()
    )
    libraries = Path(sysconfig.get_paths()["purelib"])
    # A path line only adds the directory: .venv's own .pth files (the hook) are not run.
    (purelib / "00-libraries.pth").write_text(f"{libraries}\n")
    precedence = libraries / "distutils-precedence.pth"  # what a venv with setuptools has
    if precedence.exists():
        shutil.copy(precedence, purelib / precedence.name)
    package = Path(docker_credential_convox.__file__).parent
    (purelib / package.name).symlink_to(package, target_is_directory=True)
    # What pip installs: the launcher (packaging/launchers/) and the console script beside it.
    site_script = directory / "bin" / "docker-credential-convox-site"
    site_script.write_text(
        f"#!{python}\n"
        "import sys\n"
        "from docker_credential_convox.cli import main\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n"
        "    sys.exit(main())\n"
    )
    site_script.chmod(0o755)
    script = directory / "bin" / "docker-credential-convox"
    shutil.copy(BENCH_DIR.parent / "packaging" / "launchers" / script.name, script)
    script.chmod(0o755)
    return python, script


def pip_installed(directory: Path, tree: Path = BENCH_DIR.parent) -> tuple[Path, Path]:
    """A venv holding the wheel of `tree` (this checkout by default), installed by pip (not
    editable) as users do, beside .venv's copies of its runtime dependencies (linked: no
    network needed) and nothing else: site-packages as big as a user's, which every start
    lists. Its python and its launcher."""
    wheels = directory / "wheel"
    # From a copy: setuptools reuses the tree's build/ directory, where a module since moved
    # or deleted would ride along into the wheel.
    source = directory / "source"
    leave_out = shutil.ignore_patterns("build", "dist", ".venv", ".git", "*.egg-info", "*.pyc")
    shutil.copytree(tree, source, ignore=leave_out)
    subprocess.run(
        [
            *(str(PYTHON), "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"),
            *("--no-index", "-w", str(wheels), str(source)),
        ],
        check=True,
        capture_output=True,
    )
    venv = directory / "venv"
    subprocess.run([str(PYTHON), "-m", "venv", "--without-pip", str(venv)], check=True)
    version = "python{}.{}".format(*sys.version_info[:2])
    theirs = venv / "lib" / version / "site-packages"
    ours = Path(sysconfig.get_paths()["purelib"])
    for name in runtime_entries("docker-credential-convox"):
        if (ours / name).exists() and not (theirs / name).exists():
            (theirs / name).symlink_to(ours / name)
    python = venv / "bin" / "python"
    pip = [str(PYTHON), "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
    subprocess.run([*pip, "--no-index", str(next(wheels.glob("*.whl")))], check=True)
    return python, venv / "bin" / "docker-credential-convox"


def runtime_entries(project: str) -> set[str]:
    """The top-level site-packages entries (packages, modules, .dist-info) of `project`'s
    runtime dependencies, transitively, as installed here; `project` itself left out."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: set[str] = set()
    entries: set[str] = set()
    todo = [project]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for line in distribution.requires or ():
            requirement = Requirement(line)
            # No extras: a marker names one only for an optional dependency.
            if requirement.marker is None or requirement.marker.evaluate():
                todo.append(requirement.name)
        if name != project:
            entries |= {Path(str(path)).parts[0] for path in distribution.files or ()}
    return {entry for entry in entries if entry not in ("..", "__pycache__")}
