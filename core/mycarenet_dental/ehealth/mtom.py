"""MTOM/XOP SOAP messages (``multipart/related``, W3C XOP 1.0): read them back to one plain envelope.

GenericAsync's Blob type allows MTOM and real deployments answer ``get`` with the blobs as binary MIME
parts referenced by ``xop:Include href="cid:..."``. :func:`unpack` parses the MIME with the standard
``email`` package for headers and a linear scan for the part boundaries (the body is already bounded by
the caller), checks the part count, and returns the
root XML part with every ``xop:Include`` replaced by the base64 of its part, so the rest of the code
sees the blob exactly as when it travels inline. :func:`pack` builds such a message (the simulator's
MTOM switch and the tests).
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import quopri
import uuid
from collections.abc import Callable, Mapping
from urllib.parse import unquote

from lxml import etree

from ..errors import MalformedResponseError
from ..xmlsafe import parse_xml

NS_XOP = "http://www.w3.org/2004/08/xop/include"
XOP_TYPE = "application/xop+xml"
MAX_PARTS = 1000  # a get returns at most a few hundred messages; more parts is an attack or a bug


def is_mtom(content_type: str | None) -> bool:
    return bool(content_type) and content_type.split(";", 1)[0].strip().lower() == "multipart/related"


def _cid(value: str) -> str:
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return unquote(value[4:] if value.lower().startswith("cid:") else value)


def _split(body: bytes, boundary: bytes, bad: Callable[[str], MalformedResponseError]) -> list[bytes]:
    """The body parts between the boundary lines (RFC 2046 §5.1.1), by a linear scan of the bytes.

    Not ``email``'s parser for the whole message: it works line by line, and a part made of newlines
    (10 MB of them: 15 s of CPU) would be a cheap way to stall the client."""
    delimiter = b"--" + boundary
    pos = body.find(delimiter)
    if pos < 0 or (pos > 0 and body[pos - 1:pos] != b"\n"):
        raise bad("no MIME parts (bad boundary?)")
    parts: list[bytes] = []
    pos += len(delimiter)
    while not body.startswith(b"--", pos):  # the close delimiter ends the parts
        line_end = body.find(b"\n", pos)
        if line_end < 0:
            raise bad("truncated MIME part")
        nxt = body.find(b"\n" + delimiter, line_end)
        if nxt < 0:
            raise bad("MIME part without a closing boundary")
        parts.append(body[line_end + 1:nxt - 1 if body[nxt - 1:nxt] == b"\r" else nxt])
        if len(parts) > MAX_PARTS:
            raise bad(f"more than {MAX_PARTS} MIME parts")
        pos = nxt + 1 + len(delimiter)
    return parts


def _decode(part: bytes, bad: Callable[[str], MalformedResponseError]) -> tuple[str, bytes]:
    """(Content-ID, content) of one part; its headers are read with the ``email`` package."""
    sep = part.find(b"\r\n\r\n")
    head, data = (part[:sep], part[sep + 4:]) if sep >= 0 else (None, b"")
    if head is None:
        sep = part.find(b"\n\n")
        if sep < 0:
            raise bad("a MIME part has no header section")
        head, data = part[:sep], part[sep + 2:]
    if len(head) > 16384:
        raise bad("MIME part headers too long")
    headers = email.parser.BytesHeaderParser(policy=email.policy.HTTP).parsebytes(head + b"\r\n\r\n")
    cte = str(headers.get("Content-Transfer-Encoding", "binary")).strip().lower()
    if cte == "base64":
        data = base64.b64decode(data)
    elif cte == "quoted-printable":
        data = quopri.decodestring(data)
    elif cte not in ("binary", "8bit", "7bit"):
        raise bad(f"unsupported Content-Transfer-Encoding {cte!r}")
    return _cid(str(headers.get("Content-ID", ""))), data


def unpack(content_type: str, body: bytes, *, max_bytes: int, origin: str = "mtom") -> tuple[etree._Element, bytes]:
    """(the envelope with attachments inlined as base64, the root part's bytes) of an MTOM message."""

    def bad(message: str) -> MalformedResponseError:
        return MalformedResponseError(f"MTOM answer: {message}", code="MTOM_MALFORMED", origin=origin)

    if len(body) > max_bytes:
        raise MalformedResponseError(f"MTOM answer exceeds {max_bytes} bytes", code="XML_TOO_LARGE", origin=origin)
    header = email.parser.HeaderParser(policy=email.policy.HTTP).parsestr(f"Content-Type: {content_type}\r\n\r\n")
    boundary = header.get_param("boundary", header="content-type")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        raise bad("no MIME parts (no boundary parameter)")
    start = header.get_param("start", header="content-type")
    by_id: dict[str, bytes] = {}
    root_part: tuple[str, bytes] | None = None
    for part in _split(body, boundary.encode("latin-1", "replace"), bad):
        cid, data = _decode(part, bad)
        if cid:
            if cid in by_id:
                raise bad(f"two parts with Content-ID {cid!r}")
            by_id[cid] = data
        if root_part is None and (_cid(str(start)) == cid if isinstance(start, str) and start else True):
            root_part = (cid, data)
    if root_part is None:
        raise bad("the start part is missing")
    root_cid, root_bytes = root_part
    envelope = parse_xml(root_bytes, max_bytes=max_bytes, what=f"MTOM root part from {origin}")
    used: set[str] = set()
    for include in list(envelope.iter(f"{{{NS_XOP}}}Include")):
        cid = _cid(include.get("href") or "")
        if cid == root_cid or cid not in by_id:
            raise bad(f"xop:Include refers to an unknown part {include.get('href')!r}")
        if cid in used:
            raise bad(f"part {cid!r} included twice")
        used.add(cid)
        parent = include.getparent()
        if parent is None or len(parent) != 1 or (parent.text or "").strip():
            raise bad("xop:Include must be the only content of its element")
        parent.remove(include)
        parent.text = base64.b64encode(by_id[cid]).decode("ascii")
    return envelope, root_bytes


def pack(envelope: bytes, attachments: Mapping[str, bytes]) -> tuple[str, bytes]:
    """(Content-Type, body) of an MTOM message: ``envelope`` (with ``xop:Include`` to the ``cid``s) first."""
    boundary = "MIMEBoundary_" + uuid.uuid4().hex
    root_id = f"root.{uuid.uuid4().hex}@mycarenet-dental"
    out = [f"--{boundary}\r\nContent-Type: {XOP_TYPE}; charset=UTF-8; type=\"text/xml\"\r\n"
           f"Content-Transfer-Encoding: binary\r\nContent-ID: <{root_id}>\r\n\r\n".encode("ascii"), envelope]
    for cid, data in attachments.items():
        out.append(f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n"
                   f"Content-Transfer-Encoding: binary\r\nContent-ID: <{cid}>\r\n\r\n".encode("ascii"))
        out.append(data)
    out.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
    content_type = (f'multipart/related; type="{XOP_TYPE}"; boundary="{boundary}"; start="<{root_id}>"; '
                    f'start-info="text/xml"')
    return content_type, b"".join(out)
