"""The HTTP layer (``httpclient`` on requests/urllib3) against scripted raw servers: framing, reuse, stale
connections, bad peers, the overall deadline (slowloris, endless ``100 Continue``), a server that writes two
responses at once, TLS pinning. Each attack is played over real sockets, plain and TLS where it matters."""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from ipaddress import IPv4Address
from pathlib import Path

import pytest
import requests
import requests.adapters
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from mycarenet_dental.ehealth.httpclient import Deadline, HttpClient, HttpFailure
from mycarenet_dental.ehealth.transport import SoapClient
from mycarenet_dental.errors import RemoteTimeoutError, TransportError
from mycarenet_dental.sim.pki import issue, new_key

Script = Callable[[socket.socket, bytes], bool]  # (connection, request bytes) -> keep the connection open?


class RawServer:
    """A TCP (optionally TLS) server answering each request with the bytes a script writes."""

    def __init__(self, script: Script, tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.tls = tls
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/svc?x=1"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
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
        except OSError:
            return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def start(script: Script, tls: ssl.SSLContext | None = None) -> RawServer:
        servers.append(RawServer(script, tls))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture(scope="module")
def tls_pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path, Path]:
    """(server context for 127.0.0.1, the CA that issued it, an unrelated CA)."""
    d = tmp_path_factory.mktemp("tls")
    now = datetime.now(timezone.utc)

    def ca(name: str) -> tuple[x509.Certificate, object, Path]:
        key = new_key("ec256")
        cert = issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), key.public_key(), issuer=None,
                     issuer_key=key, now=now, days=2, ca=True, key_usage="ca")
        path = d / f"{name}.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert, key, path

    ca_cert, ca_key, ca_path = ca("test-ca")
    _, _, other_path = ca("other-ca")
    key = new_key("ec256")
    cert = issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), key.public_key(),
                 issuer=ca_cert, issuer_key=ca_key, now=now, days=2, key_usage="tls",  # type: ignore[arg-type]
                 san=[x509.IPAddress(IPv4Address("127.0.0.1"))], eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    (d / "srv.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "srv.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(d / "srv.pem"), str(d / "srv.key"))
    return ctx, ca_path, other_path


def _post(client: HttpClient, url: str, body: bytes = b"<x/>", *, read_timeout: float = 2,
          deadline: Deadline | None = None) -> tuple[int, bytes]:
    resp = client.post(url, body, {"SOAPAction": '"a"'}, connect_timeout=2, read_timeout=read_timeout,
                       deadline=deadline)
    try:
        return resp.status, b"".join(resp.chunks())
    finally:
        resp.close()


def _idle_connections(client: HttpClient) -> list:
    manager = client.session.get_adapter("http://x").poolmanager  # type: ignore[attr-defined]
    return [c for pool in manager.pools._container.values() for c in list(pool.pool.queue) if c is not None]


