"""`docker-credential-convox kubelet`: the helper as a kubelet image credential provider.

kubelet (`--image-credential-provider-config`, `--image-credential-provider-bin-dir`) runs
`docker-credential-convox kubelet` with one CredentialProviderRequest on stdin and reads one
CredentialProviderResponse from stdout. The answer is the one `get` gives for the image's
registry: local entries first, then the fleet's shared entry, ECR tokens minted from the same
sources into the same kind of cache. Two things are the provider's own:

- a request with a service-account token and a role (the annotation
  `eks.amazonaws.com/ecr-role-arn`, else AWS_ECR_ROLE_ARN) mints the ECR token with that
  workload's credentials (sts:AssumeRoleWithWebIdentity), cached apart from the node's, as
  cloud-provider-aws's ecr-credential-provider does; without a role the node's own credentials
  answer;
- nodes run kubelet as root under systemd, with no session bus and usually no XDG_RUNTIME_DIR:
  there the caches live in /run/docker-credential-convox (a tmpfs), never on persistent disk.

Invalid requests exit 1 with one line on stderr and nothing on stdout (kubelet logs stderr,
never stdout). No credentials anywhere is not an error: an empty `auth` (kubelet then pulls
anonymously), cached no longer than the shared cache's age so a newly shared registry is seen.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import time

from docker_credential_convox import APP, TYPE_CHECKING
from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.errors import BadRequest, CredentialsNotFound, HelperError
from docker_credential_convox.helper import LOCAL, Helper, Route, entries_under
from docker_credential_convox.server_keys import (
    _ECR_SUFFIXES,
    DOCKER_HUB_KEY,
    ECR,
    ECR_PUBLIC_HOSTS,
    REGISTRY,
    Server,
    parse_server,
)
from docker_credential_convox.settings import (
    ENV_CACHE_DIR,
    ENV_ECR_LOGIN_CACHE_DIR,
    ENV_RUNTIME_DIR,
    ENV_SHARED,
    Settings,
)
from docker_credential_convox.sources import is_role_arn
from docker_credential_convox.sources.ecr_roles import EcrWebIdentity

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import IO, Callable, Optional, TextIO

    from docker_credential_convox.protocol import Credentials

GROUP = "credentialprovider.kubelet.k8s.io"
API_VERSIONS = (f"{GROUP}/v1", f"{GROUP}/v1beta1", f"{GROUP}/v1alpha1")
REQUEST_KIND = "CredentialProviderRequest"
RESPONSE_KIND = "CredentialProviderResponse"
ROLE_ANNOTATION = "eks.amazonaws.com/ecr-role-arn"
ENV_ROLE = "AWS_ECR_ROLE_ARN"
NODE_RUNTIME_DIR = f"/run/{APP}"
MAX_REQUEST_BYTES = 256 * 1024
# kubelet kills a plugin after 60 s; whatever AWS does, this one answers (one line) before.
WATCHDOG_SECONDS = 50
PROVIDER_NAME = APP
DEFAULT_CACHE_DURATION = "5m"


class ProviderRequest:
    """One CredentialProviderRequest. The token never shows in repr."""

    __slots__ = ("annotations", "api_version", "image", "token")

    def __init__(
        self,
        api_version: str,
        image: str,
        token: str = "",
        annotations: Optional[dict[str, str]] = None,
    ) -> None:
        self.api_version = api_version
        self.image = image
        self.token = token
        self.annotations = annotations or {}

    def __repr__(self) -> str:
        return f"ProviderRequest({self.api_version!r}, {self.image!r}, token=***)"


def parse_request(data: bytes) -> ProviderRequest:
    """The request on stdin; a one-line BadRequest that never quotes it (it holds a token)."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest(f"invalid {REQUEST_KIND} on stdin: not JSON") from None
    if not isinstance(document, dict):
        raise BadRequest(f"invalid {REQUEST_KIND} on stdin: not a JSON object")
    if document.get("kind") != REQUEST_KIND:
        raise BadRequest(f"invalid request on stdin: kind must be {REQUEST_KIND}")
    api_version = document.get("apiVersion")
    if api_version not in API_VERSIONS:
        raise BadRequest(
            f"invalid {REQUEST_KIND}: apiVersion must be one of {', '.join(API_VERSIONS)}"
        )
    image = document.get("image")
    if not isinstance(image, str) or not image.strip():
        raise BadRequest(f"invalid {REQUEST_KIND}: image is empty")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in image):
        raise BadRequest(f"invalid {REQUEST_KIND}: image contains whitespace or control characters")
    token = document.get("serviceAccountToken") or ""
    if not isinstance(token, str):
        raise BadRequest(f"invalid {REQUEST_KIND}: serviceAccountToken must be a string")
    annotations = document.get("serviceAccountAnnotations") or {}
    if not isinstance(annotations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
    ):
        raise BadRequest(f"invalid {REQUEST_KIND}: serviceAccountAnnotations must map strings")
    return ProviderRequest(api_version, image, token, annotations)


