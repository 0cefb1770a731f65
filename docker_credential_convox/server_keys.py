"""One canonical key per stored entry, and what kind of registry a server is.

A key is the registry's key (the lower-case host, plus the port when it is not the HTTPS
default; `docker.io` for every Docker Hub alias), then the path, if any, as `/a/b`. Scheme,
userinfo, query, fragment, a trailing or repeated slash, dot segments and the `/v1/` or `/v2/`
API root never make a different key; any other path does (its case too), so
`docker.io/refresh-token` and `registry.example.com/team-a` are entries of their own. ECR
hosts ignore the path: a token covers the whole registry.

A server URL none of this can read (an unbracketed IPv6 address, an IDN host, a port out of
range...) is still a key Docker may send, and the Go helpers store any string: `parse_key` keeps
it as sent (less anything up to its last `@`: a password is never kept), keyed `opaque TEXT`.
No normalised key holds a space, so the two kinds never meet; files derived from keys are named
by hashes or hex, never by the key itself.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.errors import BadRequest, MissingServerURL

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

# What a host name may hold: ASCII letters (lower-cased first), digits, `_`, `.` and `-`, neither
# of the last two at either end. A bare `host[:port]` (nearly every request) and an ECR host are
# read with string methods: `re` and its compiled patterns cost a cached `get` more than the rest.
_HOST_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
# <account>.dkr.ecr[-fips].<region>.<suffix>, anchored at both ends: no extra labels either side.
_ECR_SUFFIXES = frozenset(
    {
        "amazonaws.com",
        "amazonaws.com.cn",
        "amazonaws.eu",
        "on.aws",
        "on.amazonwebservices.com.cn",
        "c2s.ic.gov",
        "sc2s.sgov.gov",
        "cloud.adc-e.uk",
        "csp.hci.ic.gov",
    }
)
_HOSTNAME = r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?"
# A scheme at the start (`://` later on is part of a path).
_SCHEME = r"[A-Za-z][A-Za-z0-9+.-]*://"
# The `user[:password]@` of a URL's authority (what urlsplit takes as userinfo: up to the last @).
_USERINFO = r"\A((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)?[^/?#]*@"
# Docker's registry API roots: `https://index.docker.io/v1/` names Docker Hub itself.
API_ROOTS = frozenset({"v1", "v2"})
# The key of a server URL kept as sent: no normalised key holds a space.
OPAQUE_PREFIX = "opaque "
# Characters a path segment keeps as they are besides the unreserved ones (RFC 3986 sub-delims,
# `:` and `@`); everything else is percent-encoded in a key.
_SEGMENT_SAFE = "!$&'()*+,;=:@"


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
    """A server URL as a client sent it (minus userinfo), with its canonical key and kind.

    `registry` is the key of the registry itself; `key` adds the path, if any.
    """

    __slots__ = ("ecr", "host", "key", "kind", "opaque", "registry", "url")

    def __init__(
        self,
        url: str,
        key: str,
        host: str,
        kind: str,
        *,
        ecr: Optional[EcrRegistry] = None,
        registry: Optional[str] = None,
        opaque: bool = False,
    ) -> None:
        self.url = url
        self.key = key
        self.host = host
        self.kind = kind
        self.ecr = ecr
        self.registry = registry or key
        self.opaque = opaque  # kept as sent: no registry could be read from it

    def __repr__(self) -> str:
        return f"Server(url={self.url!r}, key={self.key!r}, kind={self.kind!r})"

    def lookup_keys(self) -> list[str]:
        """The keys whose entry may answer a `get`, longest first: this key, then each shorter
        path prefix down to the registry's (Docker's clients authenticate per registry).

        Docker Hub's path entries are Docker's web-login tokens, not namespaces: handing out
        the PAT in place of a token that is not stored would only mislead, so they stand alone.
        """
        if self.registry in (self.key, DOCKER_HUB_KEY):
            return [self.key]
        keys = [self.key]
        prefix = self.key
        while prefix != self.registry:
            prefix = prefix.rpartition("/")[0]
            keys.append(prefix)
        return keys

    def with_key(self, key: str) -> Server:
        """This request, answered from the entry at `key` (one of `lookup_keys`)."""
        return Server(
            self.url,
            key,
            self.host,
            self.kind,
            ecr=self.ecr,
            registry=self.registry,
            opaque=self.opaque,
        )

    def registry_server(self) -> Server:
        """This request, addressed to the registry's own entry (the path dropped)."""
        return self.with_key(self.registry)


