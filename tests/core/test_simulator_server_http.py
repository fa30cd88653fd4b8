"""The simulator's HTTP/1.1 server: keep-alive, and a clear status for requests it will not serve."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from mycarenet_dental.sim.pki import generate_pki
from mycarenet_dental.sim.server import SimulatorServer


def _echo(environ: dict, start_response):  # a WSGI app: echoes method, path and body
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "999")])
    return [environ["REQUEST_METHOD"].encode(), b" ", environ["PATH_INFO"].encode(), b" ",
            environ.get("HTTP_SOAPACTION", "").encode(), b" ", body]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimulatorServer, Path]]:
    pki = tmp_path_factory.mktemp("pki")
    generate_pki(pki)
    srv = SimulatorServer(_echo, pki_dir=pki, port=0).start()
    yield srv, pki
    srv.stop()


def _connect(server: tuple[SimulatorServer, Path]) -> ssl.SSLSocket:
    srv, pki = server
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    return ctx.wrap_socket(sock, server_hostname="localhost")


def _exchange(sock: ssl.SSLSocket, request: bytes) -> bytes:
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_keep_alive_and_own_content_length(server) -> None:
    with _connect(server) as sock:
        for n in range(3):  # one connection, several requests
            body = f"<x{n}/>".encode()
            reply = _exchange(sock, b"POST /svc HTTP/1.1\r\nHost: x\r\nSOAPAction: \"a\"\r\nContent-Length: "
                              + str(len(body)).encode() + b"\r\n\r\n" + body)
            assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"Content-Length: " + str(len(b'POST /svc "a" ' + body)).encode() in reply  # not the app's 999
            assert reply.endswith(b'POST /svc "a" ' + body) and b"Connection: close" not in reply


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", b"501"),
    (b"POST /svc\r\n\r\n", b"400"),
    (b"POST /svc HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
    (b"POST /svc HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"411"),
    (b"POST /svc HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", b"413"),
    (b"POST /svc HTTP/1.1\r\nContent-Length: ten\r\n\r\n", b"400"),
    (b"POST /svc HTTP/1.1\r\n" + b"X-A: 1\r\n" * 150 + b"\r\n", b"431"),
])
def test_requests_it_will_not_serve_get_a_status_and_a_close(server, request_bytes: bytes, status: bytes) -> None:
    with _connect(server) as sock:
        reply = _exchange(sock, request_bytes)
        assert reply.split(b" ")[1] == status
        assert b"Connection: close" in reply
        assert sock.recv(1) == b""  # and the server closed the connection
