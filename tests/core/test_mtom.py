"""MTOM/XOP answers (issue 12.8): attachments inlined as base64, bounded, malformed packages refused."""

from __future__ import annotations

import base64
import os
import socket

import pytest
from lxml import etree
from mycarenet_dental.ehealth import mtom
from mycarenet_dental.ehealth.transport import SoapClient
from mycarenet_dental.errors import MalformedResponseError

from tests.core.test_http_client import serve  # noqa: F401  (fixture)

ENV = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
       b'<r xmlns:xop="http://www.w3.org/2004/08/xop/include">%s</r></s:Body></s:Envelope>')


def _include(cid: str, tag: str = "d") -> bytes:
    return f'<{tag}><xop:Include href="cid:{cid}"/></{tag}>'.encode()


def _restart(packed: tuple[str, bytes]) -> tuple[str, bytes]:
    ctype, body = packed
    return ctype.replace('start="<', 'start="<elsewhere.'), body


def test_attachments_are_inlined_exactly() -> None:
    one, two = os.urandom(100_000) + b"\r\n--not-a-boundary\r\n", b""
    ctype, body = mtom.pack(ENV % (_include("a@x") + _include("b%40x", "e")), {"a@x": one, "b@x": two})
    envelope, root = mtom.unpack(ctype, body, max_bytes=1_000_000)
    assert base64.b64decode(envelope.findtext(".//d")) == one
    assert base64.b64decode(envelope.findtext(".//e") or "") == two
    assert envelope.find(f".//{{{mtom.NS_XOP}}}Include") is None
    assert root.startswith(b"<s:Envelope") and b"xop:Include" in root


@pytest.mark.parametrize(("make", "what"), [
    (lambda: mtom.pack(ENV % _include("missing@x"), {"a@x": b"1"}), "unknown part"),
    (lambda: mtom.pack(ENV % (_include("a@x") + _include("a@x", "e")), {"a@x": b"1"}), "included twice"),
    (lambda: mtom.pack(ENV % b'<d>text<xop:Include href="cid:a@x"/></d>', {"a@x": b"1"}), "only content"),
    (lambda: mtom.pack(ENV % b"", {f"p{i}@x": b"1" for i in range(mtom.MAX_PARTS + 1)}), "MIME parts"),
    (lambda: ('multipart/related; boundary="nope"', b"--other\r\n\r\nx\r\n--other--"), "MIME parts"),
    (lambda: _restart(mtom.pack(ENV % b"", {})), "start part"),
    (lambda: ("multipart/related", b"no boundary at all"), "MIME parts"),
    (lambda: ("multipart/related; boundary=b", b"--b\r\nContent-ID: <r>\r\n\r\n<x/>"), "closing boundary"),
    (lambda: ("multipart/related; boundary=b", b"--b\r\nContent-ID: <r>\r\n<x/>\r\n--b--"), "header section"),
    (lambda: ("multipart/related; boundary=b", b"--b\r\nContent-Transfer-Encoding: x-uue\r\n\r\n1\r\n--b--"),
     "Content-Transfer-Encoding"),
])
def test_malformed_packages_are_refused(make, what: str) -> None:
    ctype, body = make()
    with pytest.raises(MalformedResponseError) as info:
        mtom.unpack(ctype, body, max_bytes=10_000_000)
    assert info.value.code == "MTOM_MALFORMED" and what in info.value.message


@pytest.mark.parametrize("payload", [b"", b"\r\n", b"\n" * 3_000_000, b"--", b"\r\n--MIMEBoundary_x\r\n\r\n"],
                         ids=["empty", "crlf", "newlines", "dashes", "boundary-like"])
def test_awkward_payloads_round_trip_in_linear_time(payload: bytes) -> None:
    """A part made of newlines is split by a scan of the bytes, not line by line (the ``email`` parser took
    15 s of CPU for 10 MB of them)."""
    import time

    ctype, body = mtom.pack(ENV % _include("a@x"), {"a@x": payload})
    started = time.process_time()
    envelope, _ = mtom.unpack(ctype, body, max_bytes=10_000_000)
    assert base64.b64decode(envelope.findtext(".//d") or "") == payload
    assert time.process_time() - started < 2.0


def test_base64_and_quoted_printable_parts() -> None:
    boundary = "b1"
    body = (b"--b1\r\nContent-Type: application/xop+xml\r\nContent-ID: <root>\r\n\r\n" + ENV
            % (_include("p1") + _include("p2", "e")) + b"\r\n--b1\r\nContent-ID: <p1>\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8=\r\n--b1\r\nContent-ID: <p2>\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\na=3Db\r\n--b1--\r\n")
    envelope, _ = mtom.unpack(f'multipart/related; boundary="{boundary}"; start="<root>"', body, max_bytes=10_000)
    assert base64.b64decode(envelope.findtext(".//d") or "") == b"hello"
    assert base64.b64decode(envelope.findtext(".//e") or "") == b"a=b"


def test_size_bound() -> None:
    ctype, body = mtom.pack(ENV % _include("a@x"), {"a@x": b"x" * 2000})
    with pytest.raises(MalformedResponseError) as info:
        mtom.unpack(ctype, body, max_bytes=1000)
    assert info.value.code == "XML_TOO_LARGE"


def _serve_mtom(body: bytes, ctype: str):
    def script(conn: socket.socket, _: bytes) -> bool:
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                     + body)
        return True
    return script


def test_soap_client_reads_an_mtom_answer(serve) -> None:  # noqa: F811
    blob = os.urandom(5000)
    ctype, body = mtom.pack(ENV % _include("blob@x"), {"blob@x": blob})
    server = serve(_serve_mtom(body, ctype))
    reply = SoapClient(retries=0).call(server.url, "urn:test", b"<x/>")
    assert reply.body_child is not None and etree.QName(reply.body_child).localname == "r"
    assert base64.b64decode(reply.body_child.findtext("d") or "") == blob
    assert b"xop:Include" in reply.raw  # the exact root part


def test_soap_client_bounds_mtom_answers(serve) -> None:  # noqa: F811
    ctype, body = mtom.pack(ENV % _include("blob@x"), {"blob@x": b"x" * 300_000})
    server = serve(_serve_mtom(body, ctype))
    with pytest.raises(MalformedResponseError) as info:
        SoapClient(retries=0, max_response_bytes=100_000).call(server.url, "urn:test", b"<x/>")
    assert info.value.code == "XML_TOO_LARGE"
