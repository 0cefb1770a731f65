"""Checking credentials against a registry's /v2/, as `docker login` does.

Basic auth is checked against the real docker-registry (htpasswd) on 127.0.0.1. The Bearer-token
flow of Docker Hub, GHCR and Harbor is checked against `TokenRegistryStandIn` below: a small
local STAND-IN written for these tests (http.server on 127.0.0.1), not a real registry. It
speaks just the parts of the flow the checker uses: 401 + `WWW-Authenticate: Bearer realm=...`
on /v2/, a token endpoint behind basic auth, and /v2/ accepting that token.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Callable, Optional

import pytest

from docker_credential_convox.registries.errors import RegistryUnreachable, VerificationFailed
from docker_credential_convox.registries.login_check import (
    RegistryChecker,
    check_credentials,
    is_loopback,
    login_host,
    parse_challenges,
)
from standins.http_server import BackgroundHttpServer
from standins.processes import free_loopback_port
from standins.registry import Registry

USERNAME = "octocat"
PASSWORD = "ghp_stand-in-password"
TOKEN = "stand-in-registry-token"
SERVICE = "stand-in.test"
SCOPE = "repository:convox/app:pull"


class Seen:
    """One request the stand-in received."""

    def __init__(self, path: str, query: dict[str, str], authorization: Optional[str]) -> None:
        self.path = path
        self.query = query
        self.authorization = authorization


class TokenRegistryStandIn:
    """STAND-IN for a token-auth registry (see the module docstring); configurable per test."""

    def __init__(self, tls: Optional[ssl.SSLContext] = None) -> None:
        self.seen: list[Seen] = []
        self.token_field = "token"
        self.v2_status_anonymous = 401
        self.realm: Optional[str] = None  # default: this server's /token
        self.token_redirect: Optional[str] = None  # answer /token with a 307 to here
        self.accept_bearer = True
        self.challenge_scheme = "Bearer"
        self._http = BackgroundHttpServer(self._handler(), tls)
        self.scheme = self._http.scheme
        self.host = self._http.host

    def start(self) -> TokenRegistryStandIn:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _reply(self, status: int, body: bytes = b"", **headers: str) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                authorization = self.headers.get("Authorization")
                stand_in.seen.append(Seen(url.path, query, authorization))
                if url.path == "/v2/":
                    self._v2(authorization)
                elif url.path in ("/token", "/token-moved"):
                    self._token(url.path, authorization)
                else:
                    self._reply(404)

            def _v2(self, authorization: Optional[str]) -> None:
                if authorization == f"Bearer {TOKEN}" and stand_in.accept_bearer:
                    self._reply(200, b"{}")
                    return
                if stand_in.v2_status_anonymous != 401:
                    self._reply(stand_in.v2_status_anonymous, b"{}")
                    return
                realm = stand_in.realm or f"{stand_in.scheme}://{stand_in.host}/token"
                challenge = f'{stand_in.challenge_scheme} realm="{realm}",service="{SERVICE}"'
                self._reply(401, b"{}", WWW_Authenticate=challenge + f',scope="{SCOPE}"')

            def _token(self, path: str, authorization: Optional[str]) -> None:
                if path == "/token" and stand_in.token_redirect:
                    self._reply(307, Location=stand_in.token_redirect)
                    return
                expected = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
                if authorization != f"Basic {expected}":
                    self._reply(401, b'{"errors": [{"code": "UNAUTHORIZED"}]}')
                    return
                body = json.dumps({stand_in.token_field: TOKEN, "expires_in": 300})
                self._reply(200, body.encode(), Content_Type="application/json")

        return Handler


@pytest.fixture
def stand_in() -> Iterator[TokenRegistryStandIn]:
    server = TokenRegistryStandIn().start()
    try:
        yield server
    finally:
        server.stop()


def check(host: str, username: str = USERNAME, password: str = PASSWORD) -> str:
    """The method the checker used (raises what it raises)."""
    checker = RegistryChecker(host, request_timeout=2.0, total_timeout=5.0)
    return checker.check(username, password).method


def message_of(call: Callable[[], object], exception: type[Exception]) -> str:
    with pytest.raises(exception) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    assert PASSWORD not in message
    return message


# --- the Bearer-token flow (stand-in) --------------------------------------------------------


def test_bearer_flow_with_good_credentials_passes_with_the_token_the_realm_issued(
    stand_in: TokenRegistryStandIn,
) -> None:
    assert check(stand_in.host) == "bearer"

    (token_request,) = stand_in.requests_to("/token")
    basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    assert token_request.authorization == f"Basic {basic}"
    assert token_request.query == {
        "service": SERVICE,
        "scope": SCOPE,
        "account": USERNAME,
        "client_id": "docker-credential-convox",
        "offline_token": "true",
    }
    assert [seen.authorization for seen in stand_in.requests_to("/v2/")] == [
        None,
        f"Bearer {TOKEN}",
    ]


def test_bearer_flow_accepts_an_oauth_access_token_field(stand_in: TokenRegistryStandIn) -> None:
    stand_in.token_field = "access_token"

    assert check(stand_in.host) == "bearer"


def test_bearer_flow_with_a_wrong_password_is_refused_by_the_token_service(
    stand_in: TokenRegistryStandIn,
) -> None:
    message = message_of(lambda: check(stand_in.host, password="wrong"), VerificationFailed)

    assert message == (
        f"unable to authenticate to {stand_in.host}: its token service {stand_in.host} "
        "refused the username or password (HTTP 401)"
    )


def test_bearer_flow_refused_when_the_registry_rejects_the_issued_token(
    stand_in: TokenRegistryStandIn,
) -> None:
    stand_in.accept_bearer = False

    message = message_of(lambda: check(stand_in.host), VerificationFailed)

    assert "refused the username or password (HTTP 401)" in message


def test_challenge_scheme_is_matched_case_insensitively(stand_in: TokenRegistryStandIn) -> None:
    stand_in.challenge_scheme = "bearer"

    assert check(stand_in.host) == "bearer"


def test_a_plain_http_token_service_off_this_machine_never_gets_the_password(
    stand_in: TokenRegistryStandIn,
) -> None:
    stand_in.realm = "http://auth.example.invalid/token"

    message = message_of(lambda: check(stand_in.host), RegistryUnreachable)

    assert "refusing to send the password unencrypted" in message
    assert stand_in.requests_to("/token") == []


def test_credentials_follow_a_token_redirect_on_the_same_origin(
    stand_in: TokenRegistryStandIn,
) -> None:
    stand_in.token_redirect = f"http://{stand_in.host}/token-moved"

    assert check(stand_in.host) == "bearer"
    (moved,) = stand_in.requests_to("/token-moved")
    assert moved.authorization is not None


def test_credentials_never_follow_a_token_redirect_to_another_host(
    stand_in: TokenRegistryStandIn,
) -> None:
    elsewhere = TokenRegistryStandIn().start()
    try:
        stand_in.token_redirect = f"http://{elsewhere.host}/token"

        message = message_of(lambda: check(stand_in.host), VerificationFailed)

        (arrived,) = elsewhere.requests_to("/token")
        assert arrived.authorization is None
        assert "refused the username or password" in message
    finally:
        elsewhere.stop()


def test_a_proxy_in_the_environment_is_not_used_for_loopback_registries(
    stand_in: TokenRegistryStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead_proxy = f"http://127.0.0.1:{free_loopback_port()}"
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)

    assert check(stand_in.host) == "bearer"


def test_a_registry_open_to_anyone_passes_without_credentials_being_checked(
    stand_in: TokenRegistryStandIn,
) -> None:
    stand_in.v2_status_anonymous = 200

    assert check(stand_in.host) == "none"
    assert stand_in.requests_to("/token") == []


def test_something_that_is_not_a_registry_is_reported_as_such(
    stand_in: TokenRegistryStandIn,
) -> None:
    stand_in.v2_status_anonymous = 404

    message = message_of(lambda: check(stand_in.host), RegistryUnreachable)

    assert message == (
        f"registry {stand_in.host} answered GET http://{stand_in.host}/v2/ with HTTP 404, "
        "not 401 or 200: is it a Docker registry? (use --no-verify to skip the check)"
    )


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server-side TLS context with a throw-away self-signed certificate for 127.0.0.1."""
    directory: Path = tmp_path_factory.mktemp("tls")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_a_loopback_registry_with_a_self_signed_certificate_is_checked_over_https(
    self_signed: ssl.SSLContext,
) -> None:
    # Docker treats 127.0.0.0/8 as insecure: https without verifying the certificate.
    server = TokenRegistryStandIn(tls=self_signed).start()
    try:
        verified = RegistryChecker(server.host, 2.0, 5.0).check(USERNAME, PASSWORD)
    finally:
        server.stop()

    assert (verified.method, verified.url) == ("bearer", f"https://{server.host}/v2/")