def registry_of(image: str) -> str:
    """The registry host (with its port) an image is pulled from, as kubelet's auth keys need."""
    first = image.partition("/")[0]
    if any(ch in first for ch in ".:") or first == "localhost":
        return first  # kubelet sends `host/repository`; a bare host is a registry too
    return "docker.io"  # `nginx`, `library/nginx`: Docker Hub


def go_duration(seconds: float) -> str:
    """Whole seconds as Go's time.Duration.String prints them (`6h0m0s`, `5m0s`, `0s`)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


class Answer:
    """What the provider answers for one image."""

    __slots__ = ("auth", "cache_key_type", "seconds")

    def __init__(
        self, cache_key_type: str, seconds: float, auth: dict[str, tuple[str, str]]
    ) -> None:
        self.cache_key_type = cache_key_type
        self.seconds = seconds
        self.auth = auth


def render_response(api_version: str, answer: Answer) -> str:
    """The CredentialProviderResponse: only documented fields, as kubelet decodes strictly."""
    document = {
        "kind": RESPONSE_KIND,
        "apiVersion": api_version,
        "cacheKeyType": answer.cache_key_type,
        "cacheDuration": go_duration(answer.seconds),
        "auth": {
            key: {"username": username, "password": password}
            for key, (username, password) in sorted(answer.auth.items())
        },
    }
    return json.dumps(document, separators=(",", ":")) + "\n"


def token_subject(token: str) -> str:
    """The `sub` claim of a service-account token (`system:serviceaccount:NS:NAME`), read
    without verifying it (STS verifies it); a digest of the token when it cannot be read."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        subject = claims.get("sub") if isinstance(claims, dict) else None
        if isinstance(subject, str) and subject:
            return subject
    except (IndexError, ValueError, UnicodeDecodeError):
        pass
    import hashlib  # loads OpenSSL (~10 ms): only for a token without a subject

    return "sha256:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def answer(request: ProviderRequest, helper: Helper, clock: Callable[[], float]) -> Answer:
    """The credentials `get` gives for the image's registry, with how long kubelet may keep them."""
    registry = registry_of(request.image)
    miss = Answer("Registry", helper.settings.shared_max_age, {})
    try:
        server = parse_server(registry)
    except HelperError:
        return miss  # not a registry the helper could hold anything for
    role = request.annotations.get(ROLE_ANNOTATION) or helper.settings.environ.get(ENV_ROLE, "")
    try:
        if server.kind == ECR and request.token and role.strip():
            credentials = _workload_token(helper, server, role.strip(), request.token)
        elif server.kind == REGISTRY and server.key != DOCKER_HUB_KEY:
            # The image's path: a stored `registry/team` answers `registry/team/app`, as in `get`.
            credentials = helper.get(request.image)
        else:
            credentials = helper.get(registry)
    except CredentialsNotFound:
        return miss
    if credentials.expires_at is not None:
        seconds = max(0.0, (credentials.expires_at - clock()) / 2)
    else:
        seconds = helper.settings.shared_max_age
    key_type = "Image" if _answer_depends_on_path(helper, server) else "Registry"
    return Answer(key_type, seconds, {registry: (credentials.username, credentials.secret)})