def _answer(body: bytes, *extra: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


# --- framing and reuse ---------------------------------------------------------------------------------


def test_keep_alive_reuses_one_connection_and_sends_the_request_exactly(serve) -> None:
    server = serve(lambda c, r: c.sendall(_answer(b"<ok/>")) or True)
    client = HttpClient()
    for _ in range(5):
        assert _post(client, server.url, b"<hello/>") == (200, b"<ok/>")
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
    client = HttpClient()
    status, body = _post(client, server.url)
    assert status == 200 and body == b"<big>" + b"a" * 200_000 + b"</big>"
    assert _post(client, server.url)[1] == body  # the chunked answer was consumed exactly: reusable
    assert server.connections == 1


def test_gzip_pieces_stay_bounded(serve) -> None:
    """A gzip bomb is decoded in bounded pieces: the caller's size limit stops it early."""
    bomb = gzip.compress(b"\0" * 50_000_000)
    server = serve(lambda c, r: c.sendall(_answer(bomb, "Content-Encoding: gzip")) or False)
    resp = HttpClient().post(server.url, b"x", {}, connect_timeout=2, read_timeout=2)
    try:
        sizes = []
        for piece in resp.chunks(65536):
            sizes.append(len(piece))
            if sum(sizes) > 1_000_000:
                break
        assert max(sizes) <= 65536
    finally:
        resp.close()


def test_connection_close_and_http10_are_not_reused(serve) -> None:
    answers = iter([_answer(b"1", "Connection: close"), b"HTTP/1.0 200 OK\r\n\r\nuntil-eof"] * 3)

    def script(conn: socket.socket, _: bytes) -> bool:
        conn.sendall(next(answers))
        return False

    server = serve(script)
    client = HttpClient()
    assert _post(client, server.url) == (200, b"1")
    assert _post(client, server.url) == (200, b"until-eof")
    assert _post(client, server.url) == (200, b"1")
    assert server.connections == 3


def test_a_connection_the_server_closed_while_idle_is_not_reused(serve) -> None:
    closed = threading.Event()

    def script(conn: socket.socket, _: bytes) -> bool:
        conn.sendall(_answer(b"ok"))  # says nothing of closing, then closes (idle timeout)
        closed.set()
        return False

    server = serve(script)
    client = HttpClient()
    assert _post(client, server.url) == (200, b"ok")
    assert closed.wait(5)
    (idle,) = _idle_connections(client)
    deadline = time.monotonic() + 5
    while idle.is_connected and time.monotonic() < deadline:  # wait for the FIN to reach us
        time.sleep(0.01)
    assert not idle.is_connected
    assert _post(client, server.url) == (200, b"ok")  # a new connection, not a failure
    assert server.connections == 2 and len(server.requests) == 2  # and the POST was sent once each time


def test_a_post_on_a_connection_that_dies_under_it_is_never_re_sent(serve) -> None:
    """The race urllib3 cannot see: the pooled connection looks fine, the server takes the request and
    drops the connection without answering. The POST may have been processed: it must not be re-sent."""
    count = iter(range(100))

    def script(conn: socket.socket, _: bytes) -> bool:
        if next(count) == 0:
            conn.sendall(_answer(b"ok"))
            return True
        return False  # read the second request, close without a word

    server = serve(script)
    client = HttpClient()
    assert _post(client, server.url) == (200, b"ok")
    with pytest.raises(HttpFailure) as info:
        _post(client, server.url)
    assert info.value.kind == "connection"
    time.sleep(0.1)
    assert len(server.requests) == 2 and server.connections == 1


@pytest.mark.parametrize(("answer", "kind"), [
    (b"", "connection"),  # closed without answering
    (b"SMTP ready\r\n\r\n", "connection"),  # garbage status line
    (b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 150 + b"\r\n", "connection"),  # too many headers
    (b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 70_000 + b"\r\n\r\n", "connection"),  # header line too long
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "broken"),  # truncated body
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "broken"),  # bad chunk size
    (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope", "broken"),  # bad gzip
    (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\n" + gzip.compress(b"x" * 99)[:10],
     "broken"),  # truncated gzip stream
    (b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 4\r\n\r\nnope", "broken"),  # unknown coding
])
def test_broken_peers_give_typed_failures(serve, answer: bytes, kind: str) -> None:
    def script(conn: socket.socket, _: bytes) -> bool:
        conn.sendall(answer)
        return False

    server = serve(script)
    with pytest.raises(HttpFailure) as info:
        _post(HttpClient(), server.url)
    assert info.value.kind == kind
    time.sleep(0.05)
    assert len(server.requests) == 1  # never re-sent


def test_silence_is_a_timeout(serve) -> None:
    server = serve(lambda c, r: True)  # reads, never answers
    with pytest.raises(HttpFailure) as info:
        HttpClient().post(server.url, b"x", {}, connect_timeout=1, read_timeout=0.3)
    assert info.value.kind == "timeout"


def test_refused_connection_and_bad_scheme() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HttpFailure) as info:
        _post(HttpClient(), f"http://127.0.0.1:{port}/")
    assert info.value.kind == "connection"
    with pytest.raises(HttpFailure):
        _post(HttpClient(), "ftp://example.invalid/")


def test_header_values_with_line_breaks_are_refused(serve) -> None:
    server = serve(lambda c, r: c.sendall(_answer(b"ok")) or True)
    with pytest.raises(ValueError, match="line break"):
        HttpClient().post(server.url, b"x", {"SOAPAction": "a\r\nX-Evil: 1"}, connect_timeout=1, read_timeout=1)
    assert server.requests == []


# --- response integrity: two responses in one write -----------------------------------------------------


