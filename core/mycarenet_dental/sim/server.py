"""Serve the simulator on loopback with TLS, in a thread or in the foreground, on cheroot.

Why cheroot and not Werkzeug's server: Werkzeug 3.1 answers every request with ``Connection: close``
whatever ``protocol_version`` says (each call would pay a new TLS handshake, nothing like eHealth),
and it runs the TLS handshake in its accept loop without a timeout, so one client that connects and
stays silent stops every other client. Cheroot (CherryPy's server) keeps HTTP/1.1 connections alive
with idle connections parked in a selector, not in a thread, bounds header and body sizes, reads
chunked bodies, and answers what it will not serve with a status (400, 413, 414, 501, 505). The one
addition here is that the TLS handshake runs in the worker thread that reads the first request
(bounded by ``TIMEOUT_S``), never in the accept loop.
"""

from __future__ import annotations

import errno
import logging
import os
import ssl
import sys
import threading
from io import BytesIO
from pathlib import Path
from typing import Any

from cheroot import errors as cheroot_errors
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from ..errors import ConfigError
from .app import MAX_REQUEST_BYTES

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_HEADER_BYTES = 64 * 1024  # request line and all header lines together
TIMEOUT_S = 30  # a socket read (handshake, request, body) and an idle keep-alive connection
WORKERS = 16  # requests served at once; idle keep-alive connections take no worker
KEEP_ALIVE_LIMIT = 100  # open connections parked between requests; past it, answers say Connection: close
SHUTDOWN_S = 2.0  # stop() waits this long for busy workers, then closes their sockets
METHODS = ("GET", "POST")
_TOO_LARGE = "Request Entity Too Large"  # how cheroot's chunked reader says the body passed the bound
log = logging.getLogger("mycarenet_dental.sim")


def _plain(start_response: Any, status: str, text: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
    return [text]


def _guard(app: Any) -> Any:
    """Read a chunked body here, so that one past the bound gets 413 (cheroot then closes the connection)
    and a malformed one 400, instead of an error inside the application; refuse methods the insurer
    does not serve (501)."""

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("wsgi.input_terminated"):  # chunked: cheroot decodes it, bounded
            try:
                body = environ["wsgi.input"].read()
            except ValueError:  # a chunk-size line that is not hexadecimal
                return _plain(start_response, "400 Bad Request", b"bad chunked body")
            except (cheroot_errors.MaxSizeExceeded, OSError) as exc:
                if exc.args[:1] != (_TOO_LARGE,):  # a broken connection, not the bound
                    raise
                return _plain(start_response, "413 Content Too Large", b"request too large")
            environ.update({"wsgi.input": BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                            "wsgi.input_terminated": False})
        if environ["REQUEST_METHOD"] not in METHODS:
            return _plain(start_response, "501 Not Implemented", b"method not supported")
        return app(environ, start_response)

    return guarded


class _HandshakeInWorker(BuiltinSSLAdapter):
    """Cheroot's TLS adapter, with the handshake left to the first read (in a worker thread, under the
    socket timeout) instead of ``accept`` (in the one loop that serves every client)."""

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__(str(cert), str(key))
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2

    def wrap(self, sock: Any) -> tuple[ssl.SSLSocket, dict[str, str]]:
        tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return tls, {"wsgi.url_scheme": "https", "HTTPS": "on"}


class _Server(wsgi.Server):
    def process_conn(self, conn: Any) -> None:
        """A connection just accepted waits in the selector, as an idle keep-alive one does, until its
        client sends (its ClientHello): a client that connects and stays silent holds no worker, and is
        closed after ``TIMEOUT_S``. Cheroot would hand it to a worker at once."""
        if conn.last_used is None:  # set by the connection manager's put(); None until then
            self._connections.put(conn)
            return
        super().process_conn(conn)

    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        """Cheroot writes to stderr; here, peers' failures (TLS, resets, timeouts: a port scan, a client
        that gives up) go to debug, errors of the application to the simulator's log."""
        peer = isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError, TimeoutError))
        log.log(logging.DEBUG if peer or level < logging.ERROR else level, "%s", msg, exc_info=traceback)


def _in_daemon_thread(function: Any) -> None:
    """Run ``function`` in a daemon thread and wait for it. Cheroot's worker threads are not daemons, but
    a thread inherits its creator's flag: started from here, a server a caller forgets to stop cannot
    keep the interpreter from exiting."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            function()
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=run, name="mcn-simulator-prepare", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


class SimulatorServer:
    """A running simulator. ``port=0`` picks a free port; ``url`` tells which."""

    def __init__(self, app: Any, *, pki_dir: Path, host: str = "127.0.0.1", port: int = 8443,
                 max_body_bytes: int = MAX_REQUEST_BYTES) -> None:
        if host not in LOOPBACK:
            raise ConfigError(f"the simulator only listens on loopback, not {host!r}", location="--host")
        cert, key = pki_dir / "tls.pem", pki_dir / "tls-key.pem"
        if not cert.exists() or not key.exists():
            raise ConfigError(f"no TLS certificate in {pki_dir}", hint="run `mycarenet-dental simulator pki --out DIR`")
        self.app = app
        server = _Server((host, port), _guard(app), numthreads=WORKERS, server_name="mcn-simulator",
                         timeout=TIMEOUT_S, shutdown_timeout=SHUTDOWN_S)
        server.ssl_adapter = _HandshakeInWorker(cert, key)
        server.max_request_header_size = MAX_HEADER_BYTES
        server.max_request_body_size = max_body_bytes
        server.keep_alive_conn_limit = KEEP_ALIVE_LIMIT
        server.expiration_interval = 0.1  # how soon stop() is noticed, and idle connections expire
        try:
            _in_daemon_thread(server.prepare)  # bind and listen now: the port is known, a busy port a ConfigError
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE or os.strerror(errno.EADDRINUSE) in str(exc):  # cheroot wraps it
                raise ConfigError(f"cannot listen on {host}:{port}: port {port} is busy (another simulator or "
                                  "program listens there)", location="--port",
                                  hint=f"stop what listens on {port}, or choose another port (0 picks a free one)"
                                  ) from exc
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", location="--port") from exc
        self._server = server
        self.host = host
        self.port = int(server.bind_addr[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(target=self._server.serve, name="mcn-simulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self._server.serve()
        finally:
            self._server.stop()

    def stop(self) -> None:
        self._server.stop()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
