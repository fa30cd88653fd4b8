"""SOAP 1.1 client over :mod:`.httpclient` (``requests``, pinned TLS, one deadline per exchange) with the
eHealth error model.

TLS verification is always on (``ca_file`` replaces the default bundle with a private CA such as the
simulator's; it never disables checks). Each :meth:`SoapClient.call` has one overall deadline
(``deadline`` seconds, all attempts and back-off included) on top of the per-read ``timeout``. Retries
happen only for idempotent operations, on network failures, timeouts, HTTP 502/503/504 and ``SOA-02002``,
with exponential backoff, inside the deadline; the HTTP layer itself never re-sends a request. Responses
are size-bounded and parsed with the safe parser; MTOM/XOP answers (``multipart/related``) are accepted
and their attachments inlined. SOAP faults and eHealth ``SystemError``/``BusinessError`` details become
typed errors with code, origin and FR/NL/EN text from ``data/soa_codes.json``. ``trace_dir`` receives the
exact bytes of each exchange (files 0600) with the configured secrets masked.

A ``requests.Session`` given to the constructor (proxies, auth, adapters) is used for every call.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import os
import re
import threading
import time
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs
from lxml import etree

from ..errors import (
    BusinessError,
    MalformedResponseError,
    Messages,
    RemoteTimeoutError,
    SoapFaultError,
    TransportError,
)
from ..timeutil import file_stamp
from ..xmlsafe import parse_xml
from . import mtom
from .httpclient import Deadline, HttpClient, HttpFailure, Response

if TYPE_CHECKING:
    import requests

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
MASK = b"***"
RETRY_HTTP = {502, 503, 504}


class RunLike(Protocol):
    def disturbance(self, kind: str, detail: str) -> None: ...
    def reference(self, name: str, value: str) -> None: ...


class SecurityLike(Protocol):
    def apply(self, envelope: etree._Element, *, run: Any = None) -> bytes: ...


@attrs.frozen
class SoapReply:
    """A parsed SOAP response."""

    envelope: etree._Element = attrs.field(repr=False)
    body_child: etree._Element | None = attrs.field(repr=False)
    raw: bytes = attrs.field(repr=False)
    status: int


@lru_cache(maxsize=1)
def soa_codes() -> dict[str, dict[str, Any]]:
    """The eHealth SOA error code table (code -> kind, retry, en/fr/nl)."""
    text = resources.files("mycarenet_dental").joinpath("data/soa_codes.json").read_text("utf-8")
    return dict(json.loads(text)["codes"])


def messages_for(code: str, remote: dict[str, str] | None = None) -> Messages:
    """FR/NL/EN text for ``code``: the remote's own texts win, the table fills the gaps."""
    remote = remote or {}
    known = soa_codes().get(code, {})
    en = remote.get("en") or known.get("en") or remote.get("fr") or remote.get("nl") or code
    return Messages(en=en, fr=remote.get("fr") or known.get("fr", ""), nl=remote.get("nl") or known.get("nl", ""))


def envelope_for(body: etree._Element | bytes, headers_extra: Sequence[etree._Element] = ()) -> etree._Element:
    """A SOAP 1.1 envelope around ``body`` (wsu declared on the Envelope for tidy WS-Security Ids)."""
    env = etree.Element(f"{{{NS_SOAP}}}Envelope", nsmap={"soapenv": NS_SOAP, "wsu": NS_WSU})
    header = etree.SubElement(env, f"{{{NS_SOAP}}}Header")
    for extra in headers_extra:
        header.append(extra)
    body_el = etree.SubElement(env, f"{{{NS_SOAP}}}Body")
    if isinstance(body, (bytes, bytearray)):
        body = parse_xml(bytes(body), what="request body")
    else:
        body = _copy(body)  # never move the caller's element out of its own tree
    body_el.append(body)
    return env


def _fault_details(fault: etree._Element) -> tuple[str | None, str | None, dict[str, str], str | None, str]:
    """(code, origin, messages by language, location, error kind) from a SOAP fault."""
    detail = fault.find("detail")
    if detail is None:
        detail = fault.find(f"{{{NS_SOAP}}}detail")
    code = origin = location = None
    texts: dict[str, str] = {}
    kind = "SystemError"
    if detail is not None:
        for el in detail.iter(etree.Element):
            local = etree.QName(el).localname
            if local in ("SystemError", "BusinessError"):
                kind = local
                code = (el.findtext("Code") or el.findtext("{*}Code") or "").strip() or code
                origin = (el.findtext("Origin") or el.findtext("{*}Origin") or "").strip() or origin
                for msg in [*el.findall("Message"), *el.findall("{*}Message")]:
                    lang = (msg.get("{http://www.w3.org/XML/1998/namespace}lang") or "en").lower()[:2]
                    texts.setdefault(lang, (msg.text or "").strip())
                break
        if code is None:
            for el in detail.iter(etree.Element):
                local = etree.QName(el).localname
                if local in ("Code", "DetailCode", "FaultCode") and (el.text or "").strip():
                    code = el.text.strip()  # type: ignore[union-attr]
                elif local == "Location" and (el.text or "").strip():
                    location = el.text.strip()  # type: ignore[union-attr]
                elif local == "Message" and (el.text or "").strip():
                    texts.setdefault("en", el.text.strip())  # type: ignore[union-attr]
    return code, origin, texts, location, kind


