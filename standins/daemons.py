"""Clients that need more than a CLI: a Docker daemon of our own, podman and buildah, on loopback.

`DockerDaemon` runs Debian's `dockerd` (20.10, with its built-in BuildKit) as root inside a
loopback-only namespace: no bridge, no iptables, its socket, data, state, trust key and the
containerd it starts for itself all under one directory. Stopping it stops exactly the process
it started (and that containerd, should dockerd die first). `Podman` runs podman or buildah
against storage of its own (the `vfs` driver: nothing is mounted, so nothing outlives a run).

`HelperCallLog` is the observation point for "which registry was the helper asked for" when the
asker is a daemon (whose stderr nobody sees): a logging shim first on PATH that records the
action and server URL (never a secret) and runs the real helper with the same stdin.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from standins import StandInError
from standins.environment import minimal_environ
from standins.processes import stop_process

DAEMON_STARTUP_TIMEOUT_SECONDS = 60.0
DAEMON_STOP_TIMEOUT_SECONDS = 30.0
# Debian's docker.io installs the 20.10 client here; the CLI 28 on PATH lacks BuildKit (buildx).
DOCKER_20_CLIENT = "/usr/bin/docker"
DOCKER_TOOLS = ("dockerd", "containerd", "runc", "docker", DOCKER_20_CLIENT)
# dockerd creates this plugin-socket directory whatever its flags say.
DOCKERD_PLUGIN_DIR = Path("/run/docker/plugins")


def _mounts_under(directory: Path) -> list[str]:
    """Mount points at or below `directory`, deepest first."""
    prefix = str(directory)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(points, key=len, reverse=True)


class DockerDaemon:
    """A dockerd of our own: its socket, its directories, the processes it started."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.pidfile = root / "dockerd.pid"
        self.log = root / "dockerd.log"
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.created_plugin_dir = not DOCKERD_PLUGIN_DIR.parent.exists()

    @property
    def host(self) -> str:
        """The DOCKER_HOST value that reaches this daemon."""
        return f"unix://{self.socket}"

    def argv(self) -> list[str]:
        config = self.root / "daemon.json"
        # The trust key would go to /etc/docker/key.json; 20.10 moves it only through the file.
        config.write_text(json.dumps({"deprecated-key-path": str(self.root / "key.json")}))
        return [
            "dockerd",
            f"--host={self.host}",
            f"--config-file={config}",
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.pidfile}",
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            # The containerd it starts is its own, but keep its namespaces apart all the same.
            "--containerd-namespace=dccx-tests",
            "--containerd-plugins-namespace=dccx-tests-plugins",
        ]

    def start(self) -> DockerDaemon:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=minimal_environ(self.root),
            )
        deadline = time.monotonic() + DAEMON_STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self.answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise StandInError(f"dockerd did not become ready; log:\n{self.log.read_text()[-4000:]}")

    def answers(self) -> bool:
        """Whether the daemon answers `docker version` with its server part."""
        result = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            env={**minimal_environ(self.root), "DOCKER_HOST": self.host},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return result.returncode == 0 and bool(result.stdout.strip())

    def _containerd_pid(self) -> Optional[int]:
        pidfile = self.root / "exec" / "containerd" / "containerd.pid"
        with contextlib.suppress(OSError, ValueError):
            return int(pidfile.read_text().strip())
        return None

    def stop(self) -> None:
        """SIGTERM to dockerd (which stops its containerd), SIGKILL to either if it lingers."""
        containerd = self._containerd_pid()
        stop_process(self.process, DAEMON_STOP_TIMEOUT_SECONDS)
        if containerd is not None and _is_our_containerd(containerd, self.root):
            with contextlib.suppress(ProcessLookupError):
                os.kill(containerd, signal.SIGKILL)
        for point in _mounts_under(self.root):
            subprocess.run(["umount", "--lazy", point], check=False, capture_output=True)
        if self.created_plugin_dir:
            with contextlib.suppress(OSError):
                DOCKERD_PLUGIN_DIR.rmdir()
                DOCKERD_PLUGIN_DIR.parent.rmdir()


