"""Check a username and password against a registry's /v2/ endpoint, as `docker login` does.

- `GET /v2/` anonymously first, to learn how the registry authenticates (the challenge):
  200 means no authentication at all (nothing to check); 401 with `WWW-Authenticate: Basic`
  means basic auth on /v2/ itself; 401 with `WWW-Authenticate: Bearer realm=...,service=...`
  is the token flow of Docker Hub, GHCR, Harbor, Quay and GitLab: GET the realm with basic auth
  (service, scope, account, client_id and offline_token as docker sends them), take `token` or
  `access_token` from the JSON reply, then `GET /v2/` again with `Authorization: Bearer`.
- https first; plain http only for loopback hosts (127.0.0.0/8, ::1, localhost), as Docker
  treats those as insecure registries by default.
- Every request is bounded (`REQUEST_TIMEOUT` each, `TOTAL_TIMEOUT` in all); proxies from the
  environment are used except for loopback hosts. Credentials follow a redirect only to the
  same scheme, host and port, and are never sent to a plain-http token realm off this machine.
- Every failure is one line without any secret: `VerificationFailed` when the registry refused
  the credentials, `RegistryUnreachable` when it could not be asked.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from http.client import HTTPMessage
from typing import IO, Optional

from docker_credential_convox import APP, __version__
from docker_credential_convox.registries.errors import RegistryUnreachable, VerificationFailed

REQUEST_TIMEOUT = 10.0
TOTAL_TIMEOUT = 30.0
MAX_TOKEN_REPLY_BYTES = 1024 * 1024
CLIENT_ID = APP
USER_AGENT = f"{APP}/{__version__}"
# Where Docker logs in for Docker Hub: its /v2/ lives on registry-1, not on the index host.
DOCKER_HUB_REGISTRY = "registry-1.docker.io"


class Verified:
    """How the credentials were accepted: the /v2/ URL and the scheme (basic, bearer, none)."""

    __slots__ = ("method", "url")

    def __init__(self, url: str, method: str) -> None:
        self.url = url
        self.method = method

    def __repr__(self) -> str:
        return f"Verified(url={self.url!r}, method={self.method!r})"


class Challenge:
    """One parsed WWW-Authenticate challenge: scheme (lower case) and its parameters."""

    __slots__ = ("params", "scheme")

    def __init__(self, scheme: str, params: Mapping[str, str]) -> None:
        self.scheme = scheme
        self.params = dict(params)

    def __repr__(self) -> str:
        return f"Challenge({self.scheme!r}, {self.params!r})"


# name=value or name="quoted value" (RFC 7235 auth-param); token characters per RFC 7230.
_CHALLENGE_PARAM = re.compile(
    r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)'
)
_CHALLENGE_SCHEME = re.compile(r"[\s,]*([A-Za-z][A-Za-z0-9_-]*)")
_COMMA = re.compile(r"\s*,")


def parse_challenges(values: list[str]) -> list[Challenge]:
    """The challenges of WWW-Authenticate header values, e.g. `Bearer realm="...",service="..."`."""
    challenges: list[Challenge] = []
    for value in values:
        position = 0
        while position < len(value):
            scheme_match = _CHALLENGE_SCHEME.match(value, position)
            if scheme_match is None:
                break
            scheme = scheme_match.group(1).lower()
            position = scheme_match.end()
            params: dict[str, str] = {}
            while True:
                param = _CHALLENGE_PARAM.match(value, position)
                if param is None:
                    break
                raw = param.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                params[param.group(1).lower()] = raw
                position = param.end()
                comma = _COMMA.match(value, position)
                if comma is None:
                    break
                position = comma.end()
            challenges.append(Challenge(scheme, params))
    return challenges


def is_loopback(host: str) -> bool:
    """Whether `host` (no port, IPv6 without brackets) names this machine."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects, carrying Authorization only to the same scheme, host and port."""

    def redirect_request(  # noqa: PLR0917 - urllib's signature
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> Optional[urllib.request.Request]:
        if _origin(newurl)[0] not in ("http", "https"):
            return None  # urllib would follow ftp:; a registry has no business there
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        authorization = req.unredirected_hdrs.get("Authorization")
        if new is not None and authorization and _origin(newurl) == _origin(req.full_url):
            new.add_unredirected_header("Authorization", authorization)
        return new


class _Response:
    """What the checker needs of an HTTP answer."""

    __slots__ = ("body", "challenges", "status")

    def __init__(self, status: int, challenges: list[Challenge], body: bytes) -> None:
        self.status = status
        self.challenges = challenges
        self.body = body


def _describe_network_error(exc: BaseException) -> str:  # noqa: PLR0911 - one per cause
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message or exc.reason})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or type(exc).__name__})"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, http.client.HTTPException):  # its text quotes what the server sent
        return f"the answer is not HTTP ({type(exc).__name__})"
    # Never the exception's text: it may quote the request (a URL with the account, a header).
    return type(exc).__name__


