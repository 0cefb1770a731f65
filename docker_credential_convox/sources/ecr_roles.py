"""The ECR sources that name AWS credentials other than the machine's own: a profile, a role.

A named profile (`ecr-profile`, `store` Username `profile:NAME`), an IAM role assumed from a
profile or the default chain (`ecr-role`, Username `role:ARN`, Secret = optional external ID),
and a workload's role assumed with its service-account token (the `kubelet` provider's, never
stored). Apart from sources/ecr.py so that a `get` of a registry on the default chain or on
stored access keys, the common cases, never loads them (sources.class_of).
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.errors import BadRequest
from docker_credential_convox.sources import ROLE_PREFIX, Source, is_role_arn
from docker_credential_convox.sources.ecr import CHAIN_DESCRIPTION, PROFILE_PREFIX, AwsSource

if TYPE_CHECKING:
    from typing import Optional

    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.protocol import Credentials
    from docker_credential_convox.registry_index import Entry
    from docker_credential_convox.server_keys import Server
    from docker_credential_convox.settings import Settings


class EcrProfile(AwsSource):
    """An AWS profile recorded for the registry (`store` Username `profile:NAME`)."""

    kind = "ecr-profile"
    username_prefix = PROFILE_PREFIX

    def __init__(self, profile: str) -> None:
        super().__init__(PROFILE_PREFIX + profile, {"profile": profile})
        self.profile = profile

    @classmethod
    def from_request(
        cls, server: Server, credentials: Credentials, diagnostics: Diagnostics
    ) -> tuple[Source, Optional[str]]:
        profile = credentials.username[len(PROFILE_PREFIX) :].strip()
        if not profile:
            raise BadRequest("no profile name after `profile:` in the username")
        if credentials.secret:
            diagnostics.warn(
                f"the Secret is ignored for {credentials.username}: profiles need none"
            )
        source = cls(profile)
        source.username = credentials.username  # recorded as sent
        return source, None

    @classmethod
    def from_entry(cls, entry: Entry) -> Optional[Source]:
        profile = entry.options.get("profile")
        if not profile:
            return None
        source = cls(profile)
        source.username = entry.username
        return source

    @property
    def shown_username(self) -> str:
        return ""

    def describe(self) -> str:
        return f"the AWS profile {self.profile!r} recorded for this registry"

    def detail(self) -> str:
        return f"profile {self.profile}"

    def identity(self, settings: Settings) -> dict[str, object]:
        return {"profile": self.profile}


class EcrRole(AwsSource):
    """An IAM role assumed for the registry (`store` Username `role:ARN`, Secret: external ID),
    from a profile or the default chain."""

    kind = "ecr-role"
    username_prefix = ROLE_PREFIX

    def __init__(
        self,
        username: str,
        role_arn: str,
        external_id: Optional[str] = None,
        profile: Optional[str] = None,
    ) -> None:
        options = {"role_arn": role_arn}
        if external_id:
            options["external_id"] = external_id  # AWS documents it as not secret
        if profile:
            options["profile"] = profile
        super().__init__(username, options)
        self.role_arn = role_arn
        self.external_id = external_id
        self.profile = profile

    @classmethod
    def from_request(
        cls, server: Server, credentials: Credentials, diagnostics: Diagnostics
    ) -> tuple[Source, Optional[str]]:
        username = credentials.username
        role_arn = username[len(ROLE_PREFIX) :].strip()
        if not is_role_arn(role_arn):
            raise BadRequest(
                f"`{username}` does not name a role: expected role:arn:aws:iam::ACCOUNT:role/NAME"
            )
        return cls(username, role_arn, credentials.secret.strip() or None), None

    @classmethod
    def from_entry(cls, entry: Entry) -> Optional[Source]:
        options = entry.options
        if not options.get("role_arn"):
            return None
        return cls(
            entry.username, options["role_arn"], options.get("external_id"), options.get("profile")
        )

    @property
    def shown_username(self) -> str:
        return ""

    def describe(self) -> str:
        base = f"the AWS profile {self.profile!r}" if self.profile else CHAIN_DESCRIPTION
        external = " with an external ID" if self.external_id else ""
        return f"the role {self.role_arn} (assumed{external} from {base})"

    def detail(self) -> str:
        external = " with external ID" if self.external_id else ""
        return f"role {self.role_arn}{external}"

    def identity(self, settings: Settings) -> dict[str, object]:
        return {
            "role": self.role_arn,
            "external_id": self.external_id or "",
            "profile": self.profile or "",
        }


class EcrWebIdentity(AwsSource):
    """A workload's IAM role, assumed with its Kubernetes service-account token through
    sts:AssumeRoleWithWebIdentity (the `kubelet` provider only; never stored, never indexed).

    Its cache identity is the role and the token's subject (the service account), never the
    token: a token minted for one workload's role answers only that workload's requests."""

    kind = "ecr-web-identity"

    def __init__(self, role_arn: str, token: str, subject: str) -> None:
        super().__init__("", {"role_arn": role_arn})
        self.role_arn = role_arn
        self.web_identity_token = token
        self.subject = subject

    def __repr__(self) -> str:
        return f"EcrWebIdentity(role_arn={self.role_arn!r}, subject={self.subject!r}, token=***)"

    def describe(self) -> str:
        return (
            f"the role {self.role_arn} (assumed with the service account token of {self.subject})"
        )

    def detail(self) -> str:
        return f"role {self.role_arn} with a service account token"

    def identity(self, settings: Settings) -> dict[str, object]:
        return {"web_identity_role": self.role_arn, "subject": self.subject}
