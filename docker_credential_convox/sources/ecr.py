"""The credential sources of Amazon ECR registries, one class each.

Access keys (`ecr-keys`: Username = access key ID, the secret access key in the secret store), a
profile (`ecr-profile`, `store` Username `profile:NAME`), a role (`ecr-role`, Username
`role:ARN`, Secret = optional external ID), and the AWS default chain when nothing is recorded
produce AWS credentials, with which the ECR backend mints registry tokens (the profile and role
sources are in sources/ecr_roles.py, off the common paths). A token from
`aws ecr get-login-password` (`ecr-login`, Username `AWS`, as `docker login` sends it) is kept
in the secret store and returned for `LOGIN_TOKEN_LIFETIME` after it was stored. An alias
(`ecr-alias`, `store` Username `ecr-alias:<ECR host>`) is another name for an ECR registry.

A source hands the AWS layer (aws/) plain values, its `credential_plan`, and never the reverse: a
`get` answered from the token cache reads a source's identity, and loads no module of that layer.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.errors import BadRequest, CredentialsNotFound, HelperError
from docker_credential_convox.filecache import describe_time
from docker_credential_convox.server_keys import ECR, REGISTRY, parse_server
from docker_credential_convox.sources import MINTED, Source

if TYPE_CHECKING:
    from typing import ClassVar, Optional

    from docker_credential_convox.aws.credentials import CredentialPlan
    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.protocol import Credentials
    from docker_credential_convox.server_keys import Server
    from docker_credential_convox.settings import Settings

LOGIN_USERNAME = "AWS"
PROFILE_PREFIX = "profile:"
ECR_ALIAS_PREFIX = "ecr-alias:"
# `aws ecr get-login-password` tokens last 12 hours; the helper cannot read their expiry, so it
# counts from the moment they were stored (the earliest they can have been issued is earlier,
# hence the margin).
LOGIN_TOKEN_LIFETIME = 12 * 3600.0
LOGIN_TOKEN_MARGIN = 15 * 60.0
CHAIN_DESCRIPTION = "the AWS default credential chain"
# How a failed check of a source begins (a verified `store`, an alias whose target answers not).
VERIFY = "unable to authenticate to"


def private_ecr_registry(text: str) -> Optional[Server]:
    """The private ECR registry `text` names (an alias target), or None for anything else."""
    try:
        server = parse_server(text) if text.strip() else None
    except HelperError:
        return None
    return server if server is not None and server.kind == ECR else None


class AwsSource(Source):
    """A source of AWS credentials, with which the ECR backend mints registry tokens."""

    backend = MINTED
    profile: Optional[str] = None
    role_arn: Optional[str] = None
    external_id: Optional[str] = None
    web_identity_token: Optional[str] = None
    # What a `store` Username starts with for this source ("": any, the access keys' fallback).
    username_prefix: ClassVar[str] = ""

    @classmethod
    def claims(cls, server: Server, credentials: Credentials) -> bool:
        return server.kind != REGISTRY and credentials.username.startswith(cls.username_prefix)

    def identity(self, settings: Settings) -> dict[str, object]:
        """What names this source for the token cache, without resolving any credential."""
        raise NotImplementedError

    def credential_plan(self) -> CredentialPlan:
        """Where the AWS layer finds this source's credentials, in plain values."""
        from docker_credential_convox.aws.credentials import CredentialPlan

        return CredentialPlan(
            access_key_id=self.secret_username,  # stored keys file their secret under the key ID
            profile=self.profile,
            role_arn=self.role_arn,
            external_id=self.external_id,
            web_identity_token=self.web_identity_token,
        )


class EcrKeys(AwsSource):
    """An IAM user's access keys stored for the registry."""

    kind = "ecr-keys"

    @classmethod
    def from_request(
        cls, server: Server, credentials: Credentials, diagnostics: Diagnostics
    ) -> tuple[Source, Optional[str]]:
        username = credentials.username
        if any(ch.isspace() or ch == ":" for ch in username):
            raise BadRequest(
                f"`{username}` is not an AWS access key ID; for an ECR registry the username "
                "is an access key ID, `AWS`, `profile:NAME` or `role:ARN`"
            )
        if not credentials.secret:
            raise BadRequest(f"no secret access key for {username}: give it as the password")
        return cls(username), credentials.secret

    @property
    def secret_username(self) -> Optional[str]:
        return self.username

    def describe(self) -> str:
        return f"the access key {self.username} stored for this registry"

    def detail(self) -> str:
        return "access keys"

    def identity(self, settings: Settings) -> dict[str, object]:
        return {"keys": self.username}