@pytest.mark.parametrize("tls", [False, True])
@pytest.mark.parametrize("stray_size", [20, 10_000, 30_000])
def test_two_responses_in_one_write_never_answer_the_next_request(serve, tls_pki, tls: bool,
                                                                  stray_size: int) -> None:
    """The server answers the first request with its answer and a second, unasked one in the same write
    (the dentist's ETK then MyCareNet's). The next request must get its own answer, never the stray one."""
    served = iter(range(100))

    def script(conn: socket.socket, _: bytes) -> bool:
        n = next(served)
        if n == 0:
            conn.sendall(_answer(b"<first/>") + _answer(b"<stray>" + b"s" * stray_size + b"</stray>"))
        else:
            conn.sendall(_answer(f"<answer-{n}/>".encode()))
        return True

    ctx, ca, _ = tls_pki
    server = serve(script, ctx if tls else None)
    client = HttpClient(ca_file=ca)
    assert _post(client, server.url) == (200, b"<first/>")
    for n in (1, 2, 3):
        status, body = _post(client, server.url)
        assert b"stray" not in body
        assert (status, body) == (200, f"<answer-{n}/>".encode())
    assert len(server.requests) == 4


def test_stray_bytes_arriving_after_the_answer_are_not_taken_as_the_next_answer(serve) -> None:
    served = iter(range(100))

    def script(conn: socket.socket, _: bytes) -> bool:
        n = next(served)
        conn.sendall(_answer(f"<answer-{n}/>".encode()))
        if n == 0:
            time.sleep(0.05)
            conn.sendall(_answer(b"<stray/>"))  # a second, separate write nobody asked for
        return True

    server = serve(script)
    client = HttpClient()
    assert _post(client, server.url) == (200, b"<answer-0/>")
    time.sleep(0.2)
    assert _post(client, server.url) == (200, b"<answer-1/>")
    assert server.connections == 2  # the connection with unread bytes was dropped, not reused


# --- the overall deadline --------------------------------------------------------------------------------


def _slowloris_body(conn: socket.socket, _: bytes) -> bool:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(100):  # one byte every 0.2 s: every read succeeds long before the read timeout
        time.sleep(0.2)
        conn.sendall(b"x")
    return False


def _slowloris_head(conn: socket.socket, _: bytes) -> bool:
    for byte in (b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"y" * 200):
        time.sleep(0.2)
        conn.sendall(bytes([byte]))
    return False


def _endless_continue(conn: socket.socket, _: bytes) -> bool:
    for _ in range(400):
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("tls", [False, True])
@pytest.mark.parametrize("script", [_slowloris_body, _slowloris_head, _endless_continue],
                         ids=["slowloris-body", "slowloris-head", "endless-100-continue"])
def test_the_deadline_cuts_servers_that_never_finish(serve, tls_pki, script, tls: bool) -> None:
    ctx, ca, _ = tls_pki
    server = serve(script, ctx if tls else None)
    started = time.monotonic()
    with pytest.raises(HttpFailure) as info, Deadline(1.0) as deadline:
        _post(HttpClient(ca_file=ca), server.url, read_timeout=1.5, deadline=deadline)
    elapsed = time.monotonic() - started
    assert info.value.kind == "deadline"
    assert elapsed < 1.0 + 0.5, elapsed


