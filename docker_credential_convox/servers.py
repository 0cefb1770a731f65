"""One canonical key per registry, and what kind of registry a server is.

The key is the lower-case host, plus the port when it is not the HTTPS default.
Scheme, credentials in the URL, path, query and fragment are dropped: Docker's
clients authenticate per host, so `host/namespace` reaches the entry of `host`.
Every Docker Hub alias shares the key `docker.io`.
"""

from __future__ import annotations

import re

from docker_credential_convox.errors import BadRequest, MissingServerURL

# `typing` costs milliseconds at start-up; mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

DOCKER_HUB_KEY = "docker.io"
DOCKER_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)

REGISTRY = "registry"
ECR = "ecr"
ECR_PUBLIC = "ecr-public"

ECR_PUBLIC_HOSTS = frozenset({"public.ecr.aws", "ecr-public.aws.com"})
ECR_PUBLIC_REGION = "us-east-1"

# <account>.<dkr>.<ecr>.<region>.<suffix>, anchored at both ends: no extra labels either side.
_ECR_HOST = re.compile(
    r"(?P<account>[0-9]{12})"
    r"\.dkr(?P<dualstack>[.-])ecr(?P<fips>-fips)?"
    r"\.(?P<region>[a-z]{2,4}(?:-[a-z]+)+-[0-9]+)"
    r"\.(?P<suffix>amazonaws\.com|amazonaws\.com\.cn|amazonaws\.eu|on\.aws"
    r"|on\.amazonwebservices\.com\.cn|c2s\.ic\.gov|sc2s\.sgov\.gov|cloud\.adc-e\.uk"
    r"|csp\.hci\.ic\.gov)"
)
_HOSTNAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?")
_BARE_HOST_PORT = re.compile(
    r"(?P<host>[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?)\.?(?::(?P<port>[0-9]{1,5}))?"
)


class EcrRegistry:
    """What an ECR host says about itself: account, region and which API endpoint fits."""

    __slots__ = ("account", "dualstack", "fips", "region", "suffix")

    def __init__(self, account: str, region: str, suffix: str, fips: bool, dualstack: bool) -> None:
        self.account = account
        self.region = region
        self.suffix = suffix
        self.fips = fips
        self.dualstack = dualstack

    def __repr__(self) -> str:
        return (
            f"EcrRegistry(account={self.account!r}, region={self.region!r}, "
            f"suffix={self.suffix!r}, fips={self.fips}, dualstack={self.dualstack})"
        )


class Server:
    """A server URL as a client sent it, with its canonical key and kind."""

    __slots__ = ("ecr", "host", "key", "kind", "url")

    def __init__(
        self, url: str, key: str, host: str, kind: str, ecr: Optional[EcrRegistry] = None
    ) -> None:
        self.url = url
        self.key = key
        self.host = host
        self.kind = kind
        self.ecr = ecr

    def __repr__(self) -> str:
        return f"Server(url={self.url!r}, key={self.key!r}, kind={self.kind!r})"


def _invalid(url: str, why: str) -> BadRequest:
    return BadRequest(
        f"invalid server URL {url!r}: {why}; expected a registry such as registry.example.com:5000"
    )


def split_host_port(url: str) -> tuple[str, Optional[int]]:
    """The lower-case host name and port of a server URL given with or without a scheme."""
    text = url.strip()
    if not text:
        raise MissingServerURL()
    # What clients send almost always: a bare `host[:port]`. Answer it without urllib.parse,
    # whose import costs about as much as the rest of a cached `get`.
    bare = _BARE_HOST_PORT.fullmatch(text.lower())
    if bare is not None and (bare["port"] is None or int(bare["port"]) <= 65535):
        return bare["host"], None if bare["port"] is None else int(bare["port"])
    return split_url(url)


def split_url(url: str) -> tuple[str, Optional[int]]:
    """`split_host_port` for any URL form: scheme, user info, IPv6 literal, path."""
    from urllib.parse import urlsplit

    text = url.strip()
    if not text:
        raise MissingServerURL()
    try:
        parsed = urlsplit(text if "://" in text else "//" + text)
    except ValueError:  # unbalanced IPv6 brackets
        raise _invalid(url, "its brackets are unbalanced") from None
    try:
        host = parsed.hostname
        port = parsed.port
    except ValueError:
        raise _invalid(url, "the port is not a number between 0 and 65535") from None
    if not host:
        raise _invalid(url, "it names no host")
    host = host.rstrip(".")
    if ":" in host:  # an IPv6 literal; urlsplit has already removed the brackets
        if not re.fullmatch(r"[0-9a-f:.%]+", host):
            raise _invalid(url, "the IPv6 address is malformed")
    elif not _HOSTNAME.fullmatch(host):
        raise _invalid(url, "the host name has characters a host name cannot have")
    return host, port


def _ecr_registry(host: str) -> Optional[EcrRegistry]:
    match = _ECR_HOST.fullmatch(host)
    if match is None:
        return None
    return EcrRegistry(
        account=match["account"],
        region=match["region"],
        suffix=match["suffix"],
        fips=match["fips"] is not None,
        dualstack=match["dualstack"] == "-",
    )


def parse_server(url: str) -> Server:
    """Canonical key and kind of the registry a client named."""
    host, port = split_host_port(url)
    if host in DOCKER_HUB_ALIASES and port in (None, 443):
        return Server(url, DOCKER_HUB_KEY, DOCKER_HUB_KEY, REGISTRY)
    shown = f"[{host}]" if ":" in host else host
    key = shown if port in (None, 443) else f"{shown}:{port}"
    ecr = _ecr_registry(host)
    if ecr is not None:
        return Server(url, key, host, ECR, ecr)
    if host in ECR_PUBLIC_HOSTS:
        return Server(url, key, host, ECR_PUBLIC)
    return Server(url, key, host, REGISTRY)