class SoapClient:
    """A SOAP 1.1 client (see module docstring); thread-safe for concurrent calls."""

    def __init__(
        self,
        *,
        ca_file: Path | None = None,
        timeout: float = 30,
        connect_timeout: float = 10,
        deadline: float = 60,
        max_response_bytes: int = 10 * 1024 * 1024,
        retries: int = 2,
        backoff: float = 0.2,
        trace_dir: Path | None = None,
        mask: Sequence[str] = (),
        session: requests.Session | None = None,
        proxies: dict[str, str] | None = None,
    ) -> None:
        self.ca_file = Path(ca_file) if ca_file else None
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        self.retries = max(0, retries)
        self.backoff = backoff
        self.trace_dir = Path(trace_dir) if trace_dir else None
        self._mask = [m for m in mask if m]
        self._session = session
        self._proxies = dict(proxies or {})
        self._http: HttpClient | None = None
        self._http_lock = threading.Lock()
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self.calls = 0

    # -- tracing --------------------------------------------------------------------------------

    def mask_bytes(self, data: bytes) -> bytes:
        """Replace every secret in a trace, in each form it can take in the serialised message."""
        for secret in self._mask:
            for form in _serialised_forms(secret):
                data = data.replace(form, MASK)
        return data

    def _trace(self, seq: int, action: str, kind: str, data: bytes, attempt: int = 1) -> None:
        if self.trace_dir is None:
            return
        self.trace_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the files hold SSINs: 0600 in a 0700 dir
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", action.rsplit(":", 1)[-1].rsplit("/", 1)[-1])[:60] or "call"
        suffix = f"-try{attempt}" if attempt > 1 else ""
        path = self.trace_dir / (
            f"{file_stamp()}-{os.getpid()}-{id(self) % 10000:04d}-{seq:04d}-{name}{suffix}-{kind}.xml"
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.mask_bytes(data))

    # -- the call ---------------------------------------------------------------------------------

    def call(
        self,
        url: str,
        soap_action: str,
        body: etree._Element | bytes,
        *,
        security: SecurityLike | None = None,
        idempotent: bool = False,
        run: RunLike | None = None,
        headers_extra: Sequence[etree._Element] = (),
    ) -> SoapReply:
        """Send one SOAP request and return the reply, or raise a typed error.

        The whole exchange — every attempt and the back-off between them — ends by ``self.deadline``."""
        with self._lock:
            seq = next(self._counter)
        attempts = 1 + (self.retries if idempotent else 0)
        last: Exception | None = None
        with Deadline(self.deadline) as deadline:
            for attempt in range(attempts):
                if attempt:
                    delay = self.backoff * (2 ** (attempt - 1))
                    if deadline.remaining() <= delay:  # no time left for another try: the last error stands
                        assert last is not None
                        raise last
                    _disturb(run, "retry", f"attempt {attempt + 1}/{attempts} after {delay:.2f}s: {last}")
                    time.sleep(delay)
                envelope = envelope_for(body, [_copy(h) for h in headers_extra])
                data = security.apply(envelope, run=run) if security is not None else etree.tostring(
                    envelope, encoding="UTF-8", xml_declaration=False
                )
                try:
                    return self._once(url, soap_action, data, seq=seq, run=run, attempt=attempt + 1,
                                      deadline=deadline)
                except (TransportError, SoapFaultError) as exc:
                    last = exc
                    if not idempotent or attempt == attempts - 1 or not _retryable(exc):
                        raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, url: str, soap_action: str, data: bytes, *, seq: int, run: RunLike | None,
              attempt: int = 1, deadline: Deadline | None = None) -> SoapReply:
        self._trace(seq, soap_action or url, "request", data, attempt)
        self.calls += 1
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{soap_action}"'}
        try:
            resp = self._http_client().post(url, data, headers, connect_timeout=self.connect_timeout,
                                            read_timeout=self.timeout, deadline=deadline)
        except HttpFailure as failure:
            exc = failure.cause
            if failure.kind == "tls":
                _disturb(run, "tls", _short(exc))
                raise TransportError(
                    f"TLS verification of {_host(url)} failed: {_tls_reason(exc)}",
                    code="TLS", origin=_host(url),
                    hint="check the endpoint URL (host name) and the configured CA file; verification is never disabled",
                ) from None
            if failure.kind == "deadline":
                raise self._deadline_passed(url, run) from None
            if failure.kind == "timeout":
                _disturb(run, "timeout", f"{_host(url)}: {_short(exc)}")
                raise RemoteTimeoutError(
                    f"no answer from {_host(url)} within {self.timeout:g}s (connect {self.connect_timeout:g}s)",
                    origin=_host(url), hint="the service is slow or unreachable; try again later",
                ) from None
            _disturb(run, "connection", f"{_host(url)}: {_short(exc)}")
            raise TransportError(
                f"cannot reach {_host(url)}: {_short(exc)}", code="CONNECTION", origin=_host(url),
                hint="check the network, the endpoint URL and that the service is up",
            ) from None
        try:
            raw = self._read_bounded(resp, url, run)
        finally:
            resp.close()
        self._trace(seq, soap_action or url, "response", raw, attempt)
        status = resp.status
        if not raw.strip():
            _disturb(run, "bad_response", f"HTTP {status} with an empty body")
            if status in RETRY_HTTP:
                raise TransportError(f"HTTP {status} from {_host(url)}", code=f"HTTP_{status}", origin=_host(url))
            raise MalformedResponseError(f"HTTP {status} from {_host(url)} with an empty body", origin=_host(url))
        try:
            content_type = resp.header("Content-Type")
            if mtom.is_mtom(content_type):
                # the XML is the root part; ``raw`` stays the exact bytes of that part (signatures cover it)
                envelope, raw = mtom.unpack(content_type or "", raw, max_bytes=self.max_response_bytes,
                                            origin=_host(url))
            else:
                envelope = parse_xml(raw, max_bytes=self.max_response_bytes, what=f"response from {_host(url)}")
        except MalformedResponseError as exc:
            _disturb(run, "bad_response", exc.message)
            if status in RETRY_HTTP:
                raise TransportError(f"HTTP {status} from {_host(url)}", code=f"HTTP_{status}",
                                     origin=_host(url)) from None
            raise
        if envelope.tag != f"{{{NS_SOAP}}}Envelope":
            _disturb(run, "bad_response", f"root element {envelope.tag} is not a SOAP 1.1 Envelope")
            if status in RETRY_HTTP:
                raise TransportError(f"HTTP {status} from {_host(url)}", code=f"HTTP_{status}", origin=_host(url))
            raise MalformedResponseError(
                f"the response from {_host(url)} is not a SOAP 1.1 envelope", origin=_host(url),
                code="NOT_SOAP", hint="check the endpoint URL",
            )
        body = envelope.find(f"{{{NS_SOAP}}}Body")
        if body is None:
            _disturb(run, "bad_response", "SOAP envelope without Body")
            raise MalformedResponseError("the SOAP response has no Body", origin=_host(url), code="NOT_SOAP")
        child = next(iter(body.iterchildren(etree.Element)), None)
        if child is not None and child.tag == f"{{{NS_SOAP}}}Fault":
            raise self._fault(child, url, run)
        if status >= 300:
            _disturb(run, "bad_response", f"HTTP {status} without SOAP fault")
            raise TransportError(f"HTTP {status} from {_host(url)}", code=f"HTTP_{status}", origin=_host(url))
        return SoapReply(envelope=envelope, body_child=child, raw=raw, status=status)

    # -- HTTP -----------------------------------------------------------------------------------

    def _http_client(self) -> HttpClient:
        """Built on first use (one TLS context and one connection pool per client)."""
        http = self._http
        if http is None:
            with self._http_lock:
                if self._http is None:
                    self._http = HttpClient(ca_file=self.ca_file, session=self._session, proxies=self._proxies)
                http = self._http
        return http

    def close(self) -> None:
        """Close the pooled connections (a later call opens new ones)."""
        with self._http_lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    def _deadline_passed(self, url: str, run: RunLike | None) -> RemoteTimeoutError:
        _disturb(run, "timeout", f"{_host(url)}: no complete answer within the deadline of {self.deadline:g}s")
        return RemoteTimeoutError(
            f"no complete answer from {_host(url)} within the deadline of {self.deadline:g}s for the exchange",
            origin=_host(url), hint="the service is slow or misbehaving; try again later",
        )

    def _read_bounded(self, resp: Response, url: str, run: RunLike | None) -> bytes:
        declared = resp.header("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_response_bytes:
            _disturb(run, "bad_response", f"response of {declared} bytes exceeds the bound")
            raise MalformedResponseError(
                f"the response from {_host(url)} ({declared} bytes) exceeds the bound of "
                f"{self.max_response_bytes} bytes", code="XML_TOO_LARGE", origin=_host(url),
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.chunks(65536):
                size += len(chunk)
                if size > self.max_response_bytes:
                    _disturb(run, "bad_response", "response exceeds the size bound")
                    raise MalformedResponseError(
                        f"the response from {_host(url)} exceeds the bound of {self.max_response_bytes} bytes",
                        code="XML_TOO_LARGE", origin=_host(url),
                    )
                chunks.append(chunk)
        except HttpFailure as failure:
            if failure.kind == "deadline":
                raise self._deadline_passed(url, run) from None
            if failure.kind == "timeout":
                _disturb(run, "timeout", f"{_host(url)}: read timed out")
                raise RemoteTimeoutError(f"the answer from {_host(url)} stalled for more than {self.timeout:g}s",
                                         origin=_host(url)) from None
            _disturb(run, "bad_response", f"connection broken: {_short(failure.cause)}")
            raise MalformedResponseError(
                f"the response from {_host(url)} was cut off: {_short(failure.cause)}", code="XML_TRUNCATED",
                origin=_host(url),
            ) from None
        return b"".join(chunks)

    def _fault(self, fault: etree._Element, url: str, run: RunLike | None) -> Exception:
        faultcode = (fault.findtext("faultcode") or "").strip()
        faultstring = (fault.findtext("faultstring") or "").strip()
        actor = (fault.findtext("faultactor") or "").strip() or None
        code, origin, texts, location, kind = _fault_details(fault)
        code = code or faultcode.rsplit(":", 1)[-1] or "SOAP_FAULT"
        if not texts and faultstring:
            texts = {"en": faultstring}
        messages = messages_for(code, texts)
        _disturb(run, "fault", f"{code}: {messages.en}")
        cls = BusinessError if kind == "BusinessError" or soa_codes().get(code, {}).get("kind") == "business" \
            else SoapFaultError
        return cls(messages, code=code, origin=origin or actor or _host(url), location=location,
                   hint=_hint_for(code))


def _hint_for(code: str) -> str | None:
    if code == "SOA-01001":
        return "log in again (mycarenet-dental login); check the computer clock and the eHealth certificate"
    if code == "SOA-01002":
        return "the identity in the token may not use this service, or the NIHII in the request differs"
    if code == "SOA-02002":
        return "temporary; retry later"
    if code == "INVALID_LICENSE":
        return "check the software package licence username/password in the configuration"
    return None


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, SoapFaultError):
        return exc.code == "SOA-02002"
    if isinstance(exc, TransportError):
        return exc.code != "TLS"
    return False


def _disturb(run: RunLike | None, kind: str, detail: str) -> None:
    if run is not None:
        run.disturbance(kind, detail)


def _copy(el: etree._Element) -> etree._Element:
    return copy.deepcopy(el)


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.netloc or url


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 300 else text[:297] + "..."


def _tls_reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Hostname mismatch", "doesn't match", "certificate verify failed", "self-signed", "unable to get"):
        if marker.lower() in text.lower():
            idx = text.lower().find(marker.lower())
            return text[idx : idx + 160].split("')")[0]
    return _short(exc)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


@functools.lru_cache(maxsize=32)
def _serialised_forms(secret: str) -> tuple[bytes, ...]:
    """The bytes a secret becomes once lxml has serialised it (text and attribute, UTF-8 and ASCII).

    Masking on a hand-made escape misses what lxml really writes (``\r`` becomes ``&#13;``, ``"``
    stays as is in text), so the forms are produced by the serialiser itself; longest first.
    """
    from lxml import etree

    forms = {secret.encode("utf-8"), _xml_escape(secret).encode("utf-8")}
    for options in ({"encoding": "utf-8", "xml_declaration": False}, {"encoding": "ascii", "xml_declaration": False},
                    {"method": "c14n"}, {"method": "c14n", "exclusive": True}):
        try:
            el = etree.Element("m", a=secret)
            el.text = secret
            raw = etree.tostring(el, **options)
        except (ValueError, LookupError):  # a secret that is not XML text cannot be sent either
            continue
        head, _, rest = raw.partition(b'a="')
        attr, _, rest = rest.partition(b'">')
        text = rest[: rest.rindex(b"</m>")]
        forms.update({attr, text})
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))
