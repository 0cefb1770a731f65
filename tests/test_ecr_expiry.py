"""Token lifetimes with an injected clock, in process, against moto_server's real replies.

moto's `expiresAt` is fixed at 2015-01-01T00:00:00Z, so with the proxy passing it through
(`expires_in = None`) and the clock set to 2014-12-31T12:00:00Z, moto's tokens have the usual
12 hours to live; moving the clock walks them through half-life and expiry without sleeping.
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Optional

import pytest

if TYPE_CHECKING:
    from support.aws_emulator import AwsProxy

from docker_credential_convox import sources
from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.errors import SourceError, StoreUnavailable
from docker_credential_convox.helper import Helper
from docker_credential_convox.registry_index import Entry
from docker_credential_convox.registry_index_writer import RegistryIndexWriter
from docker_credential_convox.server_keys import parse_server
from docker_credential_convox.settings import Settings
from docker_credential_convox.sources.ecr import AwsSource, EcrKeys
from docker_credential_convox.tokencache import CachedToken

pytest_plugins = ["support.aws_emulator"]

GET_TOKEN = "ecr:GetAuthorizationToken"

HOUR = 3600.0
MOTO_EXPIRES_AT = 1420070400.0  # 2015-01-01T00:00:00Z
HOST = "123456789012.dkr.ecr.us-west-2.amazonaws.com"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MOTO_EXPIRES_AT - 12 * HOUR)


@pytest.fixture
def stderr() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def helper(
    ecr_environ: dict[str, str], aws_proxy: AwsProxy, clock: Clock, stderr: io.StringIO
) -> Helper:
    aws_proxy.expires_in = None  # moto's own expiresAt
    settings = Settings(dict(os.environ))
    return Helper(settings, Diagnostics(stderr, debug=True), clock=clock)


def fresh_helper(helper: Helper, clock: Clock, stderr: io.StringIO) -> Helper:
    """Another process, as far as the cache is concerned: same files, empty memory."""
    return Helper(helper.settings, Diagnostics(stderr, debug=True), clock=clock)


def test_moto_token_is_reused_until_half_life_then_refreshed(
    helper: Helper, aws_proxy: AwsProxy, clock: Clock, stderr: io.StringIO
) -> None:
    first = helper.get(HOST).secret
    clock.now += 6 * HOUR - 60
    assert helper.get(HOST).secret == first  # the in-process level
    assert fresh_helper(helper, clock, stderr).get(HOST).secret == first  # the file level
    assert aws_proxy.count(GET_TOKEN) == 1
    clock.now += 120
    assert helper.get(HOST).secret != first
    assert aws_proxy.count(GET_TOKEN) == 2


def test_refresh_failure_returns_the_still_valid_token_with_a_warning(
    helper: Helper, aws_proxy: AwsProxy, clock: Clock, stderr: io.StringIO
) -> None:
    first = helper.get(HOST).secret
    clock.now += 7 * HOUR
    aws_proxy.fail(GET_TOKEN, "ThrottlingException", "Rate exceeded")
    assert fresh_helper(helper, clock, stderr).get(HOST).secret == first
    assert "warning: could not refresh the token" in stderr.getvalue()
    assert "ThrottlingException" in stderr.getvalue()
    assert first not in stderr.getvalue()


def test_an_expired_token_is_never_returned(
    helper: Helper, aws_proxy: AwsProxy, clock: Clock, stderr: io.StringIO
) -> None:
    helper.get(HOST)
    clock.now = MOTO_EXPIRES_AT - 4 * 60  # four minutes left: too close to expiry to hand out
    aws_proxy.fail(GET_TOKEN, "ThrottlingException", "Rate exceeded")
    with pytest.raises(SourceError, match="ThrottlingException"):
        fresh_helper(helper, clock, stderr).get(HOST)


def test_a_freshly_minted_token_already_expired_by_the_clock_is_refused(
    helper: Helper, aws_proxy: AwsProxy, clock: Clock
) -> None:
    clock.now = MOTO_EXPIRES_AT + HOUR  # moto's reply is an hour old by this clock
    with pytest.raises(SourceError, match="already past by this machine's clock"):
        helper.get(HOST)
    assert aws_proxy.count(GET_TOKEN) == 1


def test_a_token_with_hours_left_is_what_clients_get(
    helper: Helper, clock: Clock, stderr: io.StringIO
) -> None:
    helper.get(HOST)
    for hours in (1, 3, 5, 5.9):
        clock.now = MOTO_EXPIRES_AT - 12 * HOUR + hours * HOUR
        fresh_helper(helper, clock, stderr).get(HOST)
    # Every answer above came from the cache with at least six hours left.
    assert stderr.getvalue().count("token cache hit") == 4


def test_list_drops_registries_whose_token_has_expired(helper: Helper, clock: Clock) -> None:
    helper.get(HOST)
    assert helper.list() == {HOST: "AWS"}
    clock.now = MOTO_EXPIRES_AT
    assert helper.list() == {}


class LockedStore:
    """FAULT INJECTION ONLY: a keyring that is locked, which a real one cannot be made on demand
    in the middle of a test run shared with other tests."""

    name = "the OS keyring"

    def get(self, key: str, username: str) -> Optional[str]:
        raise StoreUnavailable("the OS keyring is locked")


def test_a_locked_keyring_during_refresh_falls_back_to_the_cached_token(
    helper: Helper, clock: Clock, stderr: io.StringIO
) -> None:
    index = RegistryIndexWriter(helper.index.configured)
    index.put(Entry(HOST, HOST, "AKIAI44QH8DHBEXAMPLE", EcrKeys.kind))
    locked = Helper(
        helper.settings,
        Diagnostics(stderr),
        secret_store=LockedStore(),  # type: ignore[arg-type]
        clock=clock,
    )
    server = parse_server(HOST)
    source = sources.from_entry(server.kind, index.lookup(HOST))
    assert isinstance(source, AwsSource)
    key = locked.ecr.cache_key(server, source)
    issued = clock()
    locked.ecr.fetching_cache().put(
        key, CachedToken(HOST, "AWS", "cached-secret", issued, issued + 12 * HOUR)
    )

    clock.now += 7 * HOUR  # past half-life: a refresh is due, and needs the secret key
    assert locked.get(HOST).secret == "cached-secret"
    assert "the OS keyring is locked" in stderr.getvalue()

    clock.now += 5 * HOUR  # expired now: the keyring error is the answer
    with pytest.raises(StoreUnavailable):
        locked.get(HOST)
