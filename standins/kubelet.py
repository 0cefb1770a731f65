"""A stand-in for kubelet's image credential provider client: what kubelet does, nothing more.

No kubelet can run on these machines, so this module does, in Python, what kubelet's
`pkg/credentialprovider` does with an exec plugin, following its documented rules (see
../shared/reference/kubelet.md and kubelet's own tests, which tests/test_kubelet_standin.py
replays against this module):

- load a CredentialProviderConfig (JSON, or YAML where PyYAML is installed) and validate it;
- for an image, ask each provider whose `matchImages` match it (`urls_match`, kubelet's
  `URLsMatch`), in the config's order;
- exec the plugin `<bin dir>/<name> <args...>` with one CredentialProviderRequest on stdin, the
  caller's environment with the config's `env` appended (the config wins), and kubelet's
  hard-coded 60 s timeout;
- decode the CredentialProviderResponse strictly (kind, the configured apiVersion, no unknown
  field, `cacheKeyType` one of Image/Registry/Global, `cacheDuration` a Go duration);
- cache the answer by `cacheKeyType` for `cacheDuration` (absent: the provider's
  `defaultCacheDuration`; "0": not at all), looked up image first, then registry, then global,
  with the service account's key folded in when tokens are configured;
- put the returned `auth` entries in a keyring (kubelet's `BasicDockerKeyring`) and pick the
  credentials for the image by `urls_match`, most specific key first.

Time is injectable (`clock`), so the cache is tested without sleeping. Diagnostics that kubelet
would log go to `log` (a list of lines), never to stdout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

GROUP = "credentialprovider.kubelet.k8s.io"
API_VERSIONS = (f"{GROUP}/v1alpha1", f"{GROUP}/v1beta1", f"{GROUP}/v1")
CONFIG_API_VERSIONS = (
    "kubelet.config.k8s.io/v1alpha1",
    "kubelet.config.k8s.io/v1beta1",
    "kubelet.config.k8s.io/v1",
)
CACHE_KEY_TYPES = ("Image", "Registry", "Global")
GLOBAL_CACHE_KEY = "global"
EXEC_TIMEOUT = 60.0  # kubelet's catch-all timeout for every exec plugin
DEFAULT_REGISTRY_HOST = "index.docker.io"


class KubeletConfigError(ValueError):
    """The CredentialProviderConfig would stop kubelet at start-up."""


class PluginError(RuntimeError):
    """One exec of a plugin failed; kubelet logs it and uses no credentials from that provider."""


# -- kubelet's URL rules (pkg/credentialprovider/keyring.go) -----------------------------------


@dataclass(frozen=True)
class SchemelessURL:
    host: str  # host[:port], as Go's url.URL.Host
    path: str


def parse_schemeless_url(value: str) -> SchemelessURL:
    """Go's `url.Parse("https://" + value)` with the scheme cleared: the host and the path."""
    rest = value
    for stop in ("#", "?"):
        rest = rest.split(stop, 1)[0]
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = host.rsplit("@", 1)[1]
    if any(ch in host for ch in " \t\n%") and not host.startswith("["):
        raise ValueError(f"invalid host in {value!r}")
    return SchemelessURL(host, slash + path)


def split_host_port(host: str) -> tuple[list[str], str]:
    """kubelet's splitURL: the host's dot-separated labels and its port ("" when none)."""
    name, port = host, ""
    if host.startswith("["):
        end = host.find("]")
        if end > 0 and host[end + 1 : end + 2] == ":" and host[end + 2 :]:
            name, port = host[1:end], host[end + 2 :]
    elif host.count(":") == 1:
        name, port = host.split(":")
    # net.SplitHostPort fails on a missing port or too many colons: then the whole is the host.
    return name.split("."), port


def _glob_regex(pattern: str) -> Optional[re.Pattern[str]]:
    """Go's `filepath.Match` pattern as a regex (None: ErrBadPattern, which never matches)."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            i += 1
            if i >= len(pattern):
                return None
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("^", "]") else i + 1)
            if end < 0:
                return None
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            if negate:
                body = body[1:]
            if not body:
                return None
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    try:
        return re.compile("".join(out) + r"\Z")
    except re.error:
        return None


def glob_match(pattern: str, name: str) -> bool:
    """Go's filepath.Match for one host label."""
    regex = _glob_regex(pattern)
    return regex is not None and regex.match(name) is not None


