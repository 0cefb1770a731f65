"""Diagnostics for humans on stderr: warnings always, debug lines only when asked for.

stdout belongs to the protocol; nothing here ever writes there. Callers pass only
non-secret facts (server, source, error class), never tokens or keys.
"""

from __future__ import annotations

from docker_credential_convox import APP, TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TextIO


PREFIX = APP


class Diagnostics:
    """Writes `warning:` and, when enabled, `debug:` lines to a stream (stderr)."""

    def __init__(self, stream: TextIO, debug: bool = False) -> None:
        self.stream = stream
        self.debug_enabled = debug

    def _write(self, level: str, message: str) -> None:
        try:
            self.stream.write(f"{PREFIX}: {level}: {message}\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed stderr must not turn into a failure
            pass

    def warn(self, message: str) -> None:
        """A problem the user should know about even though the request succeeded."""
        self._write("warning", message)

    def hint(self, message: str) -> None:
        """What to do about the error just printed on stdout."""
        try:
            self.stream.write(message.rstrip("\n") + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def debug(self, message: str) -> None:
        """A detail for troubleshooting, shown when DOCKER_CREDENTIAL_CONVOX_DEBUG is set."""
        if self.debug_enabled:
            self._write("debug", message)