class EcrDefaultChain(AwsSource):
    """The AWS default chain: environment, shared config and SSO, web identity, instance role."""

    kind = "default-chain"  # never recorded: the source of an ECR registry without an entry

    def __init__(self) -> None:
        super().__init__("")

    @classmethod
    def claims(cls, server: Server, credentials: Credentials) -> bool:
        return False

    def describe(self) -> str:
        return CHAIN_DESCRIPTION

    def detail(self) -> str:
        return "default AWS chain"

    def identity(self, settings: Settings) -> dict[str, object]:
        return {"default": settings.aws_default_chain_identity()}


class EcrLoginToken(Source):
    """A registry token from `aws ecr get-login-password`, stored with Username `AWS` and
    returned until `LOGIN_TOKEN_LIFETIME` after it was stored; the default chain after that."""

    kind = "ecr-login"
    backend = MINTED

    @classmethod
    def claims(cls, server: Server, credentials: Credentials) -> bool:
        return server.kind != REGISTRY and credentials.username == LOGIN_USERNAME

    @classmethod
    def from_request(
        cls, server: Server, credentials: Credentials, diagnostics: Diagnostics
    ) -> tuple[Source, Optional[str]]:
        if not credentials.secret:
            raise BadRequest(
                "no token: with the username AWS the password is a token from "
                "`aws ecr get-login-password`"
            )
        return cls(LOGIN_USERNAME), credentials.secret

    def stamped(self, now: float) -> EcrLoginToken:
        """This token as recorded when stored at `now`."""
        return EcrLoginToken(LOGIN_USERNAME, {"stored_at": str(int(now))})

    @property
    def secret_username(self) -> Optional[str]:
        return LOGIN_USERNAME

    @property
    def stored_at(self) -> float:
        try:
            return float(self.options.get("stored_at", "0"))
        except ValueError:
            return 0.0

    @property
    def expires_at(self) -> float:
        return self.stored_at + LOGIN_TOKEN_LIFETIME

    def is_current(self, now: float) -> bool:
        """Whether the token is still returned as it is (else the default chain mints)."""
        return now < self.expires_at - LOGIN_TOKEN_MARGIN

    def expiry_note(self, key: str) -> str:
        """The note added to a failure of the default chain that took over from this token."""
        return (
            f"note: the token stored with `docker login -u AWS` for {key} expired at "
            f"{describe_time(self.expires_at)}; log in again or give the helper AWS credentials"
        )

    def describe(self) -> str:
        return "the token stored by `docker login -u AWS`"

    def detail(self) -> str:
        return "login token"


class EcrAlias(Source):
    """Another name (a custom domain, a proxy) for a private ECR registry: its tokens come from
    the target's own source (or the default chain)."""

    kind = "ecr-alias"
    backend = MINTED

    @classmethod
    def claims(cls, server: Server, credentials: Credentials) -> bool:
        return server.kind == REGISTRY and credentials.username.startswith(ECR_ALIAS_PREFIX)

    @classmethod
    def from_request(
        cls, server: Server, credentials: Credentials, diagnostics: Diagnostics
    ) -> tuple[Source, Optional[str]]:
        target = private_ecr_registry(credentials.username[len(ECR_ALIAS_PREFIX) :])
        if target is None:
            raise BadRequest(
                f"`{credentials.username}` does not name an Amazon ECR registry: expected "
                f"{ECR_ALIAS_PREFIX}ACCOUNT.dkr.ecr.REGION.amazonaws.com"
            )
        if credentials.secret:
            diagnostics.warn(f"the Secret is ignored for {server.key}: an alias needs none")
        return cls.of(target), None

    @classmethod
    def of(cls, target: Server) -> EcrAlias:
        """An alias of the ECR registry `target`."""
        return cls(LOGIN_USERNAME, {"target": target.key})

    @property
    def target(self) -> Optional[Server]:
        """The ECR registry this is another name for; None if the entry names none."""
        return private_ecr_registry(self.options.get("target", ""))

    def answered_as(self, server: Server, diagnostics: Diagnostics) -> Server:
        target = self.target
        if target is None:
            diagnostics.warn(
                f"{server.key} is recorded as an ECR alias without a valid ECR registry; "
                f"store it again with the username {ECR_ALIAS_PREFIX}<ECR registry host>"
            )
            raise CredentialsNotFound()
        return target

    def describe(self) -> str:
        return f"another name for the ECR registry {self.options.get('target', '?')}"

    def detail(self) -> str:
        return f"ecr alias of {self.options.get('target', '?')}"

    def list_kind(self, server_kind: str) -> str:
        return self.detail()
