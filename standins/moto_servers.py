"""moto on 127.0.0.1: moto_server for the helper's AWS calls, moto_proxy for HTTPS interception.

`start_moto_server` runs moto_server on a free loopback port, either as moto ships it (the tests'
counting proxy gives tokens their lifetime) or through moto_patched.py, whose ECR tokens expire
12 hours from now as real ones do (the bench and the demo). `start_moto_proxy` runs moto_proxy,
for clients without an endpoint override (docker-credential-ecr-login). Each stops exactly the
process it started.
"""

from __future__ import annotations

import contextlib
import functools
import subprocess
import sys
from pathlib import Path
from typing import Optional

from standins import StandInError
from standins.environment import scrubbed_environ
from standins.processes import (
    accepts_connections,
    answers_http,
    free_loopback_port,
    stop_process,
    wait_until,
)

MOTO_PATCHED = Path(__file__).resolve().parent / "moto_patched.py"
START_ATTEMPTS = 3


class MotoProcess:
    """A running moto_server or moto_proxy: its URL, its log and the one process started."""

    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log
        self.ca_bundle = ""  # moto_proxy's CA, for AWS_CA_BUNDLE

    def stop(self) -> None:
        """Stop exactly the process started for this."""
        stop_process(self.process)

    def proxied_token_requests(self) -> int:
        """How many ECR API requests moto_proxy has logged so far."""
        with contextlib.suppress(FileNotFoundError):
            return self.log.read_text(errors="replace").count("api.ecr.")
        return 0


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=scrubbed_environ(),
            start_new_session=True,  # a Ctrl-C reaches the owner, which stops it
        )


def start_moto_server(workdir: Path, expiring_tokens: bool = False) -> MotoProcess:
    """moto_server on a free loopback port; its ECR tokens 12 h ahead if `expiring_tokens`."""
    launcher = [str(MOTO_PATCHED), "server"] if expiring_tokens else ["-m", "moto.server"]
    last: Optional[MotoProcess] = None
    for attempt in range(START_ATTEMPTS):
        port = free_loopback_port()
        log = workdir / f"moto_server-{attempt}.log"
        argv = [sys.executable, *launcher, "-H", "127.0.0.1", "-p", str(port)]
        server = last = MotoProcess(f"http://127.0.0.1:{port}", _spawn(argv, log), log)
        with contextlib.suppress(StandInError):  # lost the port, or too slow: try another
            wait_until(
                "moto_server", functools.partial(answers_http, server.url + "/"), server.process
            )
            return server
        server.stop()
    raise StandInError(f"moto_server did not start; see {last.log if last else workdir}")


def start_moto_proxy(workdir: Path) -> MotoProcess:
    """moto_proxy (ECR tokens 12 h ahead) on a free loopback port, its certificates in `workdir`."""
    port = free_loopback_port()
    log = workdir / "moto_proxy.log"
    argv = [sys.executable, str(MOTO_PATCHED), "proxy", "--certdir", str(workdir / "certs")]
    proxy = MotoProcess(
        f"http://127.0.0.1:{port}", _spawn([*argv, "-H", "127.0.0.1", "-p", str(port)], log), log
    )
    try:
        wait_until("moto_proxy", lambda: accepts_connections(port), proxy.process)
    except BaseException:
        proxy.stop()
        raise
    from moto.moto_proxy.certificate_creator import CertificateCreator

    proxy.ca_bundle = CertificateCreator.cacert
    return proxy
