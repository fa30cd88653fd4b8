"""Simulated eHealth ETK depot (``/EtkDepot/v1``, unsecured SOAP): publishes MyCareNet's ETK and others.

Request ``GetEtkRequest/SearchCriteria/Identifier/{Type, Value, ApplicationID}``; answer
``GetEtkResponse`` with ``Status`` and ``ETK`` (base64 DER), or a status saying nothing matched.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from lxml import etree

from ..errors import MalformedResponseError
from ..security.etk import ETKDEPOT_CORE_NS, ETKDEPOT_NS
from ..security.saml import format_time
from ..xmlsafe import parse_xml
from .wss_check import SimSoapFault

if TYPE_CHECKING:
    from .sts import SimTrust

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
ETK_PATH = "/EtkDepot/v1"


def _norm(identifier_type: str, value: str) -> tuple[str, str]:
    t = identifier_type.strip().upper()
    v = value.strip()
    if t == "CBE":
        v = v.zfill(10)
    return t, v


def handle_etk_request(body: bytes, *, trust: SimTrust) -> bytes:
    """Answer one GetEtk request with the full SOAP response envelope."""
    try:
        env = parse_xml(body, what="ETK depot request")
    except MalformedResponseError as exc:
        raise SimSoapFault("SOA-03002", f"Message must be SOAP: {exc.message}") from None
    soap_body = env.find(f"{{{NS_SOAP}}}Body")
    req = soap_body.find(f"{{{ETKDEPOT_NS}}}GetEtkRequest") if soap_body is not None else None
    if req is None:
        raise SimSoapFault("SOA-03005", "Expected a GetEtkRequest")
    ident = req.find(f"{{{ETKDEPOT_NS}}}SearchCriteria/{{{ETKDEPOT_NS}}}Identifier")
    if ident is None:
        raise SimSoapFault("SOA-03006", "SearchCriteria/Identifier is required")
    id_type = ident.findtext(f"{{{ETKDEPOT_NS}}}Type") or ""
    value = ident.findtext(f"{{{ETKDEPOT_NS}}}Value") or ""
    app = (ident.findtext(f"{{{ETKDEPOT_NS}}}ApplicationID") or "").strip() or None
    wanted = (*_norm(id_type, value), app)
    found = None
    for (t, v, a), der in trust.etks.items():
        if _norm(t, v) == wanted[:2] and (a or None) == app:
            found = der
            break
    out = etree.Element(f"{{{NS_SOAP}}}Envelope", nsmap={"soapenv": NS_SOAP})
    out_body = etree.SubElement(out, f"{{{NS_SOAP}}}Body")
    resp = etree.SubElement(out_body, f"{{{ETKDEPOT_NS}}}GetEtkResponse",
                            nsmap={"etk": ETKDEPOT_NS, "core": ETKDEPOT_CORE_NS})
    resp.set("Id", "_" + uuid.uuid4().hex)
    resp.set("IssueInstant", format_time(datetime.now(timezone.utc)))
    status = etree.SubElement(resp, f"{{{ETKDEPOT_CORE_NS}}}Status")
    code = etree.SubElement(status, f"{{{ETKDEPOT_CORE_NS}}}Code")
    if found is None:
        code.text = "404"
        msg = etree.SubElement(status, f"{{{ETKDEPOT_CORE_NS}}}Message")
        msg.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        msg.text = f"No ETK found for {wanted[0]}={wanted[1]}" + (f" application {app}" if app else "")
    else:
        code.text = "200"
        etree.SubElement(resp, f"{{{ETKDEPOT_NS}}}ETK").text = base64.b64encode(found).decode()
    return etree.tostring(out, encoding="UTF-8", xml_declaration=True)
