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
MAX_LINE = 65536
MAX_HEADERS = 100
log = logging.getLogger("mycarenet_dental.sim")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30  # an idle keep-alive connection is closed after this
    server: _TlsServer
    lean_headers: dict[str, str]

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.do_handshake()  # in this connection's thread, never in the accept loop
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake failed: %s", exc)
            self.close_connection = True
            raise

    def handle_one_request(self) -> None:
        """Read one request with a lean parser (``http.server`` parses headers through the ``email``
        package, a third of a millisecond per call) and answer it."""
        try:
            line = self.rfile.readline(MAX_LINE + 1)
        except (TimeoutError, OSError):
            self.close_connection = True
            return
        if not line:
            self.close_connection = True
            return
        parts = line.split()
        if len(line) > MAX_LINE or len(parts) != 3 or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
            self._plain(400, b"bad request line")
            return
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            hline = self.rfile.readline(MAX_LINE + 1)
            if hline in (b"\r\n", b"\n"):
                break
            name, sep, value = hline.decode("latin-1").partition(":")
            if len(hline) > MAX_LINE or not hline.endswith(b"\n") or not sep or not name or name != name.strip():
                self._plain(400, b"bad header line")
                return
            name = name.lower()
            headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
        else:
            self._plain(431, b"too many header lines")
            return
        self.command, self.path = parts[0].decode("latin-1"), parts[1].decode("latin-1")
        self.request_version = parts[2].decode("latin-1")
        self.lean_headers = headers
        connection = headers.get("connection", "").lower()
        self.close_connection = "close" in connection or (
            self.request_version == "HTTP/1.0" and "keep-alive" not in connection)
        if self.command not in ("POST", "GET"):
            self._plain(501, b"method not supported")
            return
        self._serve()

    def _serve(self) -> None:
        headers = self.lean_headers
        if headers.get("transfer-encoding"):
            self._plain(411, b"length required")
            return
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            self._plain(400, b"bad content-length")
            return
        if length > MAX_REQUEST_BYTES or length < 0:
            self._plain(413, b"request too large")
            return
        body = self.rfile.read(length)
        path, _, query = self.path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
            "SERVER_NAME": self.server.server_address[0], "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version, "REMOTE_ADDR": self.client_address[0],
            "CONTENT_LENGTH": str(length), "CONTENT_TYPE": headers.get("content-type", ""),
            "wsgi.version": (1, 0), "wsgi.url_scheme": "https", "wsgi.input": BytesIO(body),
            "wsgi.errors": BytesIO(), "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for key, value in headers.items():
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
        status, reply_headers = reply
        head = [f"HTTP/1.1 {status}"]
        for key, value in reply_headers:
            if key.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                head.append(f"{key}: {value}")
        head.append(f"Content-Length: {len(data)}")
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)

    def _plain(self, code: int, text: bytes) -> None:
        self.close_connection = True
        reason = {400: "Bad Request", 411: "Length Required", 413: "Content Too Large", 431: "Request Header Fields "
                  "Too Large", 501: "Not Implemented"}.get(code, "Error")
        self.wfile.write(f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(text)}"
                         f"\r\nConnection: close\r\n\r\n".encode("latin-1") + text)

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