def test_the_deadline_cuts_a_slow_tls_handshake(serve, tls_pki) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def trickle() -> None:  # accepts, then sends a byte of garbage "ServerHello" every 0.2 s
        conn, _ = listener.accept()
        with conn:
            try:
                for _ in range(50):
                    time.sleep(0.2)
                    conn.sendall(b"\x16")
            except OSError:
                pass

    threading.Thread(target=trickle, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(HttpFailure) as info, Deadline(1.0) as deadline:
            _post(HttpClient(ca_file=tls_pki[1]), f"https://127.0.0.1:{port}/", read_timeout=1.5, deadline=deadline)
        assert info.value.kind == "deadline" and time.monotonic() - started < 1.5
    finally:
        listener.close()


def test_soap_deadline_covers_every_attempt_and_the_back_off(serve) -> None:
    server = serve(_slowloris_body)
    soap = SoapClient(timeout=1.5, deadline=1.2, retries=5, backoff=0.05)
    started = time.monotonic()
    with pytest.raises(RemoteTimeoutError) as info:
        soap.call(server.url, "urn:test", b"<x/>", idempotent=True)
    assert time.monotonic() - started < 1.2 + 0.5
    assert "deadline of 1.2s" in info.value.message
    assert len(server.requests) == 1  # the first attempt used all the time: no second one


def test_soap_idempotent_retries_stop_at_the_deadline(serve) -> None:
    server = serve(lambda c, r: c.sendall(_answer(b"busy", status="503 Service Unavailable")) or True)
    soap = SoapClient(timeout=1, deadline=1.0, retries=50, backoff=0.1)
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        soap.call(server.url, "urn:test", b"<x/>", idempotent=True)
    assert info.value.code == "HTTP_503" and time.monotonic() - started < 1.0 + 0.5
    assert 2 <= len(server.requests) < 10  # back-off 0.1, 0.2, 0.4 ... fits a few attempts only


def test_a_non_idempotent_soap_call_is_sent_once_whatever_fails(serve) -> None:
    server = serve(lambda c, r: False)  # takes the request, closes without answering
    soap = SoapClient(timeout=1, deadline=5, retries=3, backoff=0.01)
    with pytest.raises(TransportError) as info:
        soap.call(server.url, "urn:test", b"<x/>", idempotent=False)
    assert info.value.code == "CONNECTION"
    time.sleep(0.05)
    assert len(server.requests) == 1


def test_a_finished_deadline_leaves_the_pooled_connection_alone(serve) -> None:
    server = serve(lambda c, r: c.sendall(_answer(b"ok")) or True)
    client = HttpClient()
    with Deadline(0.2) as deadline:
        assert _post(client, server.url, deadline=deadline) == (200, b"ok")
    time.sleep(0.4)  # the watchdog's time for that deadline passes
    assert _post(client, server.url) == (200, b"ok")
    assert server.connections == 1


# --- TLS --------------------------------------------------------------------------------------------------


def test_tls_pinned_to_the_configured_ca(serve, tls_pki) -> None:
    ctx, ca, other = tls_pki
    server = serve(lambda c, r: c.sendall(_answer(b"ok")) or True, ctx)
    assert _post(HttpClient(ca_file=ca), server.url) == (200, b"ok")
    for ca_file in (other, None):  # another CA, or the public bundle: refused
        with pytest.raises(HttpFailure) as info:
            _post(HttpClient(ca_file=ca_file), server.url)
        assert info.value.kind == "tls"


def test_a_callers_session_cannot_switch_verification_off(serve, tls_pki) -> None:
    ctx, _, other = tls_pki
    server = serve(lambda c, r: c.sendall(_answer(b"ok")) or True, ctx)
    session = requests.Session()
    session.verify = False
    with pytest.raises(HttpFailure) as info:
        _post(HttpClient(ca_file=other, session=session), server.url)
    assert info.value.kind == "tls"
    assert HttpClient(ca_file=other).context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_a_callers_session_is_used(serve) -> None:
    server = serve(lambda c, r: c.sendall(_answer(b"ok")) or True)
    session = requests.Session()
    session.headers["X-Vendor"] = "acme"
    assert _post(HttpClient(session=session), server.url) == (200, b"ok")
    assert b"X-Vendor: acme\r\n" in server.requests[0]


def test_a_nested_exchange_gives_the_outer_deadline_back(serve) -> None:
    """A token fetched while a service call is prepared runs its own exchange; the service call's
    deadline must still cut the service call afterwards."""
    quick = serve(lambda c, r: c.sendall(_answer(b"token")) or True)
    slow = serve(_slowloris_body)
    client = HttpClient()
    started = time.monotonic()
    with pytest.raises(HttpFailure) as info, Deadline(1.0) as outer:
        with Deadline(5) as inner:
            assert _post(client, quick.url, deadline=inner) == (200, b"token")
        _post(client, slow.url, read_timeout=1.5, deadline=outer)
    assert info.value.kind == "deadline" and time.monotonic() - started < 1.5


def test_https_through_a_callers_proxy_keeps_the_pinned_ca(serve, tls_pki) -> None:
    ctx, ca, other = tls_pki
    target = serve(lambda c, r: c.sendall(_answer(b"via proxy")) or True, ctx)
    listener = socket.create_server(("127.0.0.1", 0))
    tunnels: list[bytes] = []

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def proxy() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += conn.recv(1)
            tunnels.append(head.split(b"\r\n", 1)[0])
            host, port = head.split()[1].decode().rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)))
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=pipe, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()

    threading.Thread(target=proxy, daemon=True).start()
    proxies = {"https": f"http://127.0.0.1:{listener.getsockname()[1]}"}
    try:
        assert _post(HttpClient(ca_file=ca, proxies=proxies), target.url) == (200, b"via proxy")
        assert [t.rsplit(b" ", 1)[0] for t in tunnels] == [f"CONNECT 127.0.0.1:{target.port}".encode()]
        with pytest.raises(HttpFailure) as info:  # through the proxy, another CA is still refused
            _post(HttpClient(ca_file=other, proxies=proxies), target.url)
        assert info.value.kind == "tls"
    finally:
        listener.close()


