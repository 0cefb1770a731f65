"""An AWS emulator on 127.0.0.1 for the ECR tests: moto_server, seen through a counting proxy.

- `moto_server` (session): the venv's `moto_server -H 127.0.0.1 -p PORT`, ready when `GET /`
  answers; stops exactly the process it started.
Test modules load these fixtures with `pytest_plugins = ["fixtures_aws"]` and import nothing
from here at run time (only `AwsProxy` for type checking), so pytest can load this module itself.

- `aws_proxy` (per test, reset): `AwsProxy`, a small reverse proxy of our own on 127.0.0.1 in
  front of moto. Every AWS call the helper makes goes through it (the `ecr_env` endpoints point
  there), so it can
  * count calls per operation (`ecr:GetAuthorizationToken`, `sts:AssumeRole`, ...) and record
    which access key ID, region and service signed each one (SigV4's credential scope);
  * give ECR tokens a real lifetime: moto's `expiresAt` is fixed at 2015-01-01, so by default the
    proxy rewrites it to `expires_in` seconds from now (`expires_in = None` passes moto's through),
    and it numbers each token (`AWS:<moto password>-<n>`) so that two mints never look alike;
  * answer ECR Public's GetAuthorizationToken itself. STAND-IN: moto 5.2 does not implement
    `ecr-public`, so this is a local imitation of the service's JSON reply, not an emulator;
  * inject faults (an AWS error reply for an operation) and delays.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import parse_qs

import pytest
from fixtures_services import free_loopback_port

__all__ = [
    "AwsProxy",
    "Call",
    "MotoServer",
    "aws_proxy",
    "aws_proxy_server",
    "ecr_env",
    "ecr_environ",
    "moto_server",
]

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
START_ATTEMPTS = 3
TOKEN_LIFETIME_SECONDS = 12 * 3600.0

ECR_TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921"
ECR_PUBLIC_TARGET_PREFIX = "SpencerFrontendService"
SERVICES_BY_TARGET_PREFIX = {ECR_TARGET_PREFIX: "ecr", ECR_PUBLIC_TARGET_PREFIX: "ecr-public"}
GET_TOKEN = "ecr:GetAuthorizationToken"
GET_PUBLIC_TOKEN = "ecr-public:GetAuthorizationToken"
ASSUME_ROLE = "sts:AssumeRole"
_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}
)


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


class MotoServer:
    """A running moto_server: its URL and the one process the fixture started."""

    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log

    def stop(self) -> None:
        """Stop exactly the process this fixture started."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_SECONDS)