def test_a_server_that_does_not_speak_http_is_unreachable_not_a_crash() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    host = f"127.0.0.1:{listener.getsockname()[1]}"

    def babble() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.sendall(b"SSH-2.0-not-a-registry\r\n\r\n")

    threading.Thread(target=babble, daemon=True).start()
    try:
        message = message_of(lambda: check(host), RegistryUnreachable)
    finally:
        listener.close()

    assert message.startswith(f"cannot reach registry {host} (https://{host}/v2/: ")
    assert f"; http://{host}/v2/: " in message


# --- the real registry (basic auth) ----------------------------------------------------------


def test_real_registry_accepts_good_credentials_with_basic_auth(registry: Registry) -> None:
    verified = check_credentials(registry.host, registry.username, registry.password)

    assert (verified.method, verified.url) == ("basic", f"http://{registry.host}/v2/")


def test_real_registry_refuses_a_wrong_password(registry: Registry) -> None:
    message = message_of(
        lambda: check_credentials(registry.host, registry.username, PASSWORD), VerificationFailed
    )

    assert message == (
        f"unable to authenticate to {registry.host}: the registry refused the username or "
        "password (HTTP 401)"
    )


def test_real_registry_refuses_an_unknown_user(registry: Registry) -> None:
    with pytest.raises(VerificationFailed):
        check_credentials(registry.host, "mallory", registry.password)


