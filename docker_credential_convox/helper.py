"""The router: parse the server once, pick the backend that serves it, answer the action."""

from __future__ import annotations

from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.registry_index import (
    ECR_ALIAS_PREFIX,
    SOURCE_ECR_ALIAS,
    RegistryIndex,
)
from docker_credential_convox.servers import (
    ECR,
    ECR_PUBLIC,
    REGISTRY,
    Server,
    parse_server,
    strip_userinfo,
)
from docker_credential_convox.settings import Settings

# `typing` costs milliseconds at start-up; mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional

    from docker_credential_convox.backends import Backend
    from docker_credential_convox.backends.ecr import EcrBackend
    from docker_credential_convox.backends.keyring import KeyringBackend
    from docker_credential_convox.keychain import Keychain


class Helper:
    """The four protocol operations over every backend, sharing one registry index."""

    def __init__(
        self,
        settings: Settings,
        diagnostics: Diagnostics,
        index: Optional[RegistryIndex] = None,
        keychain: Optional[Keychain] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> None:
        self.settings = settings
        self.diagnostics = diagnostics
        self.index = index or RegistryIndex(settings.index_path)
        self._keychain = keychain
        self._clock = clock
        self._ecr: Optional[EcrBackend] = None

    @property
    def keychain(self) -> Keychain:
        """The OS keyring wrapper, created on first use (importing nothing until then)."""
        if self._keychain is None:
            from docker_credential_convox.keychain import Keychain

            self._keychain = Keychain(
                self.settings.keyring_backend,
                pin_path=self.settings.keyring_pin_path,
                timeout=self.settings.keyring_timeout,
            )
        return self._keychain

    def backend_for(self, server: Server) -> Backend:
        """The backend that serves `server`."""
        if server.kind in (ECR, ECR_PUBLIC):
            return self.ecr_backend()
        return self._keyring_backend()

    def ecr_backend(self) -> EcrBackend:
        """The ECR backend (ECR hosts and ECR aliases), built on first use; the keychain is
        handed over unopened."""
        if self._ecr is None:
            import time

            from docker_credential_convox.backends.ecr import EcrBackend

            self._ecr = EcrBackend(
                self.settings,
                self.diagnostics,
                self.index,
                lambda: self.keychain,
                clock=self._clock or time.time,
            )
        return self._ecr

    def _keyring_backend(self) -> KeyringBackend:
        from docker_credential_convox.backends.keyring import KeyringBackend

        return KeyringBackend(self.index, self.keychain, self.diagnostics)

    def store(self, credentials: Credentials) -> None:
        server = parse_server(credentials.server_url)
        if server.url != credentials.server_url:  # a password in the URL is never kept
            credentials = Credentials(server.url, credentials.username, credentials.secret)
        if server.kind == REGISTRY and credentials.username.startswith(ECR_ALIAS_PREFIX):
            self.ecr_backend().store_alias(server, credentials)
            return
        self.backend_for(server).store(server, credentials)

    def get(self, server_url: str) -> Credentials:
        server = parse_server(server_url)
        if server.kind != REGISTRY:
            return self.backend_for(server).get(server)
        # One read of the index answers both an ordinary registry and an ECR alias (whose
        # target's entry it also holds); an alias never opens the keyring.
        entries = self.index.snapshot()
        found = next((key for key in server.lookup_keys() if key in entries), None)
        if found is None:
            return self._keyring_backend().get_entry(server, None)
        entry = entries[found]
        if found != server.key:
            self.diagnostics.debug(f"no entry for {server.key}; answering from {found}")
            server = server.with_key(found)
        if entry.source == SOURCE_ECR_ALIAS:
            return self.ecr_backend().get_alias(server, entry, entries)
        return self._keyring_backend().get_entry(server, entry)

    def erase(self, server_url: str) -> None:
        """Forget the entry of exactly this server and path (never a shorter path's)."""
        server = parse_server(server_url)
        self.backend_for(server).erase(server)

    def list(self) -> dict[str, str]:
        """Server URL -> username for every registry in the index, plus the ECR registries with
        a usable cached token (minted from the default chain, say); no keyring or network call."""
        entries = self.index.entries()
        # strip_userinfo: an earlier release kept a password sent in the URL.
        listing = {strip_userinfo(entry.server_url): entry.username for entry in entries}
        indexed = {entry.key for entry in entries}
        for registry, username in self.ecr_backend().cached_registries().items():
            if registry not in indexed:
                listing.setdefault(registry, username)
        return listing