def _answer_depends_on_path(helper: Helper, server: Server) -> bool:
    """Whether images of this registry can get different answers (path entries are stored)."""
    if server.kind != REGISTRY:
        return False
    # What `registries remove` would forget for the registry: its entry and its path entries
    # (with the pass store, its logins outside the index too).
    registry = server.with_key(server.registry)
    return any(entry.key != registry.key for entry in entries_under(helper.entries(), registry))


def _workload_token(helper: Helper, server: Server, role: str, token: str) -> Credentials:
    """A token minted with the workload's role (sts:AssumeRoleWithWebIdentity)."""
    if not is_role_arn(role):
        raise BadRequest(
            f"the service account's {ROLE_ANNOTATION} does not name a role: expected "
            "arn:aws:iam::ACCOUNT:role/NAME"
        )
    source = EcrWebIdentity(role, token, token_subject(token))
    # Not the registry's route: the workload's own role answers, whatever the node has stored.
    return helper.answer(Route(LOCAL, server, source, "the service account's role"))


# -- the node's environment --------------------------------------------------------------------


def node_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the provider runs with: caches in a runtime directory (a tmpfs), never
    on persistent disk, including for root under systemd with no XDG_RUNTIME_DIR."""
    env = dict(environ)
    runtime = Settings(env).runtime_dir
    if runtime is None and os.getuid() == 0 and os.path.isdir("/run"):
        env[ENV_RUNTIME_DIR] = NODE_RUNTIME_DIR
        runtime = NODE_RUNTIME_DIR
    if runtime is not None and not env.get(ENV_CACHE_DIR) and not env.get(ENV_ECR_LOGIN_CACHE_DIR):
        env[ENV_CACHE_DIR] = os.path.join(runtime, "cache")
    return env


# -- `kubelet config` --------------------------------------------------------------------------


def ecr_match_images() -> list[str]:
    """matchImages for every ECR host form the helper knows, and ECR Public."""
    patterns = []
    for suffix in sorted(_ECR_SUFFIXES):
        for dkr in ("dkr.ecr", "dkr.ecr-fips", "dkr-ecr", "dkr-ecr-fips"):
            patterns.append(f"*.{dkr}.*.{suffix}")
    return patterns + sorted(ECR_PUBLIC_HOSTS)


def provider_entry(
    shared: Optional[str], extra_images: Sequence[str], service_account_tokens: bool
) -> dict[str, object]:
    """The CredentialProviderConfig entry that runs this helper."""
    entry: dict[str, object] = {
        "name": PROVIDER_NAME,
        "matchImages": ecr_match_images() + [i for i in extra_images if i],
        "defaultCacheDuration": DEFAULT_CACHE_DURATION,
        "apiVersion": API_VERSIONS[0],
        "args": ["kubelet"],
    }
    if shared:
        entry["env"] = [{"name": ENV_SHARED, "value": shared}]
    if service_account_tokens:
        entry["tokenAttributes"] = {
            "serviceAccountTokenAudience": "sts.amazonaws.com",
            "cacheType": "ServiceAccount",
            "requireServiceAccount": False,
            "optionalServiceAccountAnnotationKeys": [ROLE_ANNOTATION],
        }
    return entry


CONFIG_USAGE = (
    f"usage: {APP} kubelet config [--merge FILE] [--match IMAGE]... [--shared-registries] "
    "[--service-account-tokens]"
)


def _config(args: Sequence[str], out: TextIO, environ: Mapping[str, str], helper: Helper) -> None:
    import argparse  # only `kubelet config` parses options

    parser = argparse.ArgumentParser(prog=f"{APP} kubelet config", add_help=True)
    parser.add_argument(
        "--merge", metavar="FILE", help="an existing CredentialProviderConfig to add to"
    )
    parser.add_argument(
        "--match",
        metavar="IMAGE",
        action="append",
        default=[],
        help="another matchImages pattern (a registry host, globs allowed)",
    )
    parser.add_argument(
        "--shared-registries",
        action="store_true",
        help="add the hosts of the shared scope's registries to matchImages",
    )
    parser.add_argument(
        "--service-account-tokens",
        action="store_true",
        help="ask kubelet for service-account tokens (KEP-4412, Kubernetes 1.34+)",
    )
    options = parser.parse_args(list(args))
    shared, _ = helper.settings.shared_setting
    images = list(options.match)
    if options.shared_registries:
        if helper.shared is None:
            raise BadRequest(
                "--shared-registries needs a shared scope: set DOCKER_CREDENTIAL_CONVOX_SHARED"
            )
        images += sorted({e.entry.key.split("/", 1)[0] for e in helper.shared.listing()})
    entry = provider_entry(shared, images, options.service_account_tokens)
    if options.merge is None:
        out.write(json.dumps(entry, indent=2) + "\n")
        return
    document = _read_config(options.merge)
    existing = document["providers"]
    assert isinstance(existing, list)  # _read_config checked it
    providers = [
        p for p in existing if not (isinstance(p, dict) and p.get("name") == PROVIDER_NAME)
    ]
    document["providers"] = [*providers, entry]
    out.write(json.dumps(document, indent=2) + "\n")


def _read_config(path: str) -> dict[str, object]:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise BadRequest(
            f"{path} is not JSON: give the CredentialProviderConfig kubelet reads"
        ) from None
    if (
        not isinstance(document, dict)
        or document.get("kind") != "CredentialProviderConfig"
        or not isinstance(document.get("providers"), list)
    ):
        raise BadRequest(f"{path} is not a CredentialProviderConfig with a providers list")
    return document


# -- the command -------------------------------------------------------------------------------


def main(
    args: Sequence[str], stdin: IO[bytes], out: TextIO, err: TextIO, environ: Mapping[str, str]
) -> int:
    """`kubelet` (one request on stdin) or `kubelet config`; errors are one line on stderr."""
    env = node_environ(environ)
    settings = Settings(env)
    helper = Helper(settings, Diagnostics(err, settings.debug))
    try:
        if list(args[:1]) == ["config"]:
            _config(args[1:], out, env, helper)
            return 0
        if args:
            raise BadRequest(f"unknown argument {args[0]!r}; {CONFIG_USAGE}")
        _arm_watchdog(err)
        data = stdin.read(MAX_REQUEST_BYTES + 1)
        if len(data) > MAX_REQUEST_BYTES:
            raise BadRequest(f"request on stdin is larger than {MAX_REQUEST_BYTES // 1024} KiB")
        request = parse_request(data)
        response = render_response(request.api_version, answer(request, helper, time.time))
    except HelperError as exc:
        err.write(f"{APP} kubelet: {exc.message}\n")
        return 1
    except Exception as exc:  # kubelet logs stderr, never stdout: one line there, no traceback
        if settings.debug:
            import traceback  # only to show an internal error

            traceback.print_exc(file=err)
        err.write(
            f"{APP} kubelet: internal error ({type(exc).__name__}); "
            "set DOCKER_CREDENTIAL_CONVOX_DEBUG=1 and retry to see the details\n"
        )
        return 1
    out.write(response)
    return 0


def _arm_watchdog(err: TextIO) -> None:
    """End the process with one line before kubelet's 60 s timeout would kill it silently."""

    def expire(_signum: int, _frame: object) -> None:
        err.write(f"{APP} kubelet: no answer within {WATCHDOG_SECONDS} s; giving up\n")
        err.flush()
        os._exit(1)

    signal.signal(signal.SIGALRM, expire)
    signal.alarm(WATCHDOG_SECONDS)