# What a request can raise short of an HTTP status: no connection, TLS, timeouts, and replies
# that are not HTTP at all (http:// to a TLS port).
_NETWORK_ERRORS = (OSError, urllib.error.URLError, ValueError, http.client.HTTPException)


class RegistryChecker:
    """Verifies credentials for one registry host (host[:port] as it is dialled)."""

    def __init__(
        self,
        host: str,
        request_timeout: float = REQUEST_TIMEOUT,
        total_timeout: float = TOTAL_TIMEOUT,
    ) -> None:
        self.host = host
        self.request_timeout = request_timeout
        self.total_timeout = total_timeout
        hostname = urllib.parse.urlsplit("//" + host).hostname or host
        self.loopback = is_loopback(hostname)
        ssl_context = ssl.create_default_context()
        if self.loopback:
            # Docker treats 127.0.0.0/8 as an insecure registry: https without checking the
            # certificate, then http. This machine's own registry is the only one affected.
            ssl_context.check_hostname = False
            ssl_context.verify_mode = ssl.CERT_NONE
        handlers: list[urllib.request.BaseHandler] = [
            _SameOriginRedirects(),
            urllib.request.HTTPSHandler(context=ssl_context),
        ]
        if self.loopback:  # an http_proxy must never see loopback traffic
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)
        self._deadline = 0.0

    @property
    def base_urls(self) -> list[str]:
        """Where /v2/ is tried, in order: https, and http for a loopback host."""
        urls = [f"https://{self.host}"]
        if self.loopback:
            urls.append(f"http://{self.host}")
        return urls

    def _get(self, url: str, authorization: Optional[str] = None) -> _Response:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        # Only http(s) URLs get here: /v2/ URLs built above, realms checked in _fetch_token.
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
        if authorization:
            request.add_unredirected_header("Authorization", authorization)
        try:
            with self._opener.open(request, timeout=min(self.request_timeout, remaining)) as reply:
                return _Response(reply.status, [], reply.read(MAX_TOKEN_REPLY_BYTES))
        except urllib.error.HTTPError as exc:
            with exc:
                challenges = parse_challenges(exc.headers.get_all("WWW-Authenticate") or [])
                return _Response(exc.code, challenges, b"")

    def check(self, username: str, password: str) -> Verified:
        """Verify the credentials; raise VerificationFailed or RegistryUnreachable."""
        self._deadline = time.monotonic() + self.total_timeout
        failures: list[str] = []
        for base in self.base_urls:
            url = f"{base}/v2/"
            try:
                first = self._get(url)
            except _NETWORK_ERRORS as exc:
                failures.append(f"{url}: {_describe_network_error(exc)}")
                continue
            try:
                return self._authenticate(base, first, username, password)
            except _NETWORK_ERRORS as exc:
                raise RegistryUnreachable(
                    f"cannot check credentials with registry {self.host}: "
                    f"{_describe_network_error(exc)}; use --no-verify to skip the check"
                ) from None
        tried = "; ".join(failures)
        raise RegistryUnreachable(
            f"cannot reach registry {self.host} ({tried}); check the name and the network, "
            "or use --no-verify to skip the check"
        )

    def _authenticate(self, base: str, first: _Response, username: str, password: str) -> Verified:
        url = f"{base}/v2/"
        if first.status == 200:
            return Verified(url, "none")
        if first.status != 401:
            raise RegistryUnreachable(
                f"registry {self.host} answered GET {url} with HTTP {first.status}, not 401 or "
                "200: is it a Docker registry? (use --no-verify to skip the check)"
            )
        bearer = next(
            (c for c in first.challenges if c.scheme == "bearer" and c.params.get("realm")), None
        )
        if bearer is None:
            second = self._get(url, _basic(username, password))
            self._accept_or_refuse(second, url, "the registry")
            return Verified(url, "basic")
        token = self._fetch_token(base, bearer, username, password)
        third = self._get(url, f"Bearer {token}")
        self._accept_or_refuse(third, url, "the registry, given the token it issued,")
        return Verified(url, "bearer")

    def _accept_or_refuse(self, response: _Response, url: str, who: str) -> None:
        if response.status == 200:
            return
        if response.status in (401, 403):
            raise VerificationFailed(
                f"unable to authenticate to {self.host}: {who} refused the username or "
                f"password (HTTP {response.status})"
            )
        raise RegistryUnreachable(
            f"registry {self.host} answered GET {url} with HTTP {response.status}; "
            "try again later or use --no-verify to skip the check"
        )

    def _fetch_token(self, base: str, challenge: Challenge, username: str, password: str) -> str:
        realm = challenge.params["realm"]
        scheme, netloc = _origin(realm)
        realm_host = urllib.parse.urlsplit(realm).hostname or ""
        if scheme not in ("https", "http") or not netloc:
            raise RegistryUnreachable(
                f"registry {self.host} names a token service that is not an http(s) URL: "
                f"{realm[:200]}"
            )
        if scheme == "http" and not is_loopback(realm_host):
            raise RegistryUnreachable(
                f"registry {self.host} sends logins to a plain-http token service ({realm[:200]}); "
                "refusing to send the password unencrypted (use --no-verify to skip the check)"
            )
        query: dict[str, str] = {
            "account": username,
            "client_id": CLIENT_ID,
            "offline_token": "true",
        }
        for name in ("service", "scope"):
            if challenge.params.get(name):
                query[name] = challenge.params[name]
        separator = "&" if urllib.parse.urlsplit(realm).query else "?"
        token_url = realm + separator + urllib.parse.urlencode(query)
        response = self._get(token_url, _basic(username, password))
        if response.status in (401, 403):
            raise VerificationFailed(
                f"unable to authenticate to {self.host}: its token service {netloc} refused the "
                f"username or password (HTTP {response.status})"
            )
        if response.status != 200:
            raise RegistryUnreachable(
                f"the token service {netloc} of registry {self.host} answered HTTP "
                f"{response.status}; try again later or use --no-verify to skip the check"
            )
        try:
            reply = json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            reply = None
        token = None
        if isinstance(reply, dict):
            token = reply.get("token") or reply.get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryUnreachable(
                f"the token service {netloc} of registry {self.host} answered without a token"
            )
        return token


def login_host(server_key: str) -> str:
    """The host[:port] whose /v2/ checks a registry's credentials (Docker Hub: registry-1)."""
    from docker_credential_convox.server_keys import DOCKER_HUB_KEY

    return DOCKER_HUB_REGISTRY if server_key == DOCKER_HUB_KEY else server_key


def check_credentials(
    server_key: str,
    username: str,
    password: str,
    request_timeout: float = REQUEST_TIMEOUT,
    total_timeout: float = TOTAL_TIMEOUT,
) -> Verified:
    """Verify a username and password for the registry with canonical key `server_key`."""
    checker = RegistryChecker(login_host(server_key), request_timeout, total_timeout)
    return checker.check(username, password)
