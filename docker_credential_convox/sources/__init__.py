"""How a registry's credentials are produced: one small class per credential source.

In the manner of botocore's credential providers, each source knows how to read itself from a
registry-index entry (`from_entry`) and from a `store` request (`claims`, `from_request`), what
it records (`entry`) and which secret it keeps in the secret store (`secret_username`), how to
describe itself (messages, `registries list`, `doctor`) and which backend serves it. The ECR
sources also name themselves for the token cache and produce AWS credentials (sources/ecr.py).

Nothing here touches a secret store or the network, and no class imports botocore or keyring
at module level: the router reads a source on every `get`, including one answered from the
token cache. Adding a source is one class in one module plus its line in `_classes`; the stored
login, which every index entry was before sources had names, is here, the ECR ones in ecr.py.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.registry_index import Entry
from docker_credential_convox.server_keys import DOCKER_HUB_KEY, REGISTRY, strip_userinfo

# The `store` Username of an ECR role (`role:ARN`), here rather than in sources/ecr.py so that the
# shared documents' reader and the kubelet provider check roles without loading the ECR sources.
ROLE_PREFIX = "role:"


def is_role_arn(text: str) -> bool:
    """Whether `text` names an IAM role, as AWS writes one: arn:PARTITION:iam::ACCOUNT:role/NAME."""
    return text.startswith("arn:") and ":role/" in text


if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import ClassVar, Optional

    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.protocol import Credentials
    from docker_credential_convox.server_keys import Server

# Which backend serves a source (backends/): a login kept as it is, or tokens minted from AWS.
STORED = "stored"
MINTED = "minted"


class Source:
    """Where one registry's credentials come from; holds no secret."""

    kind: ClassVar[str] = ""
    backend: ClassVar[str] = STORED

    def __init__(self, username: str, options: Optional[Mapping[str, str]] = None) -> None:
        self.username = username
        self.options: dict[str, str] = dict(options or {})

    @classmethod
    def claims(cls, server: Server, credentials: Credentials) -> bool:
        """Whether a `store` request for `server` describes this source."""
        return False

    @classmethod
    def from_request(
        cls, server: Server, credentials: Credentials, diagnostics: Diagnostics
    ) -> tuple[Source, Optional[str]]:
        """The source a `store` request describes and the secret to keep (BadRequest if bad)."""
        raise NotImplementedError

    @classmethod
    def from_entry(cls, entry: Entry) -> Optional[Source]:
        """The source an index entry of this kind records; None if the entry is incomplete."""
        return cls(entry.username, entry.options)

    @property
    def secret_username(self) -> Optional[str]:
        """The username its secret is filed under in the secret store; None: it keeps none."""
        return None

    @property
    def shown_username(self) -> str:
        """The username `registries list` shows ("" for none)."""
        return self.username

    def entry(self, key: str, server_url: str) -> Entry:
        """The index entry that records this source for registry `key`."""
        return Entry(key, server_url, self.username, self.kind, self.options)

    def describe(self) -> str:
        """The source in words, for messages."""
        raise NotImplementedError

    def detail(self) -> str:
        """The source in a few words, for the KIND column of `registries list`."""
        raise NotImplementedError

    def answered_as(self, server: Server, diagnostics: Diagnostics) -> Server:
        """The registry whose credentials answer `server` (another, for an alias)."""
        return server

    def list_kind(self, server_kind: str) -> str:
        """The KIND column: the detail, after the registry's kind for ECR registries."""
        return self.detail() if server_kind == REGISTRY else f"{server_kind}: {self.detail()}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"


class StoredLogin(Source):
    """A stored login: the username and secret a client gave `store`, returned as they are.

    The source of every ordinary registry (and of an ECR host stored before the helper minted
    tokens), and of every entry written before the index named sources: the index records the
    username, the secret store keeps the secret under it.
    """

    kind = "keyring"  # the index's name for it since the first release
    backend = STORED

    @classmethod
    def claims(cls, server: Server, credentials: Credentials) -> bool:
        return server.kind == REGISTRY

    @classmethod
    def from_request(
        cls, server: Server, credentials: Credentials, diagnostics: Diagnostics
    ) -> tuple[Source, Optional[str]]:
        return cls(credentials.username), credentials.secret

    @property
    def secret_username(self) -> Optional[str]:
        return self.username

    def describe(self) -> str:
        return f"the login of {self.username} stored for this registry"

    def detail(self) -> str:
        return "keyring"


