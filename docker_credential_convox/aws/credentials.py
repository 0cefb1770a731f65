"""AWS credentials for a mint, as a `CredentialPlan` says: stored access keys, botocore's chain
(a named profile or the default chain), a role assumed from either through sts:AssumeRole, or a
role assumed with a web-identity token through sts:AssumeRoleWithWebIdentity."""

from __future__ import annotations

from docker_credential_convox import APP, TYPE_CHECKING
from docker_credential_convox.aws.clients import client, endpoint_for, session
from docker_credential_convox.server_keys import Target

if TYPE_CHECKING:
    from typing import Any, Optional

    from botocore.session import Session

    from docker_credential_convox.aws.clients import Keys
    from docker_credential_convox.aws.deadline import Attempt
    from docker_credential_convox.settings import Settings

ROLE_SESSION_NAME = APP
# cloud-provider-aws's ecr-credential-provider names its web-identity sessions so.
WEB_IDENTITY_SESSION_NAME = "ecr-credential-provider"
ROLE_SESSION_SECONDS = 900  # the minimum: the role's keys serve one GetAuthorizationToken call


class CredentialPlan:
    """Where a mint's AWS credentials come from, in plain values: the access key ID of stored
    keys (its secret is handed over apart), else botocore's chain for `profile` (None: the
    default chain); then, with `role_arn`, that role assumed from them, or with
    `web_identity_token` assumed with that token alone."""

    __slots__ = ("access_key_id", "external_id", "profile", "role_arn", "web_identity_token")

    def __init__(
        self,
        *,
        access_key_id: Optional[str] = None,
        profile: Optional[str] = None,
        role_arn: Optional[str] = None,
        external_id: Optional[str] = None,
        web_identity_token: Optional[str] = None,
    ) -> None:
        self.access_key_id = access_key_id
        self.profile = profile
        self.role_arn = role_arn
        self.external_id = external_id
        self.web_identity_token = web_identity_token

    def __repr__(self) -> str:
        token = None if self.web_identity_token is None else "***"
        return (
            f"CredentialPlan(access_key_id={self.access_key_id!r}, profile={self.profile!r}, "
            f"role_arn={self.role_arn!r}, external_id={self.external_id!r}, "
            f"web_identity_token={token})"
        )


def resolve(
    plan: CredentialPlan, settings: Settings, attempt: Attempt, secret: Optional[str]
) -> tuple[Session, Keys]:
    """A botocore session and the credentials to call AWS with (botocore errors escape);
    `secret`: the secret access key of stored keys."""
    if plan.role_arn is not None and plan.web_identity_token is not None:
        return web_identity_credentials(settings, attempt, plan.role_arn, plan.web_identity_token)
    if plan.access_key_id is not None:
        attempt.method = "stored-keys"
        # Stored keys stand alone: an AWS_PROFILE meant for other work must not interfere.
        keys: Keys = {"aws_access_key_id": plan.access_key_id, "aws_secret_access_key": secret}
        return session(settings, standalone=True), keys
    chain, credentials = chain_credentials(settings, attempt, plan.profile)
    if plan.role_arn is not None:
        credentials = assume_role(
            chain,
            settings,
            attempt,
            credentials,
            role_arn=plan.role_arn,
            external_id=plan.external_id,
        )
    return chain, credentials


def chain_credentials(
    settings: Settings, attempt: Attempt, profile: Optional[str] = None
) -> tuple[Session, Keys]:
    """Credentials from botocore's chain (a named profile, or the default chain)."""
    from botocore import exceptions as bx

    chain = session(settings, profile)
    resolved = chain.get_credentials()
    if resolved is None:
        raise bx.NoCredentialsError()
    frozen = resolved.get_frozen_credentials()
    attempt.secrets += [frozen.secret_key or "", frozen.token or ""]
    attempt.method = str(getattr(resolved, "method", "") or "")
    attempt.diagnostics.debug(
        f"AWS credentials resolved by botocore's {attempt.method or '?'} provider"
    )
    return chain, {
        "aws_access_key_id": frozen.access_key,
        "aws_secret_access_key": frozen.secret_key,
        "aws_session_token": frozen.token,
    }


def _sts_target(target: Target) -> Target:
    """The STS endpoint a role is assumed at for a registry's API (dual-stack never applies)."""
    return Target("sts", target.region, target.fips)


def assume_role(
    chain: Session,
    settings: Settings,
    attempt: Attempt,
    credentials: Keys,
    *,
    role_arn: str,
    external_id: Optional[str],
) -> Keys:
    """The role's session credentials, from sts:AssumeRole called with `credentials`."""
    attempt.operation = "sts:AssumeRole"
    # STS in the registry's region, FIPS when the registry is.
    sts = client(chain, "sts", attempt.target, settings, credentials)
    request: dict[str, Any] = {
        "RoleArn": role_arn,
        "RoleSessionName": ROLE_SESSION_NAME,
        "DurationSeconds": ROLE_SESSION_SECONDS,
    }
    if external_id:
        request["ExternalId"] = external_id
    endpoint = endpoint_for(_sts_target(attempt.target), settings)
    role = attempt.call(lambda: sts.assume_role(**request), endpoint)["Credentials"]
    attempt.secrets += [role["SecretAccessKey"], role["SessionToken"]]
    attempt.method = f"assume-role via {attempt.method or 'default chain'}"
    return {
        "aws_access_key_id": role["AccessKeyId"],
        "aws_secret_access_key": role["SecretAccessKey"],
        "aws_session_token": role["SessionToken"],
    }


def web_identity_credentials(
    settings: Settings, attempt: Attempt, role_arn: str, token: str
) -> tuple[Session, Keys]:
    """A role's session credentials from sts:AssumeRoleWithWebIdentity (an unsigned call: the
    token is the proof), as cloud-provider-aws's ecr-credential-provider gets them."""
    attempt.operation = "sts:AssumeRoleWithWebIdentity"
    attempt.secrets.append(token)
    chain = session(settings, standalone=True)
    # Placeholders, never sent (the call is unsigned): they keep botocore from resolving the
    # node's own credentials, which this call must not need.
    placeholder: Keys = {"aws_access_key_id": "unsigned", "aws_secret_access_key": "unsigned"}
    sts = client(chain, "sts", attempt.target, settings, placeholder, unsigned=True)
    endpoint = endpoint_for(_sts_target(attempt.target), settings)
    role = attempt.call(
        lambda: sts.assume_role_with_web_identity(
            RoleArn=role_arn,
            RoleSessionName=WEB_IDENTITY_SESSION_NAME,
            WebIdentityToken=token,
            DurationSeconds=ROLE_SESSION_SECONDS,
        ),
        endpoint,
    )["Credentials"]
    attempt.secrets += [role["SecretAccessKey"], role["SessionToken"]]
    attempt.method = "assume-role-with-web-identity"
    return chain, {
        "aws_access_key_id": role["AccessKeyId"],
        "aws_secret_access_key": role["SecretAccessKey"],
        "aws_session_token": role["SessionToken"],
    }
