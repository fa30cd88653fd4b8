"""The simulator's HTTP/1.1 server: keep-alive, bounded requests with a clear status, TLS handshakes that
cannot stall other clients, and a stop that does not hang."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mycarenet_dental.errors import ConfigError
from mycarenet_dental.sim.pki import generate_pki
from mycarenet_dental.sim.server import WORKERS, SimulatorServer

MAX_BODY = 4096  # a small bound, so the over-size tests send little


def _echo(environ: dict, start_response):  # a WSGI app: echoes method, path, SOAPAction and body
    body = environ["wsgi.input"].read()
    reply = b" ".join([environ["REQUEST_METHOD"].encode(), environ["PATH_INFO"].encode(),
                       environ.get("HTTP_SOAPACTION", "").encode(), body])
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(reply)))])
    return [reply]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pki")
    generate_pki(path)
    return path


@pytest.fixture(scope="module")
def server(pki: Path) -> Iterator[tuple[SimulatorServer, Path]]:
    srv = SimulatorServer(_echo, pki_dir=pki, port=0, max_body_bytes=MAX_BODY).start()
    yield srv, pki
    srv.stop()


def _connect(server: tuple[SimulatorServer, Path], timeout: float = 5) -> ssl.SSLSocket:
    srv, pki = server
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    return ctx.wrap_socket(sock, server_hostname="localhost")


def _exchange(sock: ssl.SSLSocket, request: bytes) -> bytes:
    """Send a request, read one answer (head and Content-Length body)."""
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


def _post(body: bytes, path: bytes = b"/svc") -> bytes:
    return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nSOAPAction: \"a\"\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def _closed(sock: ssl.SSLSocket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ConnectionError, ssl.SSLError):
        return True


def test_keep_alive_several_requests_on_one_connection(server) -> None:
    with _connect(server) as sock:
        for n in range(3):
            body = f"<x{n}/>".encode()
            reply = _exchange(sock, _post(body))
            assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
            assert reply.endswith(b'POST /svc "a" ' + body) and b"Connection: close" not in reply


def test_a_chunked_body_is_read_and_the_connection_stays_in_step(server) -> None:
    with _connect(server) as sock:
        reply = _exchange(sock, b"POST /svc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                b"3\r\n<a/\r\n1\r\n>\r\n0\r\n\r\n")
        assert reply.endswith(b"POST /svc  <a/>")
        assert _exchange(sock, _post(b"<b/>")).endswith(b'POST /svc "a" <b/>')


def test_a_post_without_length_has_an_empty_body_and_the_next_request_is_served(server) -> None:
    with _connect(server) as sock:
        assert _exchange(sock, b"POST /svc HTTP/1.1\r\nHost: x\r\n\r\n").endswith(b"POST /svc  ")
        assert _exchange(sock, _post(b"<b/>")).endswith(b'POST /svc "a" <b/>')


def test_a_malformed_chunked_body_gets_400(server) -> None:
    with _connect(server) as sock:
        reply = _exchange(sock, b"POST /svc HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n")
        assert reply.split(b" ")[1] == b"400" and b"POST /svc" not in reply  # never reaches the application


def test_an_unserved_method_gets_501_and_its_chunked_body_is_not_taken_for_a_request(server) -> None:
    smuggled = _post(b"<smuggled/>")
    chunk = hex(len(smuggled))[2:].encode() + b"\r\n" + smuggled + b"\r\n0\r\n\r\n"
    with _connect(server) as sock:
        reply = _exchange(sock, b"BREW /pot HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk)
        assert reply.split(b" ")[1] == b"501"
        after = _exchange(sock, _post(b"<next/>"))
        assert after.endswith(b'POST /svc "a" <next/>') and b"smuggled" not in after


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"POST /svc\r\n\r\n", b"400"),
    (b"POST /svc HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
    (b"POST /svc HTTP/1.1\r\nContent-Length: ten\r\n\r\n", b"400"),
    (b"POST /svc HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", b"501"),
    (b"POST /svc HTTP/2.0\r\nHost: x\r\n\r\n", b"505"),
    (b"POST /svc HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", b"413"),
    (b"POST /svc HTTP/1.1\r\n" + b"X-A: " + b"a" * 70_000 + b"\r\n\r\n", b"413"),  # headers over the bound
    (b"POST /svc HTTP/1.1\r\n" + b"X-A: 1\r\n" * 10_000 + b"\r\n", b"413"),  # many small header lines
    (b"POST /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", b"414"),
    (b"POST /svc HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + (b"400\r\n" + b"a" * 1024 + b"\r\n") * 5
     + b"0\r\n\r\n", b"413"),  # a chunked body past the bound
])
def test_requests_it_will_not_serve_get_a_status_and_a_close(server, request_bytes: bytes, status: bytes) -> None:
    with _connect(server) as sock:
        reply = _exchange(sock, request_bytes)
        assert reply.split(b" ")[1] == status, reply[:200]
        assert _closed(sock)  # and the server closed the connection


def test_a_client_that_never_finishes_its_handshake_does_not_stop_others(server) -> None:
    srv, _ = server
    silent = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(WORKERS + 2)]  # TCP only, no TLS
    try:
        started = time.monotonic()
        with _connect(server, timeout=3) as sock:
            assert _exchange(sock, _post(b"<x/>")).endswith(b"<x/>")
        assert time.monotonic() - started < 2
    finally:
        for sock in silent:
            sock.close()


def test_idle_keep_alive_connections_hold_no_worker(server) -> None:
    idle: list[ssl.SSLSocket] = []
    try:
        for _ in range(WORKERS + 4):  # more open connections than workers, each idle after one request
            idle.append(_connect(server))
            assert _exchange(idle[-1], _post(b"<i/>")).endswith(b"<i/>")
        with _connect(server, timeout=3) as sock:  # every worker is free again: a new client is served
            assert _exchange(sock, _post(b"<new/>")).endswith(b"<new/>")
    finally:
        for sock in idle:
            sock.close()


def test_plain_http_on_the_tls_port_is_refused_and_the_server_goes_on(server) -> None:
    srv, _ = server
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw:
        raw.sendall(_post(b"<x/>"))
        assert b"<x/>" not in raw.recv(65536)  # no answer from the application
    with _connect(server) as sock:
        assert _exchange(sock, _post(b"<ok/>")).endswith(b"<ok/>")


def test_stop_does_not_hang_on_idle_half_sent_or_silent_clients(pki: Path) -> None:
    srv = SimulatorServer(_echo, pki_dir=pki, port=0).start()
    pair = (srv, pki)
    idle = _connect(pair)
    _exchange(idle, _post(b"<x/>"))
    half = _connect(pair)
    half.sendall(b"POST /svc HTTP/1.1\r\nContent-Length: 100\r\n\r\n<partial")  # a worker waits for the rest
    silent = socket.create_connection(("127.0.0.1", srv.port))
    time.sleep(0.2)
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 4
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
    for sock in (idle, half, silent):
        sock.close()


def test_ephemeral_port_loopback_only_and_busy_port(pki: Path) -> None:
    with SimulatorServer(_echo, pki_dir=pki, port=0) as srv:
        assert srv.port > 0 and srv.url == f"https://127.0.0.1:{srv.port}"
        with pytest.raises(ConfigError, match="cannot listen"):
            SimulatorServer(_echo, pki_dir=pki, port=srv.port)
    with pytest.raises(ConfigError, match="loopback"):
        SimulatorServer(_echo, pki_dir=pki, host="0.0.0.0", port=0)


def test_a_server_never_stopped_does_not_keep_the_interpreter_alive(pki: Path) -> None:
    code = ("import sys; from pathlib import Path; from mycarenet_dental.sim.server import SimulatorServer; "
            "SimulatorServer(lambda e, s: [], pki_dir=Path(sys.argv[1]), port=0).start(); print('up')")
    done = subprocess.run([sys.executable, "-c", code, str(pki)], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0 and done.stdout.strip() == "up", done.stderr[-500:]
