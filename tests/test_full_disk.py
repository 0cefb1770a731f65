"""Logging out on a full disk (issue 17, item 11): `erase` must succeed without writing anything
new, so a user whose disk filled up can still remove a login.

The disk is real: a 1 MiB tmpfs mounted on the helper's configuration directory inside a mount
namespace of its own (`unshare -m`, so nothing outside sees it), filled until a write fails with
ENOSPC. Needs root (mount); skipped with the reason otherwise. The secrets live in the session's
real Secret Service, outside the full file system.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from support import HELPER, NOT_FOUND, keyring_usernames

# Runs inside the mount namespace: mount, store, fill, then the actions under test. Prints one
# JSON document: each action's (returncode, stdout, stderr), and whether the disk really was full.
DRIVER = r"""
import errno, json, os, subprocess, sys

helper, config_dir, requests, erased, kept = sys.argv[1:6]
subprocess.run(
    ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", config_dir], check=True
)

def run(action, stdin):
    done = subprocess.run([helper, action], input=stdin.encode(), capture_output=True)
    return [done.returncode, done.stdout.decode(), done.stderr.decode()]

results = {"store": [run("store", request) for request in json.loads(requests)]}
filler = os.open(os.path.join(config_dir, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
try:
    while True:
        os.write(filler, b"\0" * 4096)
except OSError as exc:
    results["filled"] = exc.errno == errno.ENOSPC
os.close(filler)
try:  # a new file's first byte needs a page: there is none
    with open(os.path.join(config_dir, "probe"), "w") as probe:
        probe.write("x")
    results["full"] = False
except OSError as exc:
    results["full"] = exc.errno == errno.ENOSPC
results["erase"] = run("erase", erased)
results["get erased"] = run("get", erased)
results["get kept"] = run("get", kept)
results["list"] = run("list", "")
print(json.dumps(results))
"""

NAMESPACE = ["unshare", "-m", "--propagation", "private"]  # a mount namespace of its own


def _cannot_mount(where: Path) -> str:
    """Why a tmpfs cannot be mounted on `where` in a mount namespace here ("" when it can)."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)]
    probe = subprocess.run([*NAMESPACE, *mount], capture_output=True, check=False)
    if probe.returncode != 0:
        return f"no tmpfs in a mount namespace here: {probe.stderr.decode().strip()}"
    return ""


def test_erase_on_a_full_disk_succeeds_and_the_login_is_gone(
    helper_env: dict[str, str], tmp_path: Path
) -> None:
    reason = _cannot_mount(tmp_path)
    if reason:
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:10]
    erased, kept = f"full-{tag}.example", f"kept-{tag}.example"
    requests = [
        json.dumps({"ServerURL": server, "Username": "alice", "Secret": f"pw-{server}"})
        for server in (erased, kept)
    ]
    config_dir = Path(helper_env["XDG_CONFIG_HOME"]) / "docker-credential-convox"
    config_dir.mkdir(parents=True)

    arguments = [str(HELPER), str(config_dir), json.dumps(requests), erased, kept]
    driven = subprocess.run(
        [*NAMESPACE, sys.executable, "-c", DRIVER, *arguments],
        capture_output=True,
        text=True,
        env=helper_env,
        timeout=120,
        check=False,
    )
    assert driven.returncode == 0, driven
    results = json.loads(driven.stdout)
    print(json.dumps(results, indent=1))

    assert [rc for rc, _, _ in results["store"]] == [0, 0], results["store"]
    assert results["filled"]
    assert results["full"]  # really full: no new file can be written
    assert results["erase"][0] == 0, results["erase"]
    assert results["erase"][1] == ""
    assert "Traceback" not in results["erase"][2]
    assert results["get erased"][:2] == [1, NOT_FOUND + "\n"], results["get erased"]
    assert json.loads(results["get kept"][1])["Secret"] == f"pw-{kept}"
    assert json.loads(results["list"][1]) == {kept: "alice"}
    # Straight from the Secret Service: the secret is gone, the other one kept.
    assert keyring_usernames(helper_env, erased) == []
    assert keyring_usernames(helper_env, kept) == ["alice"]
