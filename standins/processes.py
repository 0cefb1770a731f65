"""Starting, waiting for and stopping the processes of the stand-ins; loopback ports and HTTP."""

from __future__ import annotations

import base64
import socket
import subprocess
import time
import urllib.error
import urllib.request
from typing import Callable, Optional

from standins import StandInError

STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.05


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def accepts_connections(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def no_proxy_opener() -> urllib.request.OpenerDirector:
    """urllib without proxies: an http_proxy in the environment must never see loopback traffic."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def basic_auth(username: str, password: str) -> str:
    """The value of an HTTP basic `Authorization` header."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def http_status(request: urllib.request.Request, timeout: float = 5) -> int:
    """The HTTP status `request` is answered with (OSError while nothing listens)."""
    try:
        with no_proxy_opener().open(request, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def answers_http(url: str) -> bool:
    """Whether GET `url` answers 200."""
    try:
        return http_status(urllib.request.Request(url), timeout=2) == 200
    except OSError:
        return False


def wait_until(
    what: str,
    ready: Callable[[], bool],
    process: Optional[subprocess.Popen[bytes]] = None,
    timeout: float = STARTUP_TIMEOUT_SECONDS,
) -> None:
    """Poll `ready` until it holds; StandInError if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if process is not None and process.poll() is not None:
            raise StandInError(f"{what} exited with status {process.returncode} while starting")
        time.sleep(POLL_SECONDS)
    raise StandInError(f"{what} was not ready after {timeout:.0f} s")


def stop_process(
    process: Optional[subprocess.Popen[bytes]], timeout: float = STOP_TIMEOUT_SECONDS
) -> None:
    """Stop the one process we started: SIGTERM, then SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)
