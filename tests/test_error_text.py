"""Error text never carries a secret in any encoding: raw, JSON-escaped (once or twice),
base64 of `user:pass`, URL-encoded.

The endpoints here echo what they were sent back into their answer: a FAULT INJECTION (a broken
proxy, a hostile or misconfigured endpoint) that no real registry or AWS emulator produces. The
helper must name the status and the cause of such an answer, never repeat it.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import hermetic_env, run_helper_in
from support.shared import RUNTIME_DIR, SHARED

from docker_credential_convox.errors import one_line
from standins.environment import endpoint_env
from standins.http_server import BackgroundHttpServer

USERNAME = "echo-user"
MARKER = "Zq8wMarker"  # letters survive every escaping: a leak of any encoding shows it
PASSWORD = 'q"\u2026\\\u00e9<>&' + MARKER + "/+ %="


def forms(secret: str, username: str = USERNAME) -> list[str]:
    """Every encoding of `secret` an echo could carry back, with the username's basic auth."""
    once = [json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]]
    twice = [json.dumps(text, ensure_ascii=ascii)[1:-1] for text in once for ascii in (True, False)]
    basic = base64.b64encode(f"{username}:{secret}".encode()).decode()
    return [
        secret,
        *once,
        *twice,
        basic,
        base64.b64encode(secret.encode()).decode(),
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        MARKER,
    ]


def assert_no_form_of_the_password(text: str) -> None:
    for form in forms(PASSWORD):
        assert form not in text, (form, text)


class _EchoingRegistry(BaseHTTPRequestHandler):
    """/v2/ asks for basic auth; a request that carries it is answered with the request's own
    header lines, credentials first, instead of an HTTP reply (FAULT INJECTION: a broken proxy
    that hands back what it was sent)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        authorization = self.headers.get("Authorization")
        if not authorization:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="echo"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        lines = [f"Authorization: {authorization}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items() if k != "Authorization"]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.close_connection = True


def _echoing_secrets_manager(shape: str) -> type[BaseHTTPRequestHandler]:
    """Secrets Manager that answers every call with an error echoing the request body
    (FAULT INJECTION), in one of the shapes a proxy or the service could give it."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            sent = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if shape == "html":  # a proxy's error page quoting the request
                body = f"<html><body><h1>Bad request</h1><pre>{sent}</pre></body></html>"
                content_type = "text/html"
            elif shape == "plain-json":  # a JSON error without an AWS error type
                body = json.dumps({"message": f"cannot handle {sent}"})
                content_type = "application/json"
            else:  # an AWS error whose message quotes the parameter (as validation errors do)
                body = json.dumps(
                    {
                        "__type": "ValidationException",
                        "message": f"Value at 'secretString' failed to satisfy constraint: {sent}",
                    }
                )
                content_type = "application/x-amz-json-1.1"
            data = body.encode()
            self.send_response(400)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def echoing_registry() -> Iterator[BackgroundHttpServer]:
    server = BackgroundHttpServer(_EchoingRegistry)
    server.start()
    yield server
    server.stop()


def test_registries_add_checked_against_an_echoing_registry_shows_no_form_of_the_password(
    helper_env: dict[str, str], echoing_registry: BackgroundHttpServer
) -> None:
    result = run_helper_in(
        helper_env,
        *("registries", "add", echoing_registry.host, "--username", USERNAME),
        "--password-stdin",
        stdin=PASSWORD,
    )
    assert result.returncode == 1, result
    assert f"registry {echoing_registry.host}" in result.stderr
    assert "Traceback" not in result.stderr
    assert_no_form_of_the_password(result.stdout + result.stderr)


@pytest.mark.parametrize("shape", ["html", "plain-json", "aws-error"])
def test_a_shared_write_to_an_echoing_secrets_manager_shows_no_form_of_the_password(
    tmp_path: Path, shape: str
) -> None:
    endpoint = BackgroundHttpServer(_echoing_secrets_manager(shape))
    endpoint.start()
    try:
        home = tmp_path / "home"
        (home / ".docker").mkdir(parents=True)
        env = hermetic_env(
            home,
            {
                **endpoint_env(endpoint.url),
                SHARED: "secretsmanager:dccx-test/echo",
                RUNTIME_DIR: str(home / "run"),
            },
        )
        result = run_helper_in(
            env,
            *("registries", "add", "registry.example.com", "--shared", "--no-verify"),
            *("--username", USERNAME, "--password-stdin"),
            stdin=PASSWORD,
        )
    finally:
        endpoint.stop()
    assert result.returncode == 1, result
    assert "cannot write the shared entry for registry.example.com" in result.stderr, result
    assert "HTTP 400" in result.stderr or "ValidationException" in result.stderr, result
    assert "Traceback" not in result.stderr
    assert_no_form_of_the_password(result.stdout + result.stderr)


@given(
    st.text(min_size=4, max_size=40).filter(lambda s: "".join(s.split()) == s and "*" not in s),
    st.sampled_from(["{}", "failed: {}!", "<pre>{}</pre>", "a {} b {} c"]),
)
def test_one_line_masks_every_encoding_of_a_secret(secret: str, template: str) -> None:
    for form in forms(secret):
        if form == MARKER or form in template.replace("{}", "***"):
            continue
        text = one_line(template.format(form, form), 1000, [secret, f"{USERNAME}:{secret}"])
        assert form not in text, (form, text)


class _EchoingAwsPage(BaseHTTPRequestHandler):
    """Any AWS call is answered 400 with an HTML page quoting the request's headers and body
    (FAULT INJECTION: a proxy's error page; no AWS emulator answers like this)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        sent = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        headers = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
        data = f"<html><body><pre>{headers}\n{sent}</pre></body></html>".encode()
        self.send_response(400)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_an_ecr_get_against_an_echoing_endpoint_names_the_status_not_the_page(
    tmp_path: Path,
) -> None:
    session_token = "FwoSessionToken" + MARKER  # sent in X-Amz-Security-Token
    endpoint = BackgroundHttpServer(_EchoingAwsPage)
    endpoint.start()
    try:
        home = tmp_path / "home"
        (home / ".docker").mkdir(parents=True)
        env = hermetic_env(home, {**endpoint_env(endpoint.url), "AWS_SESSION_TOKEN": session_token})
        result = run_helper_in(env, "get", stdin="123456789012.dkr.ecr.us-east-1.amazonaws.com")
    finally:
        endpoint.stop()
    assert result.returncode == 1, result
    assert "GetAuthorizationToken failed: HTTP 400" in result.stdout, result
    assert "Traceback" not in result.stdout + result.stderr
    for text in (MARKER, "<html>", "X-Amz-Security-Token"):
        assert text not in result.stdout + result.stderr, result
