"""HTTP for the SOAP client, on ``requests``/urllib3: pinned TLS, one deadline per exchange, bounded reads.

Why these pieces on top of the library:

* **TLS** — one :class:`ssl.SSLContext` per client (TLS >= 1.2, certificate and host name checks, the
  configured CA file *instead of* the default bundle). The connection classes force urllib3 to keep it
  that way whatever a caller's ``Session`` says (``verify=False`` is never honoured).
* **Deadline** — urllib3's timeouts are per socket operation, so a server sending one byte every few
  seconds, or an endless stream of ``100 Continue``, is never cut off. A :class:`Deadline` is armed for
  the whole exchange; when it passes, a shared watchdog thread shuts down the socket(s) the exchange is
  using, which ends any blocked read at once.
* **Response integrity** — a pooled connection is reused only when nothing is waiting on it, neither in
  the kernel nor inside the TLS layer: bytes the server sent unasked (a second response in the same
  write) never become the answer to the next request. ``http.client`` reads each response through its
  own buffer, which is dropped with the response.
* **No duplicate POST** — urllib3 retries are off (``max_retries=0``): a request that failed on a
  connection is never re-sent by the HTTP layer; the SOAP client alone decides, for idempotent calls.
* **Bounds** — status and header lines are bounded by ``http.client`` (64 KiB a line, 100 headers); the
  body is read in chunks by the caller against its own limit; ``Content-Encoding`` gzip/deflate is
  decoded here with a cap on the output of each step (no decompression bomb).

Our own session (no caller ``Session``, no proxies) posts straight to the adapter's urllib3 pool, with the
same connections, checks and failures; a caller's ``Session`` goes through ``requests`` as it always did, and
both hand the same urllib3 response to :class:`Response`. A caller's ``Session`` keeps its proxies, headers
and auth; its stock adapters are replaced by ours. An adapter of the caller's own class is kept as it is:
verification is still forced on (with the configured CA file), but the deadline can then only shorten its
per-read timeouts, not cut its sockets.
"""

from __future__ import annotations

import functools
import heapq
import http.client
import itertools
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import certifi
import requests
import requests.adapters
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.wait import wait_for_read

CHUNK = 65536
POOL_SIZE = 8
ACCEPT_ENCODING = "gzip, deflate"


class HttpFailure(Exception):
    """A failure of the HTTP layer, classified: ``tls``, ``timeout``, ``deadline``, ``connection`` (no
    answer could be read) or ``broken`` (the answer was cut off or malformed while reading the body)."""

    def __init__(self, kind: str, cause: BaseException) -> None:
        super().__init__(f"{kind}: {cause}")
        self.kind = kind
        self.cause = cause


# --- the deadline --------------------------------------------------------------------------------------


class Deadline:
    """The end of one exchange (all its attempts); :meth:`fire` cuts the sockets the exchange is using."""

    __slots__ = ("seconds", "expires", "fired", "_done", "_lock", "_socks", "_dups", "_outer")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.fired = False
        self._done = False
        self._lock = threading.Lock()
        self._socks: list[tuple[Any, socket.socket]] = []
        self._dups: list[socket.socket] = []
        self._outer: Deadline | None = None

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    def watch(self, conn: Any, sock: socket.socket, *, dup: bool = False) -> None:
        """``conn`` now works for this exchange over ``sock``. ``dup``: watch a duplicate of the descriptor,
        which stays valid while ``ssl`` wraps (and detaches) the original during the TLS handshake."""
        conn._mcn_deadline = self
        with self._lock:
            if self._done:
                return
            if dup:
                sock = sock.dup()
                self._dups.append(sock)
            self._socks.append((conn, sock))
            fired = self.fired
        if fired:
            _cut(sock)

    def fire(self) -> None:
        with self._lock:  # under the lock: once finish() has returned, nothing of this exchange is cut
            if self._done:
                return
            self.fired = True
            for conn, sock in self._socks:
                if getattr(conn, "_mcn_deadline", None) is self:  # not since taken over by another exchange
                    _cut(sock)

    def finish(self) -> None:
        """The exchange is over: the watchdog must no longer touch its (possibly pooled) connections."""
        with self._lock:
            self._done = True
            self._socks.clear()
            dups, self._dups = self._dups, []
        for sock in dups:
            sock.close()

    def __enter__(self) -> Deadline:
        _WATCHDOG.arm(self)
        # an exchange inside another one (a token fetched while a service call is being prepared)
        self._outer = getattr(_current, "deadline", None)
        _current.deadline = self
        return self

    def __exit__(self, *exc: object) -> None:
        _current.deadline = self._outer
        self.finish()


