"""Serve the simulator on loopback with TLS (Werkzeug's threaded server), in a thread or in the foreground."""

from __future__ import annotations

import logging
import ssl
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from ..errors import ConfigError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
log = logging.getLogger("mycarenet_dental.simulator")


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to the logger (debug), not to the terminal of the demo or the tests.

    HTTP/1.1 keeps connections alive, so a client pays the TLS handshake once, as with eHealth.
    """

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.command, self.path, code)

    def log_error(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        log.debug(format, *args)


class SimulatorServer:
    """A running simulator. ``port=0`` picks a free port; ``url`` tells which."""

    def __init__(self, app: Any, *, pki_dir: Path, host: str = "127.0.0.1", port: int = 8443) -> None:
        if host not in LOOPBACK:
            raise ConfigError(f"the simulator only listens on loopback, not {host!r}", location="--host")
        cert, key = pki_dir / "tls.pem", pki_dir / "tls-key.pem"
        if not cert.exists() or not key.exists():
            raise ConfigError(f"no TLS certificate in {pki_dir}", hint="run `mycarenet-dental simulator pki --out DIR`")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(cert), str(key))
        self.app = app
        self._server = make_server(host, port, app, threaded=True, ssl_context=context,
                                   request_handler=_QuietHandler)
        self.host = host
        self.port = self._server.server_port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="mcn-simulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
