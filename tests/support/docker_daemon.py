"""The session's Docker daemon (standins.daemons.DockerDaemon), for the daemon and BuildKit tests.

`docker_daemon` starts Debian's `dockerd` once per session, as root inside the suite's
loopback-only namespace, and stops exactly what it started. Without root or the tools it skips
(fails in CI).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from standins.daemons import DOCKER_TOOLS, DockerDaemon
from support import require_tools

__all__ = ["docker_daemon"]


@pytest.fixture(scope="session")
def docker_daemon() -> Iterator[DockerDaemon]:
    """Debian's dockerd on a socket of its own, for the whole session; stopped at the end."""
    require_tools(*DOCKER_TOOLS)
    if os.geteuid() != 0:
        message = "dockerd needs root (the suite runs as root in CI)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    # Short, under /tmp: containerd's sockets live in here (Unix socket paths stop at 107 bytes).
    root = Path(tempfile.mkdtemp(prefix="dccx-dockerd-"))
    daemon = DockerDaemon(root)
    try:
        yield daemon.start()
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)
