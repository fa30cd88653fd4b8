"""Simulated eHealth ETK depot (``/EtkDepot/v1``, unsecured SOAP): publishes MyCareNet's ETK and others.

Request ``GetEtkRequest/SearchCriteria/Identifier/{Type, Value, ApplicationID}``. The answer follows the
official depot schema (``ehealth-etkdepot-schema-protocol-1_0.xsd``): ``GetEtkResponse`` (eHealth commons
1.0 ``ResponseType``: ``Id`` and a commons-core ``Status`` with unqualified ``Code``/``Message``), then
``GivenSearchCriteria`` and either one ``ETK`` (base64 DER) or, when a query without ApplicationID only
matches ETKs published with one, one ``MatchingEtk`` per ETK naming its full identifier.
"""

from __future__ import annotations

import base64
import uuid
from typing import TYPE_CHECKING

from lxml import etree

from ..ehealth.etk import ETKDEPOT_CORE_NS, ETKDEPOT_NS
from ..errors import MalformedResponseError
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


def _identifier(parent: etree._Element, id_type: str, value: str, app: str | None) -> None:
    ident = etree.SubElement(parent, f"{{{ETKDEPOT_NS}}}Identifier")
    etree.SubElement(ident, f"{{{ETKDEPOT_NS}}}Type").text = id_type
    etree.SubElement(ident, f"{{{ETKDEPOT_NS}}}Value").text = value
    if app:
        etree.SubElement(ident, f"{{{ETKDEPOT_NS}}}ApplicationID").text = app


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
    wanted = _norm(id_type, value)
    candidates = [(t, v, a or None, der) for (t, v, a), der in trust.etks.items() if _norm(t, v) == wanted]
    if app is not None:
        candidates = [c for c in candidates if (c[2] or "").upper() == app.upper()]
    elif any(c[2] is None for c in candidates):
        candidates = [c for c in candidates if c[2] is None]
    # UNSURE: when the real depot answers MatchingEtk. Here: a query without ApplicationID gets the ETK
    # published without one when there is one, else MatchingEtk naming every ETK published with one (each
    # then fetched with its ApplicationID, as the official connector follows them up).
    matching = app is None and bool(candidates) and candidates[0][2] is not None
    out = etree.Element(f"{{{NS_SOAP}}}Envelope", nsmap={"soapenv": NS_SOAP})
    out_body = etree.SubElement(out, f"{{{NS_SOAP}}}Body")
    resp = etree.SubElement(out_body, f"{{{ETKDEPOT_NS}}}GetEtkResponse", nsmap={"etk": ETKDEPOT_NS})
    resp.set("Id", "_" + uuid.uuid4().hex)
    status = etree.SubElement(resp, f"{{{ETKDEPOT_CORE_NS}}}Status", nsmap={"core": ETKDEPOT_CORE_NS})
    code = etree.SubElement(status, "Code")  # unqualified: commons core 1.0 has no elementFormDefault
    msg = etree.SubElement(status, "Message")
    msg.set("Lang", "EN")
    if not candidates:
        # UNSURE: the real depot's "nothing found" rendering; a non-200 status is what the official connector
        # reports as ETK_NOT_FOUND.
        code.text = "404"
        msg.text = f"No ETK found for {wanted[0]}={wanted[1]}" + (f" application {app}" if app else "")
        return etree.tostring(out, encoding="UTF-8", xml_declaration=True)
    code.text = "200"
    msg.text = "OK"
    given = etree.SubElement(resp, f"{{{ETKDEPOT_NS}}}GivenSearchCriteria")
    _identifier(given, id_type.strip(), value.strip(), app)
    if not matching:
        etree.SubElement(resp, f"{{{ETKDEPOT_NS}}}ETK").text = base64.b64encode(candidates[0][3]).decode()
    else:
        for t, v, a, _ in sorted(candidates, key=lambda c: (c[2] or "")):
            _identifier(etree.SubElement(resp, f"{{{ETKDEPOT_NS}}}MatchingEtk"), t, v, a)
    return etree.tostring(out, encoding="UTF-8", xml_declaration=True)