def strip_userinfo(url: str) -> str:
    """`url` without the `user:password@` of its authority, otherwise exactly as sent."""
    if "@" not in url:
        return url
    import re

    return re.sub(_USERINFO, r"\1", url, count=1)


def _shown_in_error(url: str) -> str:
    """`url` for an error message: everything up to its last `@` masked (the URL may be too
    malformed to tell userinfo from path, and a password must never be quoted)."""
    text = url.strip()
    if "@" not in text:
        return text
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "", text
    return f"{scheme}{separator}***@{rest.rpartition('@')[2]}"


def _invalid(url: str, why: str) -> BadRequest:
    return BadRequest(
        f"invalid server URL {_shown_in_error(url)!r}: {why}; "
        "expected a registry such as registry.example.com:5000"
    )


def _has_whitespace_or_control(text: str) -> bool:
    return any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)


def split_host_port(url: str) -> tuple[str, Optional[int]]:
    """The lower-case host name and port of a server URL given with or without a scheme."""
    host, port, _ = _split(url)
    return host, port


def split_url(url: str) -> tuple[str, Optional[int]]:
    """`split_host_port` for any URL form: scheme, user info, IPv6 literal, path."""
    host, port, _ = _split_url(url)
    return host, port


def _split(url: str) -> tuple[str, Optional[int], str]:
    """Host, port and raw path (empty for none) of a server URL."""
    text = url.strip()
    if not text:
        raise MissingServerURL()
    # What clients send almost always: a bare `host[:port]`. Answer it without urllib.parse,
    # whose import costs about as much as the rest of a cached `get`.
    bare = _bare_host_port(text.lower())
    if bare is not None:
        return bare[0], bare[1], ""
    return _split_url(url)


def _is_host_name(host: str) -> bool:
    """Whether `host` is a host name as _HOSTNAME says (without compiling it)."""
    return (
        bool(host)
        and _HOST_CHARACTERS.issuperset(host)
        and host[0] not in ".-"
        and host[-1] not in ".-"
    )


def _bare_host_port(text: str) -> Optional[tuple[str, Optional[int]]]:
    """Host and port of a lower-cased bare `host[.][:port]` (port up to 65535), else None."""
    host, colon, digits = text.partition(":")
    port = None
    if colon:
        if not (0 < len(digits) <= 5 and digits.isascii() and digits.isdigit()):
            return None
        port = int(digits)
        if port > 65535:
            return None
    if host.endswith("."):  # one trailing dot: the same host
        host = host[:-1]
    return (host, port) if _is_host_name(host) else None


def _split_url(url: str) -> tuple[str, Optional[int], str]:
    import re
    from urllib.parse import urlsplit

    text = url.strip()
    if not text:
        raise MissingServerURL()
    # urlsplit silently deletes tabs and newlines: refuse them rather than key a different path.
    if _has_whitespace_or_control(text):
        raise _invalid(url, "it contains whitespace or control characters")
    try:
        parsed = urlsplit(text if re.match(_SCHEME, text) else "//" + text)
    except ValueError:  # unbalanced IPv6 brackets
        raise _invalid(url, "its brackets are unbalanced") from None
    if parsed.netloc.rpartition("@")[2].count(":") > 1 and "[" not in parsed.netloc:
        raise _invalid(
            url, "an IPv6 address goes in brackets, with any port after them, as in [::1]:5000"
        )
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
    elif not re.fullmatch(_HOSTNAME, host):
        raise _invalid(url, "the host name has characters a host name cannot have")
    return host, port, parsed.path


def normal_path(raw: str) -> str:
    """The path part of a key (no leading slash; empty for none).

    Empty and `.` segments are dropped and `..` resolved; percent-escapes are decoded and
    re-encoded one way (`%7E` is `~`, `é` is `%C3%A9`, `%2F` stays a character of its
    segment); leading API roots (`v1`, `v2`) go. Applied to its own output, it changes nothing.
    """
    if not raw.strip("/"):
        return ""
    from urllib.parse import quote_from_bytes, unquote_to_bytes

    segments: list[str] = []
    for part in raw.split("/"):
        segment = quote_from_bytes(unquote_to_bytes(part), safe=_SEGMENT_SAFE)
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    while segments and segments[0] in API_ROOTS:
        del segments[0]
    return "/".join(segments)


