"""When stdout cannot be written (closed, a full disk, a reader that went away), every action
still runs exactly once and ends with one line on stderr and a non-zero exit, never a traceback.

The installed executable is run with its stdout closed (`>&-`), on /dev/full, and into a pipe
whose reader has already gone (what `| true` does once `true` exits). In this venv the installed
command is an editable install; the launcher a wheel install gets (pip, pipx), which ran the
helper a second time when the first run raised, is built as tests/test_start_without_site.py
builds it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from support import HELPER, NOT_FOUND, hermetic_env, run_helper_in
from test_start_without_site import LAUNCHER, make_venv, wheel  # noqa: F401 - `wheel` is a fixture

from standins.secret_service import SecretService

SERVER = "registry.example.com:5000"
USERNAME = "alice"
PASSWORD = "s3cret-password"
HOW = ("closed", "full", "pipe")


@pytest.fixture(scope="module")
def wheel_launcher(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:  # noqa: F811
    """The command a `pip install` of this tree's wheel writes into a venv."""
    return make_venv(tmp_path_factory.mktemp("output") / "venv", wheel) / "bin" / LAUNCHER


@pytest.fixture(params=["installed", "wheel"])
def executable(request: pytest.FixtureRequest) -> Iterator[Path]:
    if request.param == "installed":
        yield HELPER
        return
    if os.environ.get("DCCX_HELPER"):
        pytest.skip("an installed artifact is under test: its own command is the one that counts")
    yield request.getfixturevalue("wheel_launcher")


def run_without_stdout(
    exe: Path, env: Mapping[str, str], how: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `exe ARGS` with its stdout closed, on /dev/full, or into a pipe nobody reads."""
    argv = [str(exe), *args]
    if how == "closed":
        argv = ["sh", "-c", 'exec "$@" >&-', "sh", *argv]
        return subprocess.run(
            argv,
            check=False,
            input=stdin,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env),
            timeout=60,
        )
    if how == "full":
        with open("/dev/full", "w") as full:
            return subprocess.run(
                argv,
                input=stdin,
                check=False,
                stdout=full,
                stderr=subprocess.PIPE,
                text=True,
                env=dict(env),
                timeout=60,
            )
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before the helper writes a byte
    try:
        return subprocess.run(
            argv,
            input=stdin,
            check=False,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env),
            timeout=60,
        )
    finally:
        os.close(writer)


def assert_one_line_about_stdout(result: subprocess.CompletedProcess[str]) -> None:
    """Exit non-zero, one line on stderr saying stdout could not be written, nothing else."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    assert "Exception ignored" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "stdout" in lines[0], result.stderr


def store(env: Mapping[str, str]) -> None:
    payload = json.dumps({"ServerURL": SERVER, "Username": USERNAME, "Secret": PASSWORD})
    assert run_helper_in(env, "store", stdin=payload).returncode == 0


def credentials(env: Mapping[str, str]) -> object:
    result = run_helper_in(env, "get", stdin=SERVER)
    if result.stdout.strip() == NOT_FOUND:
        return None
    return json.loads(result.stdout)


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (("version",), ""),
        (("--help",), ""),
        (("get",), SERVER),
        (("list",), ""),
        (("registries", "list"), ""),
    ],
    ids=["version", "help", "get", "list", "registries-list"],
)
def test_an_action_whose_output_cannot_be_written_says_so_in_one_line(
    helper_env: dict[str, str], executable: Path, how: str, args: tuple[str, ...], stdin: str
) -> None:
    store(helper_env)
    result = run_without_stdout(executable, helper_env, how, *args, stdin=stdin)
    assert_one_line_about_stdout(result)


@pytest.mark.parametrize("how", HOW)
def test_a_get_of_an_unknown_registry_without_stdout_says_so_in_one_line(
    helper_env: dict[str, str], executable: Path, how: str
) -> None:
    result = run_without_stdout(executable, helper_env, how, "get", stdin="unknown.example.com")
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr
    assert "Exception ignored" not in result.stderr
    assert [line for line in result.stderr.splitlines() if "stdout" in line], result.stderr


@pytest.mark.parametrize("how", HOW)
def test_registries_add_without_stdout_stores_once_and_says_so_in_one_line(
    helper_env: dict[str, str],
    executable: Path,
    how: str,
    tmp_path: Path,
    secret_service: SecretService,
) -> None:
    result = run_without_stdout(
        executable,
        helper_env,
        how,
        *("registries", "add", SERVER, "--no-verify", "--username", USERNAME),
        "--password-stdin",
        stdin=PASSWORD,
    )
    assert "must not be blank" not in result.stderr  # a second run found stdin used up
    lines = result.stderr.splitlines()
    assert_one_line_about_stdout(
        subprocess.CompletedProcess(result.args, result.returncode, None, lines[-1] + "\n")
    )
    assert "Traceback" not in result.stderr
    assert "Exception ignored" not in result.stderr
    baseline_home = tmp_path / "baseline"
    (baseline_home / ".docker").mkdir(parents=True)
    normal = run_helper_in(
        hermetic_env(baseline_home, secret_service.env),
        *("registries", "add", "other.example.com", "--no-verify", "--username", USERNAME),
        "--password-stdin",
        stdin=PASSWORD,
    )
    # Whatever notes an add prints on stderr, then the one line about stdout; nothing twice.
    assert len(lines) == len(normal.stderr.splitlines()) + 1, (result.stderr, normal.stderr)
    assert credentials(helper_env) == {
        "ServerURL": SERVER,
        "Username": USERNAME,
        "Secret": PASSWORD,
    }
    listing = run_helper_in(helper_env, "list")
    assert json.loads(listing.stdout) == {SERVER: USERNAME}


@pytest.mark.parametrize("how", HOW)
def test_registries_remove_without_stdout_removes_once_and_says_so_in_one_line(
    helper_env: dict[str, str], executable: Path, how: str
) -> None:
    store(helper_env)
    result = run_without_stdout(executable, helper_env, how, "registries", "remove", SERVER)
    assert "no such registry" not in result.stderr  # a second run found it gone
    # remove's own report (on stderr, so it is written) comes once, then the one line
    report, *rest = result.stderr.splitlines(keepends=True)
    assert report == f"Removed 1 entry for {SERVER}.\n", result.stderr
    assert_one_line_about_stdout(
        subprocess.CompletedProcess(result.args, result.returncode, result.stdout, "".join(rest))
    )
    assert credentials(helper_env) is None


@pytest.mark.parametrize("how", HOW)
def test_store_and_erase_write_nothing_so_a_closed_or_full_stdout_changes_nothing(
    helper_env: dict[str, str], executable: Path, how: str
) -> None:
    payload = json.dumps({"ServerURL": SERVER, "Username": USERNAME, "Secret": PASSWORD})
    stored = run_without_stdout(executable, helper_env, how, "store", stdin=payload)
    assert (stored.returncode, stored.stderr) == (0, ""), stored
    assert credentials(helper_env) == {
        "ServerURL": SERVER,
        "Username": USERNAME,
        "Secret": PASSWORD,
    }
    erased = run_without_stdout(executable, helper_env, how, "erase", stdin=SERVER)
    assert (erased.returncode, erased.stderr) == (0, ""), erased
    assert credentials(helper_env) is None
