"""A real `pass` store for one test: gpg with a passphrase-less key, `pass init` done.

One key is generated per session (gpg takes seconds to make one) in a GNUPGHOME of its own;
each test gets a copy of it in its own HOME (`~/.gnupg`), so the gpg-agent that `pass` starts
lives in that HOME and is killed when the test ends. No Secret Service is on the bus: nothing
here may need a keyring.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import fail_without, hermetic_env
from support_pass import SECRET_STORE, kill_agent, run_tool

# gpg-agent's socket lives in GNUPGHOME when /run/user/UID is missing: keep the path short.
MAX_GNUPGHOME_LENGTH = 70


@pytest.fixture(scope="session")
def gpg_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A GNUPGHOME holding one passphrase-less key, and the key's fingerprint."""
    fail_without("gpg", "gpgconf", "pass")
    home = Path(tempfile.mkdtemp(prefix="gpgkey-"))
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    made = run_tool(
        env,
        "gpg",
        "--batch",
        "--passphrase",
        "",
        "--quick-gen-key",
        "Convox Test <test@example.invalid>",
        "default",
        "default",
        "never",
    )
    assert made.returncode == 0, made
    listed = run_tool(env, "gpg", "--batch", "--with-colons", "--list-secret-keys")
    fingerprint = next(
        line.split(":")[9] for line in listed.stdout.splitlines() if line.startswith("fpr:")
    )
    kill_agent(home)
    yield home, fingerprint
    shutil.rmtree(home, ignore_errors=True)


def gnupg_home_for(home: Path) -> Path:
    """Where a test's gpg keeps its keys: in its HOME, unless that path is too long for a
    socket (then a short directory of its own, removed with the test)."""
    inside = home / ".gnupg"
    if len(str(inside)) <= MAX_GNUPGHOME_LENGTH:
        return inside
    return Path(tempfile.mkdtemp(prefix="gnupg-"))


@pytest.fixture
def pass_env(tmp_path: Path, gpg_key: tuple[Path, str]) -> Iterator[dict[str, str]]:
    """A fresh HOME with an initialised `pass` store (~/.password-store) and the helper set to
    keep its secrets there; no Secret Service anywhere."""
    template, fingerprint = gpg_key
    home = tmp_path / "home"
    home.mkdir()
    (home / ".docker").mkdir()
    gnupg = gnupg_home_for(home)
    shutil.copytree(
        template, gnupg, ignore=shutil.ignore_patterns("S.*", "*.lock"), dirs_exist_ok=True
    )
    gnupg.chmod(0o700)
    env = hermetic_env(home, {"GNUPGHOME": str(gnupg), SECRET_STORE: "pass"})
    try:
        initialised = run_tool(env, "pass", "init", fingerprint)
        assert initialised.returncode == 0, initialised
        yield env
    finally:
        kill_agent(gnupg)
        if gnupg.parent != home:
            shutil.rmtree(gnupg, ignore_errors=True)
