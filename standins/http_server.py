"""An HTTP server on a free 127.0.0.1 port, answering from a background thread.

The stand-ins that are HTTP services written here (the AWS proxy, the tests' token registry)
share this: one place binds, wraps TLS, starts and stops the thread, so none can leak a socket
or a thread another way.
"""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

from standins.processes import STOP_TIMEOUT_SECONDS


class BackgroundHttpServer:
    """`handler` served on 127.0.0.1 (a free port) by a daemon thread, until `stop`."""

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        tls: Optional[ssl.SSLContext] = None,
    ) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self.url = f"{self.scheme}://{self.host}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(STOP_TIMEOUT_SECONDS)