# --- reaching the registry -------------------------------------------------------------------


def test_an_unreachable_loopback_registry_is_one_line_naming_https_then_http() -> None:
    host = f"127.0.0.1:{free_loopback_port()}"

    message = message_of(lambda: check(host), RegistryUnreachable)

    assert message == (
        f"cannot reach registry {host} (https://{host}/v2/: connection refused; "
        f"http://{host}/v2/: connection refused); check the name and the network, "
        "or use --no-verify to skip the check"
    )


def test_a_registry_that_never_answers_times_out_within_the_bound() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        host = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()

        with pytest.raises(RegistryUnreachable) as caught:
            RegistryChecker(host, request_timeout=0.5, total_timeout=2.0).check("u", "p")

    assert time.monotonic() - started < 3.0
    assert "timed out" in str(caught.value)


def test_https_is_tried_first_and_http_only_for_loopback_hosts() -> None:
    assert RegistryChecker("registry.example.com").base_urls == ["https://registry.example.com"]
    assert RegistryChecker("127.0.0.1:5000").base_urls == [
        "https://127.0.0.1:5000",
        "http://127.0.0.1:5000",
    ]
    assert RegistryChecker("[::1]:5000").base_urls[1] == "http://[::1]:5000"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost", True),
        ("registry.localhost", True),
        ("10.0.0.1", False),
        ("registry.example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_loopback_hosts_are_those_docker_treats_as_insecure(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_docker_hub_is_checked_on_registry_1() -> None:
    assert login_host("docker.io") == "registry-1.docker.io"
    assert login_host("ghcr.io") == "ghcr.io"


# --- parsing WWW-Authenticate ----------------------------------------------------------------


def test_parse_challenges_reads_docker_hub_style_bearer() -> None:
    (challenge,) = parse_challenges(
        ['Bearer realm="https://auth.docker.io/token",service="registry.docker.io"']
    )

    assert challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
    }


def test_parse_challenges_reads_several_challenges_and_quoted_escapes() -> None:
    challenges = parse_challenges(
        ['Basic realm="Registry \\"Realm\\""', "Bearer realm=https://t.example/token, scope=a"]
    )

    assert [(c.scheme, c.params) for c in challenges] == [
        ("basic", {"realm": 'Registry "Realm"'}),
        ("bearer", {"realm": "https://t.example/token", "scope": "a"}),
    ]


def test_parse_challenges_survives_garbage() -> None:
    assert [c.scheme for c in parse_challenges(["Negotiate abc==", "", ",,,", "=x"])] == [
        "negotiate"
    ]