def urls_match(glob: str, target: str) -> bool:
    """kubelet's URLsMatchStr: same port, same label count, each label globbed, path prefix."""
    try:
        glob_url, target_url = parse_schemeless_url(glob), parse_schemeless_url(target)
    except ValueError:
        return False
    glob_labels, glob_port = split_host_port(glob_url.host)
    target_labels, target_port = split_host_port(target_url.host)
    if glob_port != target_port or len(glob_labels) != len(target_labels):
        return False
    if not target_url.path.startswith(glob_url.path):
        return False
    return all(glob_match(g, t) for g, t in zip(glob_labels, target_labels))


def is_default_registry_match(image: str) -> bool:
    """kubelet's isDefaultRegistryMatch: whether `image` is pulled from Docker Hub."""
    parts = image.split("/", 1)
    if not parts[0]:
        return False
    if len(parts) == 1:
        return True
    if parts[0] in ("docker.io", "index.docker.io"):
        return True
    return not any(ch in parts[0] for ch in ".:")


def parse_registry(image: str) -> str:
    """kubelet's parseRegistry: everything before the first slash."""
    return image.split("/", maxsplit=1)[0]


@dataclass(frozen=True)
class AuthConfig:
    username: str
    password: str


class DockerKeyring:
    """kubelet's BasicDockerKeyring: entries by location, looked up most specific first."""

    def __init__(self) -> None:
        self._creds: dict[str, list[AuthConfig]] = {}

    def add(self, config: Mapping[str, AuthConfig]) -> None:
        for location, auth in config.items():
            value = location
            if not value.startswith(("https://", "http://")):
                value = "https://" + value
            scheme_end = value.index("://") + 3
            try:
                parsed = parse_schemeless_url(value[scheme_end:])
            except ValueError:
                continue  # kubelet logs "Entry %q in dockercfg invalid" and goes on
            path = parsed.path
            if path.startswith(("/v2/", "/v1/")):
                path = path[3:]
            key = parsed.host + path if path and path != "/" else parsed.host
            self._creds.setdefault(key, []).append(auth)

    def lookup(self, image: str) -> list[AuthConfig]:
        found: list[AuthConfig] = []
        for key in sorted(self._creds, reverse=True):
            if urls_match(key, image):
                found.extend(self._creds[key])
        if found:
            return found
        if is_default_registry_match(image):
            return list(self._creds.get(DEFAULT_REGISTRY_HOST, []))
        return []


