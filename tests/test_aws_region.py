"""AWS_REGION is honoured wherever the helper needs a region, and wins over AWS_DEFAULT_REGION
(as in the other AWS SDKs; botocore itself reads only AWS_DEFAULT_REGION).

The paths that take the configured region (an ECR host carries its own, ECR Public is always
us-east-1): the shared store's Secrets Manager calls, and the STS call botocore's default chain
makes for a profile that assumes a role (`role_arn` + `source_profile`). Each is
checked through the installed helper against moto behind the counting proxy, which records the
region that signed every call (SigV4's credential scope); moto keeps Secrets Manager per region,
so a secret in one region is not found from another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest
from support import NOT_FOUND, run_helper_in
from support.registries import get_credentials
from support.shared import GET_SECRET, share

from standins.aws_proxy import AwsProxy

pytest_plugins = ["support.aws_emulator", "support.shared"]

SERVER = "region-test.example.com:5000"
SECRET_REGION = "eu-west-3"
OTHER_REGION = "ap-southeast-2"
ECR_HOST = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/puller"

# (AWS_REGION, AWS_DEFAULT_REGION) -> the region the helper must use.
REGIONS = [
    pytest.param(SECRET_REGION, None, id="AWS_REGION-only"),
    pytest.param(None, SECRET_REGION, id="AWS_DEFAULT_REGION-only"),
    pytest.param(SECRET_REGION, OTHER_REGION, id="both-AWS_REGION-wins"),
]


def with_regions(
    env: dict[str, str], region: Optional[str], default_region: Optional[str]
) -> dict[str, str]:
    """`env` with exactly these region variables set (None: unset)."""
    changed = {k: v for k, v in env.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    if region is not None:
        changed["AWS_REGION"] = region
    if default_region is not None:
        changed["AWS_DEFAULT_REGION"] = default_region
    return changed


@pytest.mark.parametrize(("region", "default_region"), REGIONS)
def test_the_shared_store_reads_in_the_configured_region(
    machine: dict[str, str],
    new_machine: object,
    aws_proxy: AwsProxy,
    region: Optional[str],
    default_region: Optional[str],
) -> None:
    operator = with_regions(machine, None, SECRET_REGION)
    result = share(operator, SERVER, "fleet", "region-secret-7d", "--no-verify")
    assert result.returncode == 0, result
    assert callable(new_machine)
    fleet = with_regions(new_machine("fleet"), region, default_region)
    aws_proxy.reset()
    assert get_credentials(fleet, SERVER) == {
        "ServerURL": SERVER,
        "Username": "fleet",
        "Secret": "region-secret-7d",
    }
    assert {call.region for call in aws_proxy.calls_of(GET_SECRET)} == {SECRET_REGION}


def test_aws_region_wins_so_the_other_regions_secret_is_not_found(
    machine: dict[str, str], new_machine: object, aws_proxy: AwsProxy
) -> None:
    result = share(with_regions(machine, None, SECRET_REGION), SERVER, "u", "s", "--no-verify")
    assert result.returncode == 0, result
    assert callable(new_machine)
    fleet = with_regions(new_machine("fleet"), OTHER_REGION, SECRET_REGION)
    aws_proxy.reset()
    answer = run_helper_in(fleet, "get", stdin=SERVER)
    assert (answer.returncode, answer.stdout.strip()) == (1, NOT_FOUND), answer
    assert {call.region for call in aws_proxy.calls_of(GET_SECRET)} == {OTHER_REGION}


def test_only_aws_region_set_is_no_missing_region_error(
    machine: dict[str, str], aws_proxy: AwsProxy
) -> None:
    fleet = with_regions(machine, SECRET_REGION, None)
    answer = run_helper_in(fleet, "get", stdin="nothing-shared.example.com")
    assert (answer.returncode, answer.stdout.strip()) == (1, NOT_FOUND), answer
    assert "no AWS region" not in answer.stderr


@pytest.mark.parametrize(("region", "default_region"), REGIONS)
def test_a_profiles_role_is_assumed_in_the_configured_region(
    ecr_env: dict[str, str],
    aws_proxy: AwsProxy,
    region: Optional[str],
    default_region: Optional[str],
) -> None:
    # The default chain through AWS_PROFILE, a profile that assumes a role: botocore calls STS
    # in the region configured (the registry's own region is only for ECR's API).
    Path(ecr_env["AWS_CONFIG_FILE"]).write_text(
        f"[profile puller]\nrole_arn = {ROLE}\nsource_profile = base\n"
    )
    Path(ecr_env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        f"[base]\naws_access_key_id = {ecr_env['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {ecr_env['AWS_SECRET_ACCESS_KEY']}\n"
    )
    env = {
        k: v
        for k, v in ecr_env.items()
        if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    }
    env = with_regions({**env, "AWS_PROFILE": "puller"}, region, default_region)
    answer = run_helper_in(env, "get", stdin=ECR_HOST)
    assert answer.returncode == 0, answer
    assert [call.region for call in aws_proxy.calls_of("sts:AssumeRole")] == [SECRET_REGION]
    assert [call.region for call in aws_proxy.calls_of("ecr:GetAuthorizationToken")] == [
        "us-west-2"
    ]
