"""The registry for the client tests: standins' docker-registry with htpasswd auth, per session.

`registry` starts it once per session on a free loopback port, with its storage in a temporary
directory, and stops exactly the process it started; `registry_image` pushes a tiny image once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from standins import StandInError
from standins.registry import TOOLS, Registry, start_registry
from support import fail_without

__all__ = ["Registry", "registry", "registry_image"]

REGISTRY_USERNAME = "alice"
REGISTRY_PASSWORD = "s3cret-Pa55word"
IMAGE_REPOSITORY = "convox/hello"
IMAGE_TAG = "v1"


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Debian's docker-registry with htpasswd auth on 127.0.0.1, for the whole session."""
    fail_without(*TOOLS)
    try:
        running = start_registry(
            tmp_path_factory.mktemp("registry"), REGISTRY_USERNAME, REGISTRY_PASSWORD
        )
    except StandInError as exc:
        pytest.fail(str(exc))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def registry_image(registry: Registry) -> str:
    """`HOST/convox/hello:v1`, pushed once per session."""
    return registry.push_image(IMAGE_REPOSITORY, IMAGE_TAG)
