"""An AWS emulator on 127.0.0.1 for the ECR tests: moto_server, seen through a counting proxy.

- `moto_server` (session): moto_server as moto ships it (standins.moto), ready when `GET /`
  answers; stops exactly the process it started.
- `aws_proxy` (per test, reset): standins.aws_proxy.AwsProxy, the counting, token-dating,
  fault-injecting proxy in front of moto. Every AWS call the helper makes goes through it (the
  `ecr_env` endpoints point there).
- `ecr_env` / `ecr_environ`: `helper_env` with every AWS endpoint on the proxy, as a mapping or
  as this process's os.environ.
Test modules load these fixtures with `pytest_plugins = ["support.aws_emulator"]`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from standins import StandInError
from standins.aws_proxy import AwsProxy, Call
from standins.environment import endpoint_env
from standins.moto_servers import MotoProcess, start_moto_server
from support import set_environ

__all__ = [
    "AwsProxy",
    "Call",
    "aws_proxy",
    "aws_proxy_server",
    "ecr_env",
    "ecr_environ",
    "moto_server",
]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoProcess]:
    """moto_server on 127.0.0.1 as moto ships it (the proxy dates tokens), once per session."""
    with tempfile.TemporaryDirectory(prefix="dccx-moto-") as workdir:
        try:
            server = start_moto_server(Path(workdir))
        except StandInError as exc:
            pytest.fail(f"{exc}: install the test extras (pip install -e '.[test]')")
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def aws_proxy_server(moto_server: MotoProcess) -> Iterator[AwsProxy]:
    """The counting proxy, once per session (tests use `aws_proxy`, which resets it)."""
    proxy = AwsProxy(moto_server.url).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def aws_proxy(aws_proxy_server: AwsProxy) -> Iterator[AwsProxy]:
    """The counting proxy in front of moto, with counters and faults cleared for this test."""
    aws_proxy_server.reset()
    yield aws_proxy_server
    aws_proxy_server.reset()


@pytest.fixture
def ecr_env(helper_env: dict[str, str], aws_proxy: AwsProxy) -> dict[str, str]:
    """`helper_env` with every AWS endpoint on the counting proxy (fake keys, no metadata)."""
    return {**helper_env, **endpoint_env(aws_proxy.url)}


@pytest.fixture
def ecr_environ(
    ecr_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """`ecr_env` as this process's os.environ, for in-process tests; restored afterwards."""
    with monkeypatch.context() as patch:
        set_environ(patch, ecr_env)
        yield ecr_env