def _ecr_registry(host: str) -> Optional[EcrRegistry]:
    """What a (lower-case) ECR host says, None for any other host.

    <12 digits>.dkr(.|-)ecr[-fips].<region>.<suffix>: the region is one label of letters,
    then one or more `-letters`, then `-digits` (us-east-1, us-gov-west-1, eu-isoe-west-1).
    """
    account, dkr, rest = host.partition(".dkr")
    if not dkr or len(account) != 12 or not (account.isascii() and account.isdigit()):
        return None
    dualstack = rest[:1]
    if dualstack not in (".", "-") or rest[1:4] != "ecr":
        return None
    rest = rest[4:]
    fips = rest.startswith("-fips.")
    if fips:
        rest = rest[5:]
    if not rest.startswith("."):
        return None
    region, _, suffix = rest[1:].partition(".")
    if suffix not in _ECR_SUFFIXES or not _is_region(region):
        return None
    return EcrRegistry(account, region, suffix, fips, dualstack == "-")


def _is_region(name: str) -> bool:
    """[a-z]{2,4}(?:-[a-z]+)+-[0-9]+ , without compiling it."""
    parts = name.split("-")
    if len(parts) < 3 or not 2 <= len(parts[0]) <= 4:
        return False
    letters = all(part.isascii() and part.isalpha() and part.islower() for part in parts[:-1])
    return letters and parts[-1].isascii() and parts[-1].isdigit()


def parse_server(url: str) -> Server:
    """Canonical key and kind of the registry (and path) a client named."""
    host, port, raw_path = _split(url)
    kept = strip_userinfo(url)
    # An ECR token covers the whole registry, so a path there means nothing.
    ecr = _ecr_registry(host)
    if ecr is not None:
        return Server(kept, _registry_key(host, port), host, ECR, ecr=ecr)
    if host in ECR_PUBLIC_HOSTS:
        return Server(kept, _registry_key(host, port), host, ECR_PUBLIC)
    registry = _registry_key(host, port)
    if registry == DOCKER_HUB_KEY:
        host = DOCKER_HUB_KEY
    path = normal_path(raw_path) if raw_path else ""
    key = f"{registry}/{path}" if path else registry
    return Server(kept, key, host, REGISTRY, registry=registry)


def parse_key(url: str) -> Server:
    """`parse_server`, or for a URL it cannot read, the URL kept as sent (an opaque key): what
    `store`, `get` and `erase` take, as the Go helpers take any string."""
    try:
        return parse_server(url)
    except MissingServerURL:
        raise
    except BadRequest:
        return opaque_server(url)


def opaque_server(url: str) -> Server:
    """The server of a URL kept as sent (see `opaque_url`), keyed `opaque TEXT`."""
    text = url.strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape: no keyring can hold it
        raise BadRequest(
            "invalid server URL: it is not valid Unicode text; send the URL as UTF-8"
        ) from None
    kept = opaque_url(text)
    return Server(kept, OPAQUE_PREFIX + kept, kept, REGISTRY, opaque=True)


def opaque_url(text: str) -> str:
    """`text` kept as sent, but with everything between its scheme and its last `@` dropped:
    unparsed, userinfo cannot be told from a path, and a password must never be kept."""
    if "@" not in text:
        return text
    import re

    scheme = re.match(_SCHEME, text)
    head = scheme.group(0) if scheme else ""
    return head + text.rpartition("@")[2]  # may be empty: `list` shows that entry as ""


def _registry_key(host: str, port: Optional[int]) -> str:
    if host in DOCKER_HUB_ALIASES and port in (None, 443):
        return DOCKER_HUB_KEY
    shown = f"[{host}]" if ":" in host else host
    return shown if port in (None, 443) else f"{shown}:{port}"


SERVICE_ECR = "ecr"
SERVICE_ECR_PUBLIC = "ecr-public"


class Target:
    """The AWS API that mints tokens for one registry: service, region and endpoint variant."""

    __slots__ = ("dualstack", "fips", "region", "service")

    def __init__(self, service: str, region: str, fips: bool = False, dualstack: bool = False):
        self.service = service
        self.region = region
        self.fips = fips
        self.dualstack = dualstack


def token_api(server: Server) -> Target:
    """The API that mints tokens for an ECR or ECR Public `server` (region, FIPS, dual-stack
    from its host)."""
    if server.kind == ECR_PUBLIC or server.ecr is None:
        return Target(SERVICE_ECR_PUBLIC, ECR_PUBLIC_REGION)
    registry = server.ecr
    return Target(SERVICE_ECR, registry.region, registry.fips, registry.dualstack)
