"""botocore sessions and clients, made with the helper's bounds, region and endpoint rules."""

from __future__ import annotations

from docker_credential_convox import APP, TYPE_CHECKING, __version__
from docker_credential_convox.server_keys import Target
from docker_credential_convox.settings import (
    ENV_AWS_METADATA_SERVICE_NUM_ATTEMPTS,
    ENV_AWS_METADATA_SERVICE_TIMEOUT,
    Settings,
)

if TYPE_CHECKING:
    from typing import Any, Optional

    from botocore.session import Session

    # AWS credentials as botocore's create_client takes them; a None value resolves nothing.
    Keys = dict[str, Optional[str]]

MAX_ATTEMPTS = 2
METADATA_TIMEOUT = 1
METADATA_ATTEMPTS = 1
USER_AGENT = f"{APP}/{__version__}"


def session(settings: Settings, profile: Optional[str] = None, standalone: bool = False) -> Session:
    """A botocore session with the metadata-service probe bounded (unless the user chose).

    `standalone`: ignore AWS_PROFILE, for stored keys that must not depend on other settings.
    """
    import botocore.session

    # (config file key, environment variables, default, conversion): no way to name a profile.
    session_vars = {"profile": (None, None, None, None)} if standalone else None
    session = botocore.session.Session(session_vars=session_vars, profile=profile)
    region = settings.aws_region
    if region is not None:  # AWS_REGION, which botocore ignores, wins over AWS_DEFAULT_REGION
        session.set_config_variable("region", region)
    if not settings.environ.get(ENV_AWS_METADATA_SERVICE_TIMEOUT):
        session.set_config_variable("metadata_service_timeout", METADATA_TIMEOUT)
    if not settings.environ.get(ENV_AWS_METADATA_SERVICE_NUM_ATTEMPTS):
        session.set_config_variable("metadata_service_num_attempts", METADATA_ATTEMPTS)
    session.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=_lenient_timestamp
    )
    return session


def _lenient_timestamp(value: Any) -> Any:
    """botocore's timestamp parsing, but a value it cannot parse is handed over as it came.

    botocore raises RuntimeError for an epoch beyond datetime's range (an expiresAt of 1e17),
    which would lose the whole reply; the ECR token call judges the raw value instead.
    """
    from botocore.parsers import DEFAULT_TIMESTAMP_PARSER

    try:
        return DEFAULT_TIMESTAMP_PARSER(value)
    except (RuntimeError, OverflowError, ValueError):
        return value


def client(
    session: Session,
    service: str,
    target: Target,
    settings: Settings,
    credentials: Keys,
    *,
    unsigned: bool = False,
) -> Any:
    """A client for `service` at `target`'s endpoint; `unsigned` for calls whose proof is in the
    request (AssumeRoleWithWebIdentity), which then resolve no credentials at all."""
    from botocore.config import Config

    endpoint = settings.aws_endpoint_url(service)
    # botocore rejects FIPS or dual-stack together with an explicit endpoint.
    use_variants = endpoint is None
    config = Config(
        connect_timeout=settings.aws_connect_timeout,
        read_timeout=settings.aws_read_timeout,
        retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        user_agent_extra=USER_AGENT,
        use_fips_endpoint=target.fips and use_variants,
        use_dualstack_endpoint=target.dualstack and use_variants and service != "sts",
    )
    if unsigned:
        from botocore import UNSIGNED

        config = config.merge(Config(signature_version=UNSIGNED))
    return session.create_client(
        service,
        region_name=target.region,
        endpoint_url=endpoint,
        config=config,
        aws_access_key_id=credentials.get("aws_access_key_id"),
        aws_secret_access_key=credentials.get("aws_secret_access_key"),
        aws_session_token=credentials.get("aws_session_token"),
    )


def endpoint_for(target: Target, settings: Settings) -> str:
    """The endpoint a client for `target` would call, for debug lines (no network)."""
    return settings.aws_endpoint_url(target.service) or (
        f"{target.service} in {target.region}"
        + (" (FIPS)" if target.fips else "")
        + (" (dual-stack)" if target.dualstack else "")
    )