def _is_our_containerd(pid: int, root: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace")
    except OSError:
        return False
    return "containerd" in cmdline and str(root) in cmdline


class Podman:
    """podman or buildah with storage, run state and temp files under one directory."""

    def __init__(self, root: Path) -> None:
        # podman refuses a runroot longer than 50 characters: keep `root` short (under /tmp).
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def podman(self, *args: str) -> list[str]:
        storage = self.root / "podman"
        return [
            "podman",
            f"--root={storage / 'root'}",
            f"--runroot={storage / 'run'}",
            f"--tmpdir={storage / 'tmp'}",
            # vfs copies layers instead of mounting them: nothing to unmount after the test.
            "--storage-driver=vfs",
            # No systemd or journald here: plain cgroupfs and an events file of our own.
            "--cgroup-manager=cgroupfs",
            "--events-backend=file",
            *args,
        ]

    def buildah(self, *args: str) -> list[str]:
        storage = self.root / "buildah"
        return [
            "buildah",
            f"--root={storage / 'root'}",
            f"--runroot={storage / 'run'}",
            "--storage-driver=vfs",
            *args,
        ]

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` plus what keeps podman and buildah inside this directory."""
        runtime = self.root / "xdg-run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        temp = self.root / "tmp"
        temp.mkdir(exist_ok=True)
        registries_conf = self.root / "registries.conf"
        if not registries_conf.exists():
            # The default lookup, spelled out: auth files only (Docker's config.json among them).
            registries_conf.write_text('credential-helpers = ["containers-auth.json"]\n')
        # A developer's CONTAINERS_CONF, CONTAINERS_STORAGE_CONF... must not reach the test.
        kept = {name: value for name, value in base.items() if not name.startswith("CONTAINERS_")}
        return {
            **kept,
            "XDG_RUNTIME_DIR": str(runtime),
            "TMPDIR": str(temp),
            "CONTAINERS_REGISTRIES_CONF": str(registries_conf),
        }


# The shim: records `ACTION SERVER` and runs the real helper with the same stdin and argv.
SHIM = """\
#!{python} -S
# A logging shim for tests: an observation point, not a fake. It records which action was asked
# for which server (never a secret) and runs the real helper with the same argv and stdin.
import json, subprocess, sys
data = sys.stdin.buffer.read()
action = sys.argv[1] if len(sys.argv) > 1 else ""
server = data.decode("utf-8", "replace").strip()
if action == "store":
    try:
        server = str(json.loads(data).get("ServerURL"))
    except ValueError:
        server = "?"
elif action not in ("get", "erase"):
    server = ""
with open({log!r}, "a") as log:
    log.write(action + " " + server + "\\n")
sys.exit(subprocess.run([{helper!r}, *sys.argv[1:]], input=data).returncode)
"""


class HelperCallLog:
    """A directory to put first on PATH whose helper records each call, then runs the real one."""

    def __init__(self, directory: Path, helper: Path) -> None:
        self.directory = directory
        self.log = directory / "calls.log"
        directory.mkdir(parents=True, exist_ok=True)
        shim = directory / "docker-credential-convox"
        shim.write_text(SHIM.format(python=sys.executable, log=str(self.log), helper=str(helper)))
        shim.chmod(0o755)

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with the shim first on PATH."""
        return {**base, "PATH": f"{self.directory}{os.pathsep}{base['PATH']}"}

    def calls(self) -> list[tuple[str, str]]:
        """(action, server) of every call so far, in order."""
        if not self.log.exists():
            return []
        lines = self.log.read_text().splitlines()
        return [(line.split(" ", 1)[0], line.split(" ", 1)[1]) for line in lines]

    def servers_asked(self, action: str = "get") -> set[str]:
        """Every server the helper was asked about with `action`."""
        return {server for called, server in self.calls() if called == action}

    def clear(self) -> None:
        """Forget the calls so far."""
        self.log.unlink(missing_ok=True)
