"""`registries doctor`'s ECR time checks: what a cached token means for the next `get`, and this
machine's clock against AWS's, read from the expiry of a token just minted."""

from __future__ import annotations

from docker_credential_convox.filecache import describe_time
from docker_credential_convox.registries.doctor_report import (
    Finding,
    describe_duration,
    ok,
    problem,
)
from docker_credential_convox.tokencache import CachedToken

# ECR hands out tokens that last 12 hours from its own clock: a fresh token's expiry, less
# that, is AWS's "now", to compare with ours.
ECR_TOKEN_LIFETIME = 12 * 3600.0
# Beyond this, SigV4 requests start failing and cached tokens expire earlier or later than the
# helper thinks.
CLOCK_TOLERANCE = 300.0


def describe_cached(token: CachedToken, now: float) -> Finding:
    """What the cached token for a registry's source means for the next `get`."""
    times = f"issued {describe_time(token.issued_at)}, expires {describe_time(token.expires_at)}"
    if token.issued_at > now + CLOCK_TOLERANCE:
        return problem(
            "cached token",
            f"{times}: issued {describe_duration(token.issued_at - now)} in this machine's "
            "future, so the clock was turned back since",
            "check the clock (timedatectl), then `registries remove` and `add` the registry",
        )
    if token.is_fresh(now):
        return ok(
            "cached token",
            f"{times} (in {describe_duration(token.expires_at - now)}); reused until "
            f"{describe_time(token.refresh_at)}",
        )
    if token.is_usable(now):
        return ok("cached token", f"{times}; past half its life, the next get mints a new one")
    return ok("cached token", f"{times}; expired, the next get mints a new one")


def check_clock(expires_at: float, started: float, finished: float) -> Finding:
    """This clock against AWS's, from a token minted between `started` and `finished`."""
    aws_now = expires_at - ECR_TOKEN_LIFETIME
    skew = (started + finished) / 2 - aws_now  # > 0: ours is ahead
    if abs(skew) <= CLOCK_TOLERANCE:
        return ok(
            "clock",
            f"agrees with AWS's ({describe_duration(skew)} apart, by the expiry of the token "
            "just minted)",
        )
    direction = "ahead of" if skew > 0 else "behind"
    return problem(
        "clock",
        f"this machine's clock is {describe_duration(skew)} {direction} AWS's (by the expiry of "
        "the token just minted), so cached tokens are kept past their expiry or dropped early",
        "synchronise the clock (timedatectl set-ntp true)",
    )