def test_a_callers_own_adapter_is_kept_with_verification_forced(serve, tls_pki) -> None:
    ctx, ca, other = tls_pki
    server = serve(lambda c, r: c.sendall(_answer(b"ok")) or True, ctx)

    class VendorAdapter(requests.adapters.HTTPAdapter):
        used = 0

        def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
            VendorAdapter.used += 1
            return super().send(request, **kwargs)

    session = requests.Session()
    session.verify = False
    session.mount("https://", VendorAdapter())
    assert _post(HttpClient(ca_file=ca, session=session), server.url) == (200, b"ok")
    with pytest.raises(HttpFailure) as info:
        _post(HttpClient(ca_file=other, session=session), server.url)
    assert info.value.kind == "tls" and VendorAdapter.used == 2


# --- our direct urllib3 path and a caller's Session path give the same answers and the same failures ---------


def _outcome(client: HttpClient, url: str, headers: dict[str, str] | None = None,
             read_timeout: float = 2) -> object:
    try:
        resp = client.post(url, b"<x/>", headers or {"SOAPAction": '"a"'}, connect_timeout=2,
                           read_timeout=read_timeout)
        try:
            return resp.status, resp.header("content-type"), b"".join(resp.chunks())
        finally:
            resp.close()
    except HttpFailure as failure:
        return failure.kind
    except ValueError as exc:
        return type(exc).__name__, "line break" in str(exc)


_PEERS = [
    _answer(b"<ok/>", "Content-Type: text/xml"),
    _answer(gzip.compress(b"<ok/>"), "Content-Encoding: gzip"),
    b"HTTP/1.1 100 Continue\r\n\r\n" + _answer(b"late", status="500 Internal Server Error"),
    *(answer for answer, _ in test_broken_peers_give_typed_failures.pytestmark[0].args[1]),
    _answer(b"<ok/>", "Set-Cookie: a=1"),  # last: a caller's Session keeps cookies (its business), ours none
]


def test_the_direct_path_and_a_callers_session_agree(serve, tls_pki) -> None:
    """Our own session skips requests' Session and adapter layers: every outcome must stay the same."""
    plain = HttpClient(), HttpClient(session=requests.Session())  # one certifi load each, for every plain case

    def both(url: str, clients: tuple[HttpClient, HttpClient] = plain, **kw: object) -> object:
        direct, via_session = clients
        assert direct._direct and not via_session._direct
        first = _outcome(direct, url, **kw)  # type: ignore[arg-type]
        assert _outcome(via_session, url, **kw) == first  # type: ignore[arg-type]
        return first

    for answer in _PEERS:
        server = serve(lambda c, r, a=answer: c.sendall(a) or False)
        both(server.url)
        direct_head, session_head = (sorted(r.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]) for r in server.requests)
        assert direct_head == session_head  # the same request on the wire, header for header
    assert both(serve(lambda c, r: c.sendall(_answer(b"<ok/>", "Content-Type: a/b")) or True).url) == \
        (200, "a/b", b"<ok/>")
    ctx, ca, other = tls_pki
    server = serve(lambda c, r: c.sendall(_answer(b"ok")) or True, tls=ctx)
    for ca_file, outcome in ((ca, (200, None, b"ok")), (other, "tls")):
        pinned = HttpClient(ca_file=ca_file), HttpClient(ca_file=ca_file, session=requests.Session())
        assert both(server.url, pinned) == outcome
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{s.getsockname()[1]}/"
    assert both(refused) == "connection"
    assert both("ftp://example.invalid/") == "connection"
    silent = serve(lambda c, r: True)
    assert both(silent.url, read_timeout=0.2) == "timeout"
    assert both(silent.url, headers={"SOAPAction": "a\r\nX-Evil: 1"}) == ("ValueError", True)