def _classes() -> tuple[type[Source], ...]:
    """Every source, in the order a `store` request is matched against them."""
    from docker_credential_convox.sources import ecr, ecr_roles

    return (
        ecr.EcrAlias,
        StoredLogin,
        ecr.EcrLoginToken,
        ecr_roles.EcrProfile,
        ecr_roles.EcrRole,
        ecr.EcrKeys,  # an ECR registry's other usernames: access key IDs
    )


def class_of(kind: str) -> Optional[type[Source]]:
    """The source class an index entry's `Source` names, None for a kind this release lacks.
    Each module of sources is loaded only when an entry names a kind it may hold: a stored
    login's `get` loads no ECR source, a `get` on access keys or an alias no role source."""
    if kind == StoredLogin.kind:
        return StoredLogin
    from docker_credential_convox.sources import ecr

    found = _kinds(ecr.EcrKeys, ecr.EcrLoginToken, ecr.EcrAlias).get(kind)
    if found is None:
        from docker_credential_convox.sources import ecr_roles

        found = _kinds(ecr_roles.EcrProfile, ecr_roles.EcrRole).get(kind)
    return found


def _kinds(*classes: type[Source]) -> dict[str, type[Source]]:
    return {cls.kind: cls for cls in classes}


def from_entry(server_kind: str, entry: Optional[Entry]) -> Optional[Source]:
    """The source a registry's entry records; without a usable one, an ECR registry's default
    chain, and None (nothing stored) for any other registry (`server_kind`: server_keys.py)."""
    if entry is not None:
        source_class = class_of(entry.source)
        source = source_class.from_entry(entry) if source_class is not None else None
        if source is not None:
            return source
        if server_kind == REGISTRY:
            return StoredLogin(entry.username)  # as the first releases read every entry
    if server_kind == REGISTRY:
        return None
    from docker_credential_convox.sources.ecr import EcrDefaultChain  # off a stored login's path

    return EcrDefaultChain()


def from_request(
    server: Server, credentials: Credentials, diagnostics: Diagnostics
) -> tuple[Source, Optional[str]]:
    """The source a `store` request for `server` describes, and the secret it keeps."""
    source_class = next(cls for cls in _classes() if cls.claims(server, credentials))
    return source_class.from_request(server, credentials, diagnostics)


def kept_secret(entry: Entry) -> Optional[str]:
    """The username the secret of an index entry is filed under, None if it keeps none."""
    source_class = class_of(entry.source)
    source = source_class.from_entry(entry) if source_class is not None else None
    return source.secret_username if source is not None else None


def backend_of(entry: Entry) -> str:
    """Which backend lists an index entry (a kind this release lacks: the stored logins')."""
    source_class = class_of(entry.source)
    return source_class.backend if source_class is not None else STORED


def listing(entries: Mapping[str, Entry], backend: str) -> dict[str, str]:
    """Server URL -> username of the index entries `backend` answers (its part of `list`)."""
    return {
        listed_url(entry): entry.username
        for entry in entries.values()
        if backend_of(entry) == backend
    }


# The key Docker files the Hub's own login under, and the only one its legacy build looks up
# in `list`'s answer (GetAllCredentials), whichever alias stored the entry.
DOCKER_HUB_URL = "https://index.docker.io/v1/"


def listed_url(entry: Entry) -> str:
    """The server URL `list` shows for an entry: as stored, Docker Hub's as Docker keys it."""
    if entry.key == DOCKER_HUB_KEY:
        return DOCKER_HUB_URL
    # strip_userinfo: an earlier release kept a password sent in the URL.
    return strip_userinfo(entry.server_url)
