"""`make demo`'s script runs end to end here too, so CI proves every step of the story."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scripts" / "demo.sh"
VENV = Path(sys.executable).parent.parent


@pytest.mark.clients
def test_demo_walks_through_every_step_and_cleans_up(tmp_path: Path) -> None:
    env = {**os.environ, "VENV": str(VENV), "TMPDIR": str(tmp_path)}

    result = subprocess.run(
        [str(DEMO)], env=env, capture_output=True, text=True, timeout=300, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Demo finished: every step passed." in result.stdout
    for step in (
        "registries add 127.0.0.1:",
        "skopeo --policy",
        "docker manifest inspect --insecure",
        "dkr.ecr.us-east-1.amazonaws.com --username AKIAI44QH8DHBEXAMPLE --password-stdin",
        "docker-credential-convox: debug: ",  # docker pull ran the helper's get
        '"Username": "AWS"',
        "registries doctor",
        "No problems found.",
        "problem: docker: no credential helper is named for 123456789012.dkr.ecr.eu-west-1",
        "problem: minting: ",
        "registries remove",
        "no basic auth credentials",
        # the fleet chapter: shared once, two machines pull, follow a rotation, are refused
        "--shared --username",
        "shared in secretsmanager:docker-credential-convox/demo",
        "machine 1 pulls from an attempt",
        "machine 2 pulls from an attempt",
        "were refused: the cached password was the old one",
        "machine 1 refused from an attempt",
        "machine 2 refused from an attempt",
        "credentials not found in native keychain",
    ):
        assert step in result.stdout, step
    # The ECR user's, the operator's and the machines' secret access keys.
    for secret in ("je7MtGbClwBF", "wJalrXUtnFEMI", "fleetMachineRoleSecretKey"):
        assert secret not in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []  # its temporary directory is gone
    assert processes_naming(tmp_path) == []  # and so is every process it started


def processes_naming(directory: Path) -> list[str]:
    """Command lines of running processes that name `directory` (the demo's stand-ins do)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it ended meanwhile
            continue
        if str(directory) in command:
            found.append(command.strip())
    return found
