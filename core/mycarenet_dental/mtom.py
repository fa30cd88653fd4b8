"""MTOM/XOP SOAP messages (``multipart/related``, W3C XOP 1.0): read them back to one plain envelope.

GenericAsync's Blob type allows MTOM and real deployments answer ``get`` with the blobs as binary MIME
parts referenced by ``xop:Include href="cid:..."``. :func:`unpack` parses the MIME with the standard
``email`` package (the body is already bounded by the caller), checks the part count, and returns the
root XML part with every ``xop:Include`` replaced by the base64 of its part, so the rest of the code
sees the blob exactly as when it travels inline. :func:`pack` builds such a message (the simulator's
MTOM switch and the tests).
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import uuid
from collections.abc import Mapping
from urllib.parse import unquote

from lxml import etree

from .errors import MalformedResponseError
from .xmlsafe import parse_xml

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


def unpack(content_type: str, body: bytes, *, max_bytes: int, origin: str = "mtom") -> tuple[etree._Element, bytes]:
    """(the envelope with attachments inlined as base64, the root part's bytes) of an MTOM message."""

    def bad(message: str) -> MalformedResponseError:
        return MalformedResponseError(f"MTOM answer: {message}", code="MTOM_MALFORMED", origin=origin)

    if len(body) > max_bytes:
        raise MalformedResponseError(f"MTOM answer exceeds {max_bytes} bytes", code="XML_TOO_LARGE", origin=origin)
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise bad("no MIME parts (bad boundary?)")
    parts = message.get_payload()
    if not isinstance(parts, list) or not parts:
        raise bad("no MIME parts")
    if len(parts) > MAX_PARTS:
        raise bad(f"{len(parts)} MIME parts (more than {MAX_PARTS})")
    start = message.get_param("start", header="content-type")
    by_id: dict[str, bytes] = {}
    root_part = None
    for part in parts:
        cid = _cid(str(part.get("Content-ID", "")))
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            raise bad("a part has no body")
        if cid:
            if cid in by_id:
                raise bad(f"two parts with Content-ID {cid!r}")
            by_id[cid] = data
        if root_part is None and (_cid(str(start)) == cid if start else True):
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
