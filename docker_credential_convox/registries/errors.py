"""The failures of the `registries` commands alone: a command line, Docker's config.json, a
registry's answer to a login. The protocol's own family is in errors.py."""

from __future__ import annotations

from docker_credential_convox.errors import HelperError


class UsageError(HelperError):
    """A `registries` command line cannot be acted on."""


class DockerConfigError(HelperError):
    """Docker's config.json cannot be read, understood or written."""


class VerificationFailed(HelperError):
    """The registry answered, and refused the username and password."""


class RegistryUnreachable(HelperError):
    """The registry could not be asked: no connection, TLS failure, or an unexpected answer."""