def _cut(sock: socket.socket) -> None:
    try:  # the plain socket's shutdown, also for a TLS socket: a blocked read returns at once
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class _Watchdog:
    """One daemon thread for every deadline of the process (a heap of expiry times)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: Deadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline.expires, next(self._seq), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mycarenet-http-deadline", daemon=True)
                self._thread.start()
            if self._heap[0][2] is deadline:  # only an earlier wake-up needs the thread's attention
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                expires, _, deadline = self._heap[0]
                wait = expires - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            deadline.fire()  # a finished deadline ignores it


_WATCHDOG = _Watchdog()
_current = threading.local()


def _watch(conn: Any, sock: socket.socket | None, *, dup: bool = False) -> None:
    deadline: Deadline | None = getattr(_current, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(conn, sock, dup=dup)


# --- urllib3 connections that keep our guarantees -------------------------------------------------------


def _nothing_waiting(conn: Any) -> bool:
    """Idle connection check: closed, EOF or unread bytes (in the kernel or in the TLS layer) -> not reusable."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return False
        return not wait_for_read(sock, timeout=0.0)
    except (OSError, ValueError):
        return False


class _OneWrite:
    """Request head and body in one write, as ``http.client`` does for a bytes body (urllib3 writes them
    apart): one TLS record and one segment instead of two, and no wake-up of the server in between."""

    _mcn_holding = False
    _mcn_head: bytes | None = None

    def endheaders(self, message_body: Any = None, *, encode_chunked: bool = False) -> None:
        self._mcn_holding = True
        try:
            super().endheaders(message_body, encode_chunked=encode_chunked)  # type: ignore[misc]
        finally:
            self._mcn_holding = False

    def send(self, data: Any) -> None:
        if self._mcn_holding and isinstance(data, bytes):
            self._mcn_head = data  # held until the body (or the wait for the answer)
            return
        head, self._mcn_head = self._mcn_head, None
        if head is not None:
            if isinstance(data, bytes | bytearray | memoryview) and len(data) <= CHUNK:
                data = head + bytes(data)  # a large body is not copied for the sake of one write
            else:
                super().send(head)  # type: ignore[misc]
        super().send(data)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        head, self._mcn_head = self._mcn_head, None
        if head is not None:  # a request without a body
            super().send(head)  # type: ignore[misc]
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _GuardedHTTPConnection(_OneWrite, HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(self, sock, dup=True)  # from the TCP handshake on, the deadline can cut it (TLS handshake included)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        _watch(self, self.sock)  # a reused connection
        super().request(*args, **kwargs)

    @property
    def is_connected(self) -> bool:
        return _nothing_waiting(self)


class _GuardedHTTPSConnection(_OneWrite, HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(self, sock, dup=True)
        return sock

    def connect(self) -> None:
        # Whatever a pool key or a Session asked for, verification stays with our context: required
        # certificate, host name checked by ssl, no extra CA files, no fingerprint shortcut.
        self.cert_reqs = "CERT_REQUIRED"
        self.ca_certs = self.ca_cert_dir = self.ca_cert_data = None
        self.assert_hostname = None
        self.assert_fingerprint = None
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        _watch(self, self.sock)
        super().request(*args, **kwargs)

    @property
    def is_connected(self) -> bool:
        return _nothing_waiting(self)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class GuardedAdapter(requests.adapters.HTTPAdapter):
    """``requests`` adapter with the pinned TLS context, the guarded connections and no retries."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, ssl_context=self._context, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        fresh = proxy not in self.proxy_manager
        manager = super().proxy_manager_for(proxy, ssl_context=self._context, **proxy_kwargs)
        if fresh:
            manager.pool_classes_by_scheme = _POOLS
        return manager

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Verification is the context's business (see :class:`_GuardedHTTPSConnection`)."""

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        return super().send(request, stream=stream, timeout=timeout, verify=True, cert=cert, proxies=proxies)


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """TLS >= 1.2, no compression, certificate and host name verification; ``ca_file`` replaces the
    default bundle (certifi's), so only the configured CA is trusted when one is set."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    context.load_verify_locations(cafile=str(ca_file) if ca_file is not None else certifi.where())
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    return context


# --- the client --------------------------------------------------------------------------------------------


class Response:
    """Status, headers and the (decoded, chunked) body of one answer; :meth:`close` always.

    ``raw`` is urllib3's response, whichever path sent the request (a caller's ``Session`` or our direct
    pool): everything after the answer arrives is one code path."""

    def __init__(self, raw: urllib3.BaseHTTPResponse, deadline: Deadline | None) -> None:
        self._raw = raw
        self._deadline = deadline
        self.status = raw.status
        self.headers = raw.headers  # case-insensitive; a repeated header reads as its values joined by ", "

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """The body, ``Content-Encoding`` decoded; each piece at most ``size`` bytes."""
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        inflater = None
        if encoding in ("gzip", "x-gzip"):
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            inflater = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding not in ("identity", ""):
            raise HttpFailure("broken", ValueError(f"unsupported Content-Encoding {encoding!r}"))
        try:
            for raw in self._raw.stream(size, decode_content=False):
                if inflater is None:
                    yield raw
                    continue
                data = inflater.decompress(raw, size)
                while True:
                    if data:
                        yield data
                    if not inflater.unconsumed_tail:
                        break
                    data = inflater.decompress(inflater.unconsumed_tail, size)
            if inflater is not None and not inflater.eof:
                raise HttpFailure("broken", ValueError(f"truncated {encoding} body"))
        except zlib.error as exc:
            raise HttpFailure("broken", exc) from None
        except HttpFailure:
            raise
        except Exception as exc:  # urllib3/http.client/ssl/OS errors while reading
            raise _failure(exc, self._deadline, reading=True) from None

    def close(self) -> None:
        """As ``requests.Response.close`` does: a body not read to its end closes the connection (never
        pooled with unread bytes); a finished one was already handed back to the pool by urllib3."""
        self._raw.close()
        self._raw.release_conn()


class HttpClient:
    """POSTs through a ``requests.Session`` (ours, or the caller's for proxies, auth or adapters)."""

    def __init__(self, *, ca_file: Path | None = None, session: requests.Session | None = None,
                 proxies: Mapping[str, str] | None = None, user_agent: str = "mycarenet-dental") -> None:
        self.context = tls_context(ca_file)
        self.ca_file = ca_file
        # our own session, without proxies, needs none of the requests layers: see :meth:`_send_direct`
        self._direct = session is None and not proxies
        self._targets: dict[str, tuple[HTTPConnectionPool, str]] = {}  # url -> (pool, request target)
        self.session = session if session is not None else requests.Session()
        self.session.trust_env = False  # no proxy or CA surprises from the environment: explicit settings only
        if proxies:
            self.session.proxies.update(proxies)
        adapter = GuardedAdapter(self.context)
        for prefix in ("https://", "http://"):
            # The stock adapter is replaced by ours; an adapter of the caller's own making is kept (its
            # verification is still forced on with the configured CA, see ``_verify``).
            if type(self.session.adapters.get(prefix)) in (requests.adapters.HTTPAdapter, type(None)):
                self.session.mount(prefix, adapter)
        self._verify: str | bool = str(ca_file) if ca_file is not None else True
        self._headers = {"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING, "Accept": "*/*",
                         "Connection": "keep-alive"}
        for header in self._headers.items():
            requests.utils.check_header_validity(header)  # checked here once; a call's own headers at each call

    def post(self, url: str, body: bytes, headers: Mapping[str, str], *, connect_timeout: float,
             read_timeout: float, deadline: Deadline | None = None) -> Response:
        """Send one POST and read status and headers (body through :meth:`Response.chunks`)."""
        if deadline is not None:
            left = deadline.remaining()
            if left <= 0:
                raise HttpFailure("deadline", TimeoutError("the deadline passed before sending"))
            connect_timeout, read_timeout = min(connect_timeout, left), min(read_timeout, left)
        try:
            if self._direct:
                raw = self._send_direct(url, body, headers, connect_timeout, read_timeout)
            else:
                raw = self.session.post(url, data=body, headers={**self._headers, **headers},
                                        timeout=(connect_timeout, read_timeout), verify=self._verify, stream=True,
                                        allow_redirects=False).raw
        except requests.exceptions.InvalidHeader as exc:
            raise ValueError(f"header contains a line break or is invalid: {exc}") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                requests.exceptions.MissingSchema) as exc:
            raise HttpFailure("connection", exc) from None
        except Exception as exc:
            raise _failure(exc, deadline, reading=False) from None
        return Response(raw, deadline)

    def _send_direct(self, url: str, body: bytes, headers: Mapping[str, str], connect_timeout: float,
                     read_timeout: float) -> urllib3.BaseHTTPResponse:
        """POST straight to the guarded urllib3 pool of our own session's adapter.

        What the ``requests`` layers add per call — environment merging, cookies, auth, hooks, redirects,
        proxy selection, pool-key building, a ``requests.Response`` with its cookie jar — is nothing for our
        session (``trust_env`` off, no proxies, no cookies, no redirects followed) but costs about a third
        of the HTTP layer's CPU. The URL is prepared by requests (checked once per URL), every header is
        checked by requests' own validator, and urllib3 is called with the arguments requests' adapter
        uses, except ``retries=False``: the failure itself is raised (never a re-send), as
        :func:`_failure` classifies it.
        """
        target = self._targets.get(url)
        if target is None:  # once per endpoint URL (a pool the manager later drops stays usable: urllib3 2)
            prepared = _prepared_url(url)
            adapter = self.session.get_adapter(prepared)  # InvalidSchema for anything but http(s)
            try:
                pool = adapter.poolmanager.connection_from_url(prepared)  # type: ignore[attr-defined]
            except urllib3.exceptions.LocationValueError as exc:
                raise requests.exceptions.InvalidURL(exc) from None
            if len(self._targets) >= 64:  # endpoint URLs are few; past that, start again rather than grow
                self._targets.clear()
            target = self._targets[url] = (pool, urllib3.util.parse_url(prepared).request_uri)
        for header in headers.items():
            requests.utils.check_header_validity(header)
        return target[0].urlopen(
            "POST", target[1], body=body, headers={**self._headers, **headers}, redirect=False,
            assert_same_host=False, preload_content=False, decode_content=False, retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout), chunked=False,
        )

    def close(self) -> None:
        self._targets.clear()
        self.session.close()


@functools.lru_cache(maxsize=64)
def _prepared_url(url: str) -> str:
    """``url`` as requests prepares it (checked: scheme, host, IDNA); the few endpoint URLs are prepared once."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    return str(prepared.url)


def _failure(exc: BaseException, deadline: Deadline | None, *, reading: bool) -> HttpFailure:
    if deadline is not None and (deadline.fired or deadline.remaining() <= 0):
        return HttpFailure("deadline", exc)  # also a read timeout cut short to the deadline
    if isinstance(exc, requests.exceptions.SSLError) or (isinstance(exc, urllib3.exceptions.SSLError)
                                                          and not reading):
        return HttpFailure("tls", exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return HttpFailure("tls", exc)
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # a subclass of ConnectTimeoutError
        return HttpFailure("connection", exc)
    if isinstance(exc, requests.exceptions.Timeout | urllib3.exceptions.TimeoutError | TimeoutError
                  | socket.timeout):
        return HttpFailure("timeout", exc)
    if isinstance(exc, requests.exceptions.RequestException | urllib3.exceptions.HTTPError
                  | http.client.HTTPException | OSError | ValueError):
        return HttpFailure("broken" if reading else "connection", exc)
    raise exc
