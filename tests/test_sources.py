"""The credential sources' decisions, in process: what a `store` request means, what an index
entry records, which secret is kept, and what names a source for the token cache.

sources/__init__.py (`from_request`, `from_entry`, `kept_secret`) and each ECR source's
`identity` are pure functions of their input: no store, no network, no files.
"""

from __future__ import annotations

import io
from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.errors import BadRequest
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.registry_index import Entry
from docker_credential_convox.server_keys import parse_key
from docker_credential_convox.settings import Settings
from docker_credential_convox.sources import StoredLogin, from_entry, from_request, kept_secret
from docker_credential_convox.sources.ecr import (
    EcrAlias,
    EcrDefaultChain,
    EcrKeys,
    EcrLoginToken,
)
from docker_credential_convox.sources.ecr_roles import EcrProfile, EcrRole, EcrWebIdentity

REGISTRY = "registry.example.com"
ECR_HOST = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/puller"
ACCESS_KEY = "AKIAI44QH8DHBEXAMPLE"
SECRET_KEY = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"


def request(server_url: str, username: str, secret: str) -> tuple[object, Optional[str], str]:
    """(source class, secret kept, warnings) of a `store` request."""
    stderr = io.StringIO()
    server = parse_key(server_url)
    source, kept = from_request(
        server, Credentials(server_url, username, secret), Diagnostics(stderr)
    )
    return type(source), kept, stderr.getvalue()


# -- from_request: which source a `store` describes ----------------------------------------------


@pytest.mark.parametrize(
    ("server_url", "username", "secret", "expected", "kept"),
    [
        # An ordinary registry keeps any login as sent, whatever its username looks like.
        (REGISTRY, "alice", "pw", StoredLogin, "pw"),
        (REGISTRY, "AWS", "token", StoredLogin, "token"),
        (REGISTRY, "profile:dev", "pw", StoredLogin, "pw"),
        (REGISTRY, f"role:{ROLE}", "pw", StoredLogin, "pw"),
        (REGISTRY, "alice", "", StoredLogin, ""),
        ("docker.io/team", "<token>", "refresh", StoredLogin, "refresh"),
        # An ECR registry reads its username as the kind of AWS credentials.
        (ECR_HOST, "AWS", "ecr-token", EcrLoginToken, "ecr-token"),
        (ECR_HOST, "profile:dev", "", EcrProfile, None),
        (ECR_HOST, f"role:{ROLE}", "external-id", EcrRole, None),
        (ECR_HOST, ACCESS_KEY, SECRET_KEY, EcrKeys, SECRET_KEY),
        ("public.ecr.aws", ACCESS_KEY, SECRET_KEY, EcrKeys, SECRET_KEY),
        # Another name of an ECR registry keeps nothing: the target's source answers.
        (REGISTRY, f"ecr-alias:{ECR_HOST}", "", EcrAlias, None),
    ],
)
def test_a_store_request_names_its_source_and_the_secret_it_keeps(
    server_url: str, username: str, secret: str, expected: type, kept: Optional[str]
) -> None:
    assert request(server_url, username, secret)[:2] == (expected, kept)


@pytest.mark.parametrize(
    ("server_url", "username", "secret", "complaint"),
    [
        (ECR_HOST, "AWS", "", "no token"),
        (ECR_HOST, "profile:", "", "no profile name"),
        (ECR_HOST, "role:arn:aws:iam::123456789012:user/alice", "", "does not name a role"),
        (ECR_HOST, "not:a-key", "secret", "is not an AWS access key ID"),
        (ECR_HOST, "with space", "secret", "is not an AWS access key ID"),
        (ECR_HOST, ACCESS_KEY, "", "no secret access key"),
        (REGISTRY, "ecr-alias:registry.example.org", "", "does not name an Amazon ECR registry"),
        (REGISTRY, "ecr-alias:public.ecr.aws", "", "does not name an Amazon ECR registry"),
    ],
)
def test_a_store_request_that_names_no_usable_source_is_refused(
    server_url: str, username: str, secret: str, complaint: str
) -> None:
    with pytest.raises(BadRequest, match=complaint) as raised:
        request(server_url, username, secret)
    if secret:
        assert secret not in str(raised.value)


def test_a_secret_a_source_does_not_use_is_dropped_with_a_warning() -> None:
    for server_url, username in ((ECR_HOST, "profile:dev"), (REGISTRY, f"ecr-alias:{ECR_HOST}")):
        _, kept, warnings = request(server_url, username, "unused-secret")
        assert kept is None
        assert "the Secret is ignored" in warnings
        assert "unused-secret" not in warnings


# -- from_entry and kept_secret: what an index entry records ------------------------------------


def entry_of(server_url: str, username: str, secret: str) -> Entry:
    """The index entry a `store` request records."""
    server = parse_key(server_url)
    source, _ = from_request(
        server, Credentials(server_url, username, secret), Diagnostics(io.StringIO())
    )
    return source.entry(server.key, server.url)


