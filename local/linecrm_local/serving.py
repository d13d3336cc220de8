"""Small helpers shared by the local stack's HTTP servers (gateway, moto)."""

from __future__ import annotations

import errno
import logging
import socket
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

logger = logging.getLogger(__name__)


class PortInUseError(OSError):
    """A local server could not bind its port."""

    def __init__(self, what: str, host: str, port: int) -> None:
        super().__init__(errno.EADDRINUSE, f"{what}: port {port} on {host} is already in use")
        self.what = what
        self.host = host
        self.port = port

    def __str__(self) -> str:
        return str(self.strerror)


def bind_listening_socket(what: str, host: str, port: int) -> socket.socket:
    """Bind ``host:port`` (0 = a free port) now, so the port is known and a busy port
    is a clear error here (werkzeug's own bind prints and calls sys.exit instead)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUseError(what, host, port) from error
        raise
    sock.listen(128)
    return sock


class QuietRequestHandler(WSGIRequestHandler):
    """Request lines go to our logger at DEBUG instead of werkzeug's INFO stream."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug("%s %s -> %s", self.command, self.path, code)


class BackgroundWsgiServer:
    """A threaded werkzeug server on an already bound socket, served by a daemon thread."""

    def __init__(
        self,
        name: str,
        sock: socket.socket,
        app: Any,
        request_handler: type[WSGIRequestHandler] = QuietRequestHandler,
    ) -> None:
        host, port = sock.getsockname()[:2]
        self.name = name
        self.host: str = host
        self.port: int = port
        # make_server duplicates the descriptor; keep ours open until stop().
        self._socket = sock
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=request_handler, fd=sock.fileno()
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        # A short poll interval makes stop() quick (shutdown waits for the poll).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"linecrm-{self.name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()
        self._socket.close()
