"""Serve the simulator on loopback with TLS, in a thread or in the foreground.

Werkzeug's development server closes every connection, so each call would pay a new TLS
handshake on both sides — nothing like eHealth, and the benchmarks would measure handshakes.
This small threaded HTTP/1.1 server keeps connections alive, reads bodies by Content-Length
(bounded), and calls the simulator's WSGI application.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .app import MAX_REQUEST_BYTES

LOOPBACK = ("127.0.0.1", "localhost", "::1")
log = logging.getLogger("mycarenet_dental.simulator")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30  # an idle keep-alive connection is closed after this
    server: _TlsServer

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.do_handshake()  # in this connection's thread, never in the accept loop
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake failed: %s", exc)
            self.close_connection = True
            raise

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        self._serve()

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        if self.headers.get("Transfer-Encoding"):
            self._plain(411, b"length required")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._plain(400, b"bad content-length")
            return
        if length > MAX_REQUEST_BYTES:
            self._plain(413, b"request too large")
            return
        body = self.rfile.read(length)
        path, _, query = self.path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
            "SERVER_NAME": self.server.server_address[0], "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version, "REMOTE_ADDR": self.client_address[0],
            "CONTENT_LENGTH": str(length), "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "wsgi.version": (1, 0), "wsgi.url_scheme": "https", "wsgi.input": BytesIO(body),
            "wsgi.errors": BytesIO(), "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for key, value in self.headers.items():
            name = "HTTP_" + key.upper().replace("-", "_")
            if name not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[name] = value
        reply: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            reply[:] = [status, headers]
            return lambda data: None

        chunks = self.server.app(environ, start_response)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                close()
        status, headers = reply
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for key, value in headers:
            if key.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _plain(self, code: int, text: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(text)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        log.debug(format, *args)


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: Any, context: ssl.SSLContext) -> None:
        self.app = app
        self._context = context
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        return self._context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


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
        try:
            self._server = _TlsServer((host, port), app, context)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}", location="--port") from exc
        self.host = host
        self.port = self._server.server_address[1]
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