def _answers(url: str) -> bool:
    try:
        with _no_proxy_opener().open(url + "/", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_moto_server(workdir: Path) -> MotoServer:
    """Start moto_server on a free loopback port and wait until it answers."""
    if not MOTO_SERVER.exists():
        pytest.fail(f"{MOTO_SERVER} is missing: install the test extras (pip install -e '.[test]')")
    for attempt in range(START_ATTEMPTS):
        port = free_loopback_port()
        log = workdir / f"moto-{attempt}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = MotoServer(f"http://127.0.0.1:{port}", process, log)
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(server.url):
                return server
            time.sleep(0.1)
        server.stop()  # lost the port to someone else, or too slow: try another
    pytest.fail(f"moto_server did not start; see {workdir}")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto_server on 127.0.0.1, once per test session."""
    with tempfile.TemporaryDirectory(prefix="dccx-moto-") as workdir:
        server = start_moto_server(Path(workdir))
        try:
            yield server
        finally:
            server.stop()


class Call:
    """One AWS request the proxy saw: operation and who signed it for which region."""

    def __init__(
        self,
        operation: str,
        access_key_id: str,
        region: str,
        service: str,
        params: Mapping[str, str],
    ) -> None:
        self.operation = operation
        self.access_key_id = access_key_id
        self.region = region
        self.service = service
        self.params = dict(params)

    def __repr__(self) -> str:
        return (
            f"Call({self.operation}, key={self.access_key_id}, region={self.region}, "
            f"service={self.service})"
        )


class Fault:
    """An AWS error reply to send instead of forwarding."""

    def __init__(self, status: int, code: str, message: str, times: Optional[int]) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.times = times


class AwsProxy:
    """A counting, rewriting reverse proxy on 127.0.0.1 in front of moto_server."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self._lock = threading.Lock()
        self.calls: list[Call] = []
        self.faults: dict[str, Fault] = {}
        self.delays: dict[str, float] = {}
        self.expires_in: Optional[float] = TOKEN_LIFETIME_SECONDS
        self._minted = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- controls used by tests -------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.faults.clear()
            self.delays.clear()
            self.expires_in = TOKEN_LIFETIME_SECONDS

    def count(self, operation: str) -> int:
        with self._lock:
            return sum(1 for call in self.calls if call.operation == operation)

    def calls_of(self, operation: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.operation == operation]

    def fail(
        self,
        operation: str,
        code: str,
        message: str,
        status: int = 400,
        times: Optional[int] = None,
    ) -> None:
        """Answer `operation` with an AWS error (`times` times, or until reset)."""
        with self._lock:
            self.faults[operation] = Fault(status, code, message, times)

    def heal(self, operation: str) -> None:
        with self._lock:
            self.faults.pop(operation, None)

    def delay(self, operation: str, seconds: float) -> None:
        with self._lock:
            self.delays[operation] = seconds

    def start(self) -> AwsProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(STOP_TIMEOUT_SECONDS)

    # -- the proxy itself -------------------------------------------------------------------

    def _record(self, headers: Mapping[str, str], body: bytes) -> tuple[str, Call]:
        target = headers.get("X-Amz-Target", "")
        params: dict[str, str] = {}
        if target:
            prefix, _, action = target.partition(".")
            operation = f"{SERVICES_BY_TARGET_PREFIX.get(prefix, prefix)}:{action}"
        else:
            form = parse_qs(body.decode("utf-8", "replace"))
            params = {key: values[0] for key, values in form.items()}
            operation = f"sts:{params.get('Action', '?')}"
        scope = _CREDENTIAL_SCOPE.search(headers.get("Authorization", ""))
        key, region, service = scope.groups() if scope else ("", "", "")
        call = Call(operation, key, region, service, params)
        with self._lock:
            self.calls.append(call)
        return operation, call

    def _take_fault(self, operation: str) -> Optional[Fault]:
        with self._lock:
            fault = self.faults.get(operation)
            if fault is None:
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self.faults[operation]
            return fault

    def _next_token(self, password: str) -> str:
        with self._lock:
            self._minted += 1
            number = self._minted
        return base64.b64encode(f"AWS:{password}-{number}".encode()).decode("ascii")

    def _expiry(self, original: object) -> object:
        return original if self.expires_in is None else time.time() + self.expires_in

    def _rewrite_ecr_token(self, body: bytes) -> bytes:
        document = json.loads(body)
        for data in document.get("authorizationData", []):
            _, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
            data["authorizationToken"] = self._next_token(password)
            data["expiresAt"] = self._expiry(data.get("expiresAt"))
        return json.dumps(document).encode()

    def _public_token_reply(self) -> bytes:
        # STAND-IN for ECR Public (moto lacks it): the shape of SpencerFrontendService's reply.
        expires = time.time() + (self.expires_in or TOKEN_LIFETIME_SECONDS)
        data = {"authorizationToken": self._next_token("public-token"), "expiresAt": expires}
        return json.dumps({"authorizationData": data}).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _reply(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _fault_reply(self, operation: str, fault: Fault) -> None:
                if operation.startswith("sts:"):  # the query protocol answers in XML
                    body = (
                        "<ErrorResponse><Error><Type>Sender</Type>"
                        f"<Code>{fault.code}</Code><Message>{fault.message}</Message>"
                        "</Error><RequestId>proxy</RequestId></ErrorResponse>"
                    ).encode()
                    self._reply(fault.status, body, "text/xml")
                else:
                    body = json.dumps({"__type": fault.code, "message": fault.message}).encode()
                    self._reply(fault.status, body, "application/x-amz-json-1.1")

            def do_GET(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._forward(self.rfile.read(length))

            def _forward(self, body: bytes) -> None:
                headers = {key: value for key, value in self.headers.items()}
                operation, _ = proxy._record(headers, body)
                with proxy._lock:
                    delay = proxy.delays.get(operation, 0.0)
                if delay:
                    time.sleep(delay)
                fault = proxy._take_fault(operation)
                if fault is not None:
                    self._fault_reply(operation, fault)
                    return
                if operation == GET_PUBLIC_TOKEN:
                    self._reply(200, proxy._public_token_reply(), "application/x-amz-json-1.1")
                    return
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=30)
                try:
                    forwarded = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=body, headers=forwarded)
                    response = upstream.getresponse()
                    payload = response.read()
                    content_type = response.getheader("Content-Type") or "application/json"
                    if operation == GET_TOKEN and response.status == 200:
                        payload = proxy._rewrite_ecr_token(payload)
                    self._reply(response.status, payload, content_type)
                finally:
                    upstream.close()

        return Handler


@pytest.fixture(scope="session")
def aws_proxy_server(moto_server: MotoServer) -> Iterator[AwsProxy]:
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


def endpoint_env(url: str) -> dict[str, str]:
    """Every AWS endpoint the helper may use, pointed at `url`."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ENDPOINT_URL_ECR": url,
        "AWS_ENDPOINT_URL_ECR_PUBLIC": url,
        "AWS_ENDPOINT_URL_STS": url,
    }


@pytest.fixture
def ecr_env(helper_env: dict[str, str], aws_proxy: AwsProxy) -> dict[str, str]:
    """`helper_env` with every AWS endpoint on the counting proxy (fake keys, no metadata)."""
    return {**helper_env, **endpoint_env(aws_proxy.url)}


@contextlib.contextmanager
def environment(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> Iterator[None]:
    """Make os.environ exactly `env` for in-process tests (botocore reads os.environ)."""
    with monkeypatch.context() as patch:
        for name in list(os.environ):
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        yield


@pytest.fixture
def ecr_environ(
    ecr_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """`ecr_env` as this process's os.environ, for in-process tests; restored afterwards."""
    with environment(monkeypatch, ecr_env):
        yield ecr_env