@pytest.mark.parametrize(
    ("server_url", "username", "secret", "secret_under"),
    [
        (REGISTRY, "alice", "pw", "alice"),
        (ECR_HOST, "AWS", "ecr-token", "AWS"),
        (ECR_HOST, ACCESS_KEY, SECRET_KEY, ACCESS_KEY),
        (ECR_HOST, "profile:dev", "", None),
        (ECR_HOST, f"role:{ROLE}", "external-id", None),
        (REGISTRY, f"ecr-alias:{ECR_HOST}", "", None),
    ],
)
def test_an_entry_reads_back_as_the_source_that_wrote_it_and_keeps_one_secret_or_none(
    server_url: str, username: str, secret: str, secret_under: Optional[str]
) -> None:
    entry = entry_of(server_url, username, secret)
    source = from_entry(parse_key(server_url).kind, entry)
    assert source is not None
    assert source.kind == entry.source
    assert source.entry(entry.key, entry.server_url).to_json() == entry.to_json()
    assert kept_secret(entry) == secret_under
    assert secret_under is None or secret not in str(entry.to_json())


@given(
    username=st.text(min_size=1).filter(lambda name: not name.startswith("ecr-alias:")),
    secret=st.text(),
)
def test_any_login_of_an_ordinary_registry_round_trips_through_its_entry(
    username: str, secret: str
) -> None:
    entry = entry_of(REGISTRY, username, secret)
    assert kept_secret(entry) == username
    source = from_entry(parse_key(REGISTRY).kind, entry)
    assert isinstance(source, StoredLogin)
    assert source.username == username


def test_without_an_entry_an_ecr_registry_has_the_default_chain_and_any_other_nothing() -> None:
    assert isinstance(from_entry(parse_key(ECR_HOST).kind, None), EcrDefaultChain)
    assert isinstance(from_entry(parse_key("public.ecr.aws").kind, None), EcrDefaultChain)
    assert from_entry(parse_key(REGISTRY).kind, None) is None
    assert from_entry(parse_key("::1").kind, None) is None


@pytest.mark.parametrize(
    "entry",
    [
        Entry(ECR_HOST, ECR_HOST, "profile:dev", EcrProfile.kind),  # no profile option
        Entry(ECR_HOST, ECR_HOST, f"role:{ROLE}", EcrRole.kind),  # no role_arn option
        Entry(ECR_HOST, ECR_HOST, "x", "a-source-of-a-later-release"),
    ],
    ids=["profile-without-name", "role-without-arn", "unknown-kind"],
)
def test_an_entry_this_release_cannot_read(entry: Entry) -> None:
    """An ECR registry falls back to the default chain; an ordinary registry reads the entry as
    a stored login, as the first releases read every entry; neither names a kept secret."""
    assert isinstance(from_entry(parse_key(ECR_HOST).kind, entry), EcrDefaultChain)
    as_registry = Entry(REGISTRY, REGISTRY, entry.username, entry.source, entry.options)
    source = from_entry(parse_key(REGISTRY).kind, as_registry)
    assert isinstance(source, StoredLogin)
    assert source.username == entry.username
    assert kept_secret(entry) is None


# -- identity: what names a source for the token cache ----------------------------------------


def identity(source: object, **environ: str) -> dict[str, object]:
    assert isinstance(source, (EcrKeys, EcrDefaultChain, EcrProfile, EcrRole, EcrWebIdentity))
    return source.identity(Settings({"HOME": "/nonexistent", **environ}))


def test_identities_tell_every_source_apart_and_hold_no_secret() -> None:
    sources = [
        EcrDefaultChain(),
        EcrKeys(ACCESS_KEY),
        EcrKeys("AKIAOTHEREXAMPLE"),
        EcrProfile("dev"),
        EcrProfile("prod"),
        EcrRole(f"role:{ROLE}", ROLE),
        EcrRole(f"role:{ROLE}", ROLE, external_id="tenant-1"),
        EcrRole(f"role:{ROLE}", ROLE, profile="dev"),
        EcrRole(f"role:{ROLE}x", ROLE + "x"),
        EcrWebIdentity(ROLE, "sa-token-1", "system:serviceaccount:a:puller"),
        EcrWebIdentity(ROLE, "sa-token-1", "system:serviceaccount:b:puller"),
    ]
    identities = [repr(sorted(identity(source).items())) for source in sources]
    assert len(set(identities)) == len(sources)
    assert not any("sa-token" in text or SECRET_KEY in text for text in identities)


def test_a_web_identity_is_its_role_and_subject_never_its_token() -> None:
    first = EcrWebIdentity(ROLE, "sa-token-1", "system:serviceaccount:a:puller")
    rotated = EcrWebIdentity(ROLE, "sa-token-2", "system:serviceaccount:a:puller")
    assert identity(first) == identity(rotated)


def test_the_default_chains_identity_follows_what_selects_it_not_rotating_keys() -> None:
    chain = EcrDefaultChain()
    base = identity(chain)
    # Temporary keys (with a session token) rotate every hour: the same principal.
    assert identity(chain, AWS_ACCESS_KEY_ID="ASIA1", AWS_SESSION_TOKEN="t1") == base
    assert identity(chain, AWS_ACCESS_KEY_ID="ASIA2", AWS_SESSION_TOKEN="t2") == base
    # Long-term keys, a profile, a role or another config file name another principal.
    others = [
        identity(chain, AWS_ACCESS_KEY_ID="AKIA1"),
        identity(chain, AWS_ACCESS_KEY_ID="AKIA2"),
        identity(chain, AWS_PROFILE="dev"),
        identity(chain, AWS_ROLE_ARN=ROLE),
        identity(chain, AWS_CONFIG_FILE="/etc/aws/config"),
    ]
    texts = {repr(sorted(other.items())) for other in others}
    assert len(texts) == len(others)
    assert repr(sorted(base.items())) not in texts
    assert "secret" not in repr(identity(chain, AWS_SECRET_ACCESS_KEY="secret"))
