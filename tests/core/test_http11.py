"""The lean HTTP/1.1 client: framing (length, chunked, close), reuse, stale connections, bad peers."""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from mycarenet_dental.http11 import ConnectionPool, HttpFailure

Script = Callable[[socket.socket, bytes], bool]  # (connection, request bytes) -> keep the connection open?


class RawServer:
    """A plain-TCP server answering each request with the bytes a script writes; counts connections."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/svc?x=1"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        rfile = conn.makefile("rb")
        with conn:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = rfile.readline()
                    if not line:
                        return
                    head += line
                length = int(next((h.split(b":")[1] for h in head.split(b"\r\n")
                                   if h.lower().startswith(b"content-length")), b"0"))
                request = head + rfile.read(length)
                self.requests.append(request)
                if not self.script(conn, request):
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Script], RawServer]]:
    servers: list[RawServer] = []

    def start(script: Script) -> RawServer:
        servers.append(RawServer(script))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _pool() -> ConnectionPool:
    return ConnectionPool(ssl.create_default_context())


def _post(pool: ConnectionPool, url: str, body: bytes = b"<x/>") -> tuple[int, bytes]:
    resp = pool.post(url, body, {"SOAPAction": '"a"'}, connect_timeout=2, read_timeout=2)
    try:
        return resp.status, b"".join(resp.chunks())
    finally:
        resp.close()


def _answer(body: bytes, *extra: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_keep_alive_reuses_one_connection_and_sends_the_request_exactly(serve) -> None:
    server = serve(lambda c, r: c.sendall(_answer(b"<ok/>")) or True)
    pool = _pool()
    for _ in range(5):
        assert _post(pool, server.url, b"<hello/>") == (200, b"<ok/>")
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /svc?x=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in first
    assert b"Content-Length: 8\r\n" in first and b'SOAPAction: "a"\r\n' in first and first.endswith(b"<hello/>")


def test_chunked_gzip_and_interim_answers(serve) -> None:
    payload = gzip.compress(b"<big>" + b"a" * 200_000 + b"</big>")
    parts = [payload[:100], payload[100:]]
    chunked = b"".join(f"{len(p):x};ext=1\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\nX-T: 1\r\n\r\n"

    def script(conn: socket.socket, _: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Encoding: gzip\r\n\r\n" + chunked)
        return True

    server = serve(script)
    pool = _pool()
    status, body = _post(pool, server.url)
    assert status == 200 and body == b"<big>" + b"a" * 200_000 + b"</big>"
    assert _post(pool, server.url)[1] == body  # the chunked answer was consumed exactly: reusable
    assert server.connections == 1


def test_connection_close_and_http10_are_not_reused(serve) -> None:
    answers = iter([_answer(b"1", "Connection: close"), b"HTTP/1.0 200 OK\r\n\r\nuntil-eof"] * 3)

    def script(conn: socket.socket, _: bytes) -> bool:
        conn.sendall(next(answers))
        return False

    server = serve(script)
    pool = _pool()
    assert _post(pool, server.url) == (200, b"1")
    assert _post(pool, server.url) == (200, b"until-eof")
    assert _post(pool, server.url) == (200, b"1")
    assert server.connections == 3


def test_a_connection_the_server_closed_while_idle_is_not_reused(serve) -> None:
    def script(conn: socket.socket, _: bytes) -> bool:
        conn.sendall(_answer(b"ok"))  # says nothing of closing, then closes (idle timeout)
        return False

    server = serve(script)
    pool = _pool()
    assert _post(pool, server.url) == (200, b"ok")
    (idle,) = [c for conns in pool._idle.values() for c in conns]
    deadline = time.monotonic() + 5
    while idle.usable() and time.monotonic() < deadline:  # wait for the close to reach us
        time.sleep(0.01)
    assert not idle.usable()
    assert _post(pool, server.url) == (200, b"ok")  # a new connection, not a failure
    assert server.connections == 2 and len(server.requests) == 2  # and the POST was sent once each time


@pytest.mark.parametrize(("answer", "kind"), [
    (b"", "broken"),  # closed without answering
    (b"SMTP ready\r\n\r\n", "broken"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "broken"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "broken"),
    (b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 150 + b"\r\n", "broken"),
])
def test_broken_peers_give_typed_failures(serve, answer: bytes, kind: str) -> None:
    def script(conn: socket.socket, _: bytes) -> bool:
        conn.sendall(answer)
        return False

    server = serve(script)
    with pytest.raises(HttpFailure) as info:
        _post(_pool(), server.url)
    assert info.value.kind == kind
    assert len(server.requests) == 1  # never re-sent


def test_silence_is_a_timeout(serve) -> None:
    server = serve(lambda c, r: True)  # reads, never answers
    pool = _pool()
    with pytest.raises(HttpFailure) as info:
        pool.post(server.url, b"x", {}, connect_timeout=1, read_timeout=0.3)
    assert info.value.kind == "timeout"


def test_refused_connection_and_header_injection() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HttpFailure) as info:
        _post(_pool(), f"http://127.0.0.1:{port}/")
    assert info.value.kind == "connection"
    with pytest.raises(HttpFailure):
        _post(_pool(), "ftp://example.invalid/")


def test_header_values_with_line_breaks_are_refused(serve) -> None:
    server = serve(lambda c, r: c.sendall(_answer(b"ok")) or True)
    with pytest.raises(ValueError, match="line break"):
        _pool().post(server.url, b"x", {"SOAPAction": "a\r\nX-Evil: 1"}, connect_timeout=1, read_timeout=1)
    assert server.requests == []