# -- Go durations --------------------------------------------------------------------------

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds; ValueError for what Go refuses."""
    if not isinstance(text, str):
        raise ValueError("a duration must be a string")
    rest = text
    sign = 1.0
    if rest[:1] in ("-", "+"):
        sign = -1.0 if rest[0] == "-" else 1.0
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise ValueError(f"invalid duration {text!r}")
    total = 0.0
    position = 0
    while position < len(rest):
        match = _DURATION_PART.match(rest, position)
        if match is None or match.group(1) in ("", "."):
            raise ValueError(f"invalid duration {text!r}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return sign * total


# -- the config ----------------------------------------------------------------------------


@dataclass
class TokenAttributes:
    audience: str
    cache_type: str  # "ServiceAccount" or "Token"
    require_service_account: bool
    required_annotation_keys: tuple[str, ...] = ()
    optional_annotation_keys: tuple[str, ...] = ()


@dataclass
class Provider:
    name: str
    match_images: tuple[str, ...]
    default_cache_duration: float
    api_version: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    token_attributes: Optional[TokenAttributes] = None


def _load_document(path: Path) -> object:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml  # type: ignore[import-untyped]

        return yaml.safe_load(text)
    return json.loads(text)


def load_config(path: Path) -> list[Provider]:
    """The providers of a config file, or of every *.json/*.yaml/*.yml in a directory (lexical)."""
    files = (
        sorted(p for p in path.iterdir() if p.suffix in (".json", ".yaml", ".yml"))
        if path.is_dir()
        else [path]
    )
    providers: list[Provider] = []
    for file in files:
        providers.extend(parse_config(_load_document(file)))
    names = [p.name for p in providers]
    if len(set(names)) != len(names):
        raise KubeletConfigError("duplicate provider name")
    return providers


def parse_config(document: object) -> list[Provider]:  # noqa: PLR0912 - one rule a line
    """Validate one CredentialProviderConfig as kubelet does at start-up."""
    if not isinstance(document, dict):
        raise KubeletConfigError("config must be an object")
    if document.get("kind") != "CredentialProviderConfig":
        raise KubeletConfigError("kind must be CredentialProviderConfig")
    if document.get("apiVersion") not in CONFIG_API_VERSIONS:
        raise KubeletConfigError(f"unsupported config apiVersion {document.get('apiVersion')!r}")
    entries = document.get("providers")
    if not isinstance(entries, list) or not entries:
        raise KubeletConfigError("at least 1 item in plugins is required")
    providers = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise KubeletConfigError("a provider must be an object")
        name = entry.get("name")
        if (
            not isinstance(name, str)
            or not name
            or name in (".", "..")
            or "/" in name
            or " " in name
        ):
            raise KubeletConfigError(f"invalid provider name {name!r}")
        images = entry.get("matchImages")
        if not isinstance(images, list) or not images:
            raise KubeletConfigError(f"{name}: at least 1 item in matchImages is required")
        for image in images:
            if not isinstance(image, str) or not image:
                raise KubeletConfigError(f"{name}: invalid match image {image!r}")
            try:
                parse_schemeless_url(image)
            except ValueError:
                raise KubeletConfigError(f"{name}: invalid match image {image!r}") from None
        if "defaultCacheDuration" not in entry:
            raise KubeletConfigError(f"{name}: defaultCacheDuration is required")
        try:
            default_duration = parse_go_duration(entry["defaultCacheDuration"])
        except ValueError:
            raise KubeletConfigError(f"{name}: invalid defaultCacheDuration") from None
        if default_duration < 0:
            raise KubeletConfigError(
                f"{name}: defaultCacheDuration must be greater than or equal to 0"
            )
        api_version = entry.get("apiVersion")
        if api_version not in API_VERSIONS:
            raise KubeletConfigError(f"{name}: unsupported apiVersion {api_version!r}")
        env = []
        for variable in entry.get("env") or []:
            if not isinstance(variable, dict) or not isinstance(variable.get("name"), str):
                raise KubeletConfigError(f"{name}: env entries need a name")
            env.append((variable["name"], str(variable.get("value", ""))))
        args = entry.get("args") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise KubeletConfigError(f"{name}: args must be strings")
        attributes = entry.get("tokenAttributes")
        token_attributes = None
        if attributes is not None:
            if api_version != f"{GROUP}/v1":
                raise KubeletConfigError(f"{name}: tokenAttributes is only supported for v1")
            token_attributes = _parse_token_attributes(name, attributes)
        providers.append(
            Provider(
                name,
                tuple(images),
                default_duration,
                api_version,
                tuple(args),
                tuple(env),
                token_attributes,
            )
        )
    return providers


def _parse_token_attributes(name: str, attributes: object) -> TokenAttributes:
    if not isinstance(attributes, dict):
        raise KubeletConfigError(f"{name}: tokenAttributes must be an object")
    audience = attributes.get("serviceAccountTokenAudience")
    if not isinstance(audience, str) or not audience:
        raise KubeletConfigError(f"{name}: serviceAccountTokenAudience is required")
    cache_type = attributes.get("cacheType")
    if cache_type not in ("ServiceAccount", "Token"):
        raise KubeletConfigError(f"{name}: cacheType must be ServiceAccount or Token")
    require = attributes.get("requireServiceAccount")
    if not isinstance(require, bool):
        raise KubeletConfigError(f"{name}: requireServiceAccount is required")
    required = tuple(attributes.get("requiredServiceAccountAnnotationKeys") or ())
    optional = tuple(attributes.get("optionalServiceAccountAnnotationKeys") or ())
    if set(required) & set(optional):
        raise KubeletConfigError(f"{name}: an annotation key cannot be both required and optional")
    return TokenAttributes(audience, cache_type, require, required, optional)


# -- one plugin ------------------------------------------------------------------------------


@dataclass
class ServiceAccount:
    """The pod's service account, as kubelet knows it (and the token it requests for it)."""

    namespace: str
    name: str
    uid: str
    annotations: Mapping[str, str]
    token: str


@dataclass
class _CacheEntry:
    credentials: dict[str, AuthConfig]
    expires_at: float


_ALLOWED_RESPONSE_FIELDS = {"kind", "apiVersion", "cacheKeyType", "cacheDuration", "auth"}


def encode_request(
    api_version: str, image: str, token: str = "", annotations: Optional[Mapping[str, str]] = None
) -> bytes:
    """The request kubelet writes to the plugin's stdin (Go's encoding, one line)."""
    request: dict[str, object] = {
        "kind": "CredentialProviderRequest",
        "apiVersion": api_version,
        "image": image,
    }
    if token:
        request["serviceAccountToken"] = token
    if annotations:
        request["serviceAccountAnnotations"] = dict(sorted(annotations.items()))
    return (json.dumps(request, separators=(",", ":")) + "\n").encode()


@dataclass
class Response:
    cache_key_type: str
    cache_duration: Optional[float]
    auth: dict[str, AuthConfig]


def decode_response(data: bytes, api_version: str) -> Response:
    """kubelet's strict decoding of the plugin's stdout; PluginError without quoting it."""
    try:
        document = json.loads(data)
    except ValueError:
        raise PluginError("error reading GVK from response") from None
    if not isinstance(document, dict):
        raise PluginError("error reading GVK from response")
    if document.get("apiVersion") != api_version:
        raise PluginError(
            "apiVersion from credential plugin response did not match expected apiVersion:"
            f"{api_version}, actual apiVersion:{document.get('apiVersion')}"
        )
    # The decoding error never carries the response: it may hold credentials.
    failure = PluginError("error decoding credential provider plugin response from stdout")
    if document.get("kind") != "CredentialProviderResponse":
        raise failure
    if set(document) - _ALLOWED_RESPONSE_FIELDS:
        raise failure
    cache_key_type = document.get("cacheKeyType")
    if not isinstance(cache_key_type, str):
        raise failure
    duration = document.get("cacheDuration")
    cache_duration: Optional[float] = None
    if duration is not None:
        try:
            cache_duration = parse_go_duration(duration)
        except ValueError:
            raise failure from None
    auth_document = document.get("auth") or {}
    if not isinstance(auth_document, dict):
        raise failure
    auth = {}
    for key, value in auth_document.items():
        if not isinstance(value, dict) or set(value) - {"username", "password"}:
            raise failure
        username, password = value.get("username", ""), value.get("password", "")
        if not isinstance(username, str) or not isinstance(password, str):
            raise failure
        auth[key] = AuthConfig(username, password)
    return Response(cache_key_type, cache_duration, auth)


def merge_env(system: Mapping[str, str], config: Sequence[tuple[str, str]]) -> dict[str, str]:
    """kubelet's mergeEnvVars: the system's, then the config's appended (so the config wins)."""
    merged = dict(system)
    merged.update(config)
    return merged


class PluginProvider:
    """One configured provider: matching, exec, strict decoding, the cache."""

    def __init__(
        self,
        provider: Provider,
        bin_dir: Path,
        *,
        environ: Optional[Mapping[str, str]] = None,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = EXEC_TIMEOUT,
        log: Optional[list[str]] = None,
    ) -> None:
        self.provider = provider
        self.bin_dir = bin_dir
        self.environ = dict(os.environ if environ is None else environ)
        self.clock = clock
        self.timeout = timeout
        self.log = log if log is not None else []
        self.cache: dict[str, _CacheEntry] = {}
        self.execs = 0  # how many times the plugin ran
        self._lock = threading.Lock()
        self._flights: dict[str, threading.Lock] = {}

    def is_image_allowed(self, image: str) -> bool:
        return any(urls_match(pattern, image) for pattern in self.provider.match_images)

    def _service_account_key(self, account: ServiceAccount, annotations: Mapping[str, str]) -> str:
        parts = [account.namespace, account.name, account.uid, str(len(annotations))]
        for key in sorted(annotations):
            parts += [key, annotations[key]]
        return json.dumps(parts)

    def _annotations(self, account: ServiceAccount) -> Optional[dict[str, str]]:
        attributes = self.provider.token_attributes
        assert attributes is not None
        chosen = {}
        for key in attributes.required_annotation_keys:
            if key not in account.annotations:
                return None  # kubelet does not call the plugin
            chosen[key] = account.annotations[key]
        for key in attributes.optional_annotation_keys:
            if key in account.annotations:
                chosen[key] = account.annotations[key]
        return chosen

    def _cached(self, image: str, sa_key: str) -> Optional[dict[str, AuthConfig]]:
        now = self.clock()
        with self._lock:
            for base in (image, parse_registry(image), GLOBAL_CACHE_KEY):
                entry = self.cache.get(json.dumps([base, sa_key]))
                if entry is None:
                    continue
                if now > entry.expires_at:
                    del self.cache[json.dumps([base, sa_key])]
                    continue
                return entry.credentials
        return None

    def provide(  # noqa: PLR0911 - each refusal kubelet makes is its own return
        self, image: str, account: Optional[ServiceAccount] = None
    ) -> dict[str, AuthConfig]:
        """The docker config this provider contributes for `image` (empty on any failure)."""
        if not self.is_image_allowed(image):
            return {}
        attributes = self.provider.token_attributes
        token, annotations, sa_key = "", None, ""
        if attributes is not None:
            if account is None and attributes.require_service_account:
                return {}
            if account is not None:
                annotations = self._annotations(account)
                if annotations is None:
                    return {}
                token = account.token
                sa_key = (
                    self._service_account_key(account, annotations)
                    if attributes.cache_type == "ServiceAccount"
                    else "sha256:" + hashlib.sha256(token.encode()).hexdigest()
                )
        cached = self._cached(image, sa_key)
        if cached is not None:
            return cached
        flight_key = json.dumps([image, hashlib.sha256(token.encode()).hexdigest(), annotations])
        with self._lock:
            flight = self._flights.setdefault(flight_key, threading.Lock())
        with flight:  # concurrent requests for one image: one exec, the others read the cache
            cached = self._cached(image, sa_key)
            if cached is not None:
                return cached
            try:
                response = self.exec_plugin(image, token, annotations)
            except PluginError as exc:
                self.log.append(
                    f"Failed getting credential from external registry credential provider: {exc}"
                )
                return {}
            return self._remember(image, sa_key, response, token, attributes)

    def _remember(
        self,
        image: str,
        sa_key: str,
        response: Response,
        token: str,
        attributes: Optional[TokenAttributes],
    ) -> dict[str, AuthConfig]:
        if response.cache_key_type == "Image":
            base = image
        elif response.cache_key_type == "Registry":
            base = parse_registry(image)
        elif response.cache_key_type == "Global":
            base = GLOBAL_CACHE_KEY
        else:
            self.log.append(
                "credential provider plugin did not return a valid cacheKeyType: "
                f"{response.cache_key_type!r}"
            )
            return {}
        if (
            attributes is not None
            and attributes.cache_type == "ServiceAccount"
            and token
            and any(auth.password == token for auth in response.auth.values())
        ):
            self.log.append(
                "credential provider plugin returned the service account token as password"
            )
            return {}
        credentials = dict(response.auth)
        duration = response.cache_duration
        if duration == 0:
            return credentials
        if duration is None:
            if self.provider.default_cache_duration == 0:
                return credentials
            duration = self.provider.default_cache_duration
        with self._lock:
            self.cache[json.dumps([base, sa_key])] = _CacheEntry(
                credentials, self.clock() + duration
            )
        return credentials

    def exec_plugin(
        self, image: str, token: str = "", annotations: Optional[Mapping[str, str]] = None
    ) -> Response:
        """Run the plugin once, as kubelet's execPlugin does."""
        provider = self.provider
        request = encode_request(provider.api_version, image, token, annotations)
        command = [str(self.bin_dir / provider.name), *provider.args]
        self.execs += 1
        prefix = f"error execing credential provider plugin {provider.name} for image {image}"
        try:
            result = subprocess.run(
                command,
                input=request,
                capture_output=True,
                env=merge_env(self.environ, provider.env),
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            stderr = (exc.stderr or b"").decode("utf-8", "replace")
            raise PluginError(f"{prefix}: context deadline exceeded: {stderr}") from None
        except OSError as exc:
            raise PluginError(f"{prefix}: {exc.strerror}") from None
        if result.returncode != 0:
            stderr = result.stderr.decode("utf-8", "replace")
            raise PluginError(f"{prefix}: exit status {result.returncode}: {stderr}")
        return decode_response(result.stdout, provider.api_version)


@dataclass
class Kubelet:
    """The providers of one config, as kubelet's lookup for an image uses them."""

    providers: list[PluginProvider] = field(default_factory=list)

    @classmethod
    def from_config(
        cls,
        config: Path,
        bin_dir: Path,
        *,
        environ: Optional[Mapping[str, str]] = None,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = EXEC_TIMEOUT,
        log: Optional[list[str]] = None,
    ) -> Kubelet:
        return cls(
            [
                PluginProvider(p, bin_dir, environ=environ, clock=clock, timeout=timeout, log=log)
                for p in load_config(config)
            ]
        )

    def credentials(self, image: str, account: Optional[ServiceAccount] = None) -> list[AuthConfig]:
        """Credentials to try for `image`, in kubelet's order (earlier provider first)."""
        found: list[AuthConfig] = []
        for provider in self.providers:
            keyring = DockerKeyring()
            keyring.add(provider.provide(image, account))
            found.extend(keyring.lookup(image))
        return found
