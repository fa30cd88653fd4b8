"""A lean HTTP/1.1 client for SOAP POSTs: persistent TLS connections, bounded reads, typed failures.

Why not urllib3/http.client: their per-request Python cost (header parsing through the ``email``
package, pool bookkeeping, retries machinery) was about 1.5 ms of CPU per call, a quarter of a whole
tariff consultation. A SOAP POST needs little of it: one request line, a few headers, a body framed by
``Content-Length`` or ``chunked``. Everything security-relevant stays with :mod:`ssl` (certificate and
host name verification always on, SNI).

A connection is reused only after its previous response was read to the end and the server did not
ask to close; before reuse it is checked for a close or stray bytes from the server, and discarded
then (the request is never re-sent on a connection that failed: no duplicate POST).
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import zlib
from collections.abc import Iterator
from urllib.parse import urlsplit

MAX_LINE = 65536
MAX_HEADERS = 100
MAX_IDLE_PER_HOST = 4


class HttpFailure(Exception):
    """A failure of the HTTP layer, classified: ``tls``, ``timeout``, ``connection`` or ``broken`` (on read)."""

    def __init__(self, kind: str, cause: BaseException) -> None:
        super().__init__(f"{kind}: {cause}")
        self.kind = kind
        self.cause = cause


class ProtocolFailure(OSError):
    """The peer broke HTTP/1.1 framing (bad status line, header or chunk)."""


def _classify(exc: BaseException, *, reading: bool) -> HttpFailure:
    if isinstance(exc, ssl.SSLCertVerificationError) or (isinstance(exc, ssl.SSLError) and not reading):
        return HttpFailure("tls", exc)
    if isinstance(exc, socket.timeout | TimeoutError):
        return HttpFailure("timeout", exc)
    return HttpFailure("broken" if reading else "connection", exc)


class _Connection:
    __slots__ = ("sock", "rfile", "key")

    def __init__(self, sock: socket.socket, key: tuple[str, str, int]) -> None:
        self.sock = sock
        self.rfile = sock.makefile("rb", buffering=65536)
        self.key = key

    def usable(self) -> bool:
        """False when the server closed the idle connection (or sent bytes nobody asked for)."""
        sock = self.sock
        try:
            if isinstance(sock, ssl.SSLSocket) and sock.pending():
                return False
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable  # readable while idle: the server closed it (EOF) or sent bytes nobody asked for

    def close(self) -> None:
        for closer in (self.rfile.close, self.sock.close):
            try:
                closer()
            except OSError:
                pass


class Response:
    """Status, headers (lower-case names) and the body as a stream of chunks, read on demand."""

    def __init__(self, pool: ConnectionPool, conn: _Connection, status: int, headers: dict[str, str],
                 keep_alive: bool, *, no_body: bool = False) -> None:
        self.status = status
        self.headers = headers
        self._pool = pool
        self._conn: _Connection | None = conn
        self._keep_alive = keep_alive
        self._no_body = no_body
        self._done = no_body

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def chunks(self, size: int = 65536) -> Iterator[bytes]:
        """The (decoded) body; raises :class:`HttpFailure` (``timeout``/``broken``) when cut off."""
        if self._no_body or self._conn is None:
            return
        encoding = self.headers.get("content-encoding", "identity").strip().lower()
        inflater = None
        if encoding in ("gzip", "x-gzip"):
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            inflater = zlib.decompressobj()
        try:
            for raw in self._raw_chunks(size):
                data = inflater.decompress(raw, size * 16) if inflater is not None else raw
                while inflater is not None and inflater.unconsumed_tail:
                    if data:
                        yield data
                    data = inflater.decompress(inflater.unconsumed_tail, size * 16)
                if data:
                    yield data
            if inflater is not None:
                tail = inflater.flush()
                if tail:
                    yield tail
        except zlib.error as exc:
            self._discard()
            raise HttpFailure("broken", exc) from None
        except HttpFailure:
            self._discard()
            raise
        except (OSError, ValueError) as exc:
            self._discard()
            raise _classify(exc, reading=True) from None
        self._done = True

    def _raw_chunks(self, size: int) -> Iterator[bytes]:
        assert self._conn is not None
        rfile = self._conn.rfile
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            while True:
                line = rfile.readline(MAX_LINE)
                if not line.endswith(b"\n"):
                    raise ProtocolFailure("truncated chunk size line")
                try:
                    left = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise ProtocolFailure(f"bad chunk size {line[:40]!r}") from None
                if left == 0:
                    while True:  # trailers, up to the blank line
                        trailer = rfile.readline(MAX_LINE)
                        if not trailer.endswith(b"\n"):
                            raise ProtocolFailure("truncated chunked trailer")
                        if trailer in (b"\r\n", b"\n"):
                            return
                while left:
                    data = rfile.read(min(size, left))
                    if not data:
                        raise ProtocolFailure("connection closed inside a chunk")
                    left -= len(data)
                    yield data
                if rfile.readline(MAX_LINE) not in (b"\r\n", b"\n"):
                    raise ProtocolFailure("chunk not followed by CRLF")
        length = self.headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise ProtocolFailure(f"bad Content-Length {length!r}")
            left = int(length)
            while left:
                data = rfile.read(min(size, left))
                if not data:
                    raise ProtocolFailure(f"connection closed with {left} bytes of the body missing")
                left -= len(data)
                yield data
            return
        self._keep_alive = False  # body delimited by the end of the connection
        while True:
            data = rfile.read1(size)
            if not data:
                return
            yield data

    def close(self) -> None:
        """Give the connection back when the body was read to the end and keep-alive holds; else close it."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._keep_alive:
            self._pool.release(conn)
        else:
            conn.close()

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class ConnectionPool:
    """Idle keep-alive connections per (scheme, host, port); thread-safe. One TLS context for all."""

    def __init__(self, context: ssl.SSLContext, *, user_agent: str = "mycarenet-dental") -> None:
        self.context = context
        self.user_agent = user_agent
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._lock = threading.Lock()
        self._targets: dict[str, tuple[tuple[str, str, int], bytes, str]] = {}

    def _target(self, url: str) -> tuple[tuple[str, str, int], bytes, str]:
        target = self._targets.get(url)
        if target is None:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme not in ("https", "http") or not parts.hostname:
                raise HttpFailure("connection", ValueError(f"unsupported URL {url!r}"))
            port = parts.port or (443 if scheme == "https" else 80)
            host = parts.hostname
            host_header = f"[{host}]" if ":" in host else host
            if parts.port and parts.port != (443 if scheme == "https" else 80):
                host_header += f":{parts.port}"
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            target = ((scheme, host, port), path.encode("ascii"), host_header)
            if len(self._targets) > 64:  # a handful of endpoints in practice; stay bounded anyway
                self._targets = {}
            self._targets[url] = target
        return target

    def _connect(self, key: tuple[str, str, int], connect_timeout: float) -> _Connection:
        scheme, host, port = key
        try:
            sock = socket.create_connection((host, port), timeout=connect_timeout)
        except OSError as exc:
            raise _classify(exc, reading=False) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                sock = self.context.wrap_socket(sock, server_hostname=host)
        except OSError as exc:
            sock.close()
            raise _classify(exc, reading=False) from None
        return _Connection(sock, key)

    def _take(self, key: tuple[str, str, int]) -> _Connection | None:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None or conn.usable():
                return conn
            conn.close()

    def release(self, conn: _Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(conn.key, [])
            if len(idle) < MAX_IDLE_PER_HOST:
                idle.append(conn)
                return
        conn.close()

    def clear(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle = {}
        for conn in conns:
            conn.close()

    def post(self, url: str, body: bytes, headers: dict[str, str], *, connect_timeout: float,
             read_timeout: float) -> Response:
        """Send one POST and read the status and headers; the body is read through :meth:`Response.chunks`."""
        key, path, host_header = self._target(url)
        lines = [b"POST " + path + b" HTTP/1.1", b"Host: " + host_header.encode("idna"),
                 b"User-Agent: " + self.user_agent.encode("ascii"), b"Accept: */*",
                 b"Content-Length: " + str(len(body)).encode("ascii")]
        for name, value in headers.items():
            if "\n" in name or "\r" in name or "\n" in value or "\r" in value:
                raise ValueError(f"header {name!r} contains a line break")
            lines.append(name.encode("latin-1") + b": " + value.encode("latin-1"))
        lines.append(b"\r\n")
        conn = self._take(key) or self._connect(key, connect_timeout)
        try:
            conn.sock.settimeout(read_timeout)
            conn.sock.sendall(b"\r\n".join(lines) + body)
            status, reply_headers, keep_alive = self._read_head(conn)
        except ProtocolFailure as exc:
            conn.close()
            raise HttpFailure("broken", exc) from None
        except (OSError, ValueError) as exc:
            conn.close()
            raise _classify(exc, reading=False) from None
        return Response(self, conn, status, reply_headers, keep_alive, no_body=status in (204, 304))

    @staticmethod
    def _read_head(conn: _Connection) -> tuple[int, dict[str, str], bool]:
        rfile = conn.rfile
        while True:
            line = rfile.readline(MAX_LINE)
            if not line:
                raise ProtocolFailure("the server closed the connection without answering")
            parts = line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
                raise ProtocolFailure(f"bad status line {line[:80]!r}")
            version, status = parts[0], int(parts[1])
            headers: dict[str, str] = {}
            for _ in range(MAX_HEADERS + 1):
                hline = rfile.readline(MAX_LINE)
                if hline in (b"\r\n", b"\n"):
                    break
                if not hline.endswith(b"\n"):
                    raise ProtocolFailure("truncated header section")
                name, sep, value = hline.decode("latin-1").partition(":")
                if not sep or not name or name != name.strip():
                    raise ProtocolFailure(f"bad header line {hline[:80]!r}")
                name = name.lower()
                value = value.strip()
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
            else:
                raise ProtocolFailure("too many header lines")
            if 100 <= status < 200:  # interim answer (100 Continue): the real one follows
                continue
            connection = headers.get("connection", "").lower()
            if version == b"HTTP/1.0":
                keep_alive = "keep-alive" in connection
            else:
                keep_alive = "close" not in connection
            return status, headers, keep_alive
