"""A counting, rewriting reverse proxy on 127.0.0.1 in front of moto_server.

Every AWS call a helper makes goes through it (point the endpoints at `AwsProxy.url`), so it can
* count calls per operation (`ecr:GetAuthorizationToken`, `sts:AssumeRole`, ...) and record
  which access key ID, region and service signed each one (SigV4's credential scope);
* give ECR tokens a real lifetime: moto's `expiresAt` is fixed at 2015-01-01, so by default the
  proxy rewrites it to `expires_in` seconds from now (`expires_in = None` passes moto's through),
  and it numbers each token (`AWS:<moto password>-<n>`) so that two mints never look alike;
* answer ECR Public's GetAuthorizationToken itself. STAND-IN: moto 5.2 does not implement
  `ecr-public`, so this is a local imitation of the service's JSON reply, not an emulator;
* inject faults (an AWS error reply for an operation), delays, and drips (headers at once,
  then the body one byte per second: no read ever waits long enough for a per-read timeout).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Optional
from urllib.parse import parse_qs

from standins.http_server import BackgroundHttpServer

TOKEN_LIFETIME_SECONDS = 12 * 3600.0
DRIP_PROMISED_BYTES = 3600  # a dripped reply's Content-Length: an hour at one byte a second

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


class Call:
    """One AWS request the proxy saw: operation, who signed it for which region, and when it
    came in (`at`, time.monotonic() of this process)."""

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
        self.at = time.monotonic()

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
        self.drips: dict[str, int] = {}  # operation -> bytes dripped so far
        self.expires_in: Optional[float] = TOKEN_LIFETIME_SECONDS
        self._minted = 0
        self._http = BackgroundHttpServer(self._handler_class())
        self.url = self._http.url

    # -- controls used by tests -------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.faults.clear()
            self.delays.clear()
            self.drips.clear()
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

    def drip(self, operation: str) -> None:
        """FAULT INJECTION (no AWS stand-in does this on demand): answer `operation` with a 200
        and its headers at once, then the body one byte per second, until reset or the client
        hangs up. `dripped(operation)` counts the bytes sent."""
        with self._lock:
            self.drips[operation] = 0

    def dripped(self, operation: str) -> int:
        with self._lock:
            return self.drips.get(operation, 0)

    def _dripping(self, operation: str, sent: int) -> bool:
        """Whether `operation` still drips, counting `sent` more bytes."""
        with self._lock:
            if operation not in self.drips:
                return False
            self.drips[operation] += sent
            return True

    def start(self) -> AwsProxy:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

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

            def _drip(self, operation: str) -> None:
                # Far more bytes promised than are ever sent: the reply never completes.
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(DRIP_PROMISED_BYTES))
                self.end_headers()
                self.wfile.flush()
                for _ in range(DRIP_PROMISED_BYTES):
                    time.sleep(1.0)
                    if not proxy._dripping(operation, 1):
                        break
                    try:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    except OSError:  # the client hung up
                        break
                self.close_connection = True

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
                if proxy._dripping(operation, 0):
                    self._drip(operation)
                    return
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
