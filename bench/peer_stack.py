"""The peer stack a vendor would use today: zeep + python-xmlsec + requests (the ``[bench]`` extra).

* :class:`XmlsecHok` — WS-Security SAML holder-of-key with python-xmlsec, the same signature as ours:
  Body + Timestamp, exclusive c14n, RSA-SHA256, the assertion in the header and referenced by its
  AssertionID (KeyIdentifier). Also a zeep ``wsse`` plugin (``apply``/``verify``).
* :func:`zeep_client` — zeep built from the official Tarification WSDL (``../shared/xsd``), with
  requests underneath; the published ``mycarenet-commons-core-2_0.xsd`` is patched in memory only.
* :class:`LeanClient` — requests + xmlsec + lxml by hand, no SOAP library.
* :func:`kmehr_lines` — what a vendor reads from the answer: (code, tooth, fee, reimbursement, patient
  share) per priced line, in cents.
"""

from __future__ import annotations

import base64
import copy
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
import xmlsec
import zeep
import zeep.transports
from lxml import etree

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_KMEHR = "http://www.ehealth.fgov.be/standards/kmehr/schema/v1"
SAML_ASSERTION_ID = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID"
TARIFICATION_WSDL = "econtract/mycarenet-ehealth-tarification/MyCareNetTarification_v1.wsdl"
BINDING = "{urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1}MycarenetTarificationSOAPBinding"
_WSU_ID = f"{{{NS_WSU}}}Id"


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class XmlsecHok:
    """Holder-of-key signing and verifying with python-xmlsec; the keys are loaded once."""

    def __init__(self, key_pem: bytes, cert_pem: bytes, assertion: bytes, assertion_id: str) -> None:
        self.key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem)
        self.verify_key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
        self.assertion = etree.fromstring(assertion)
        self.assertion_id = assertion_id

    def apply(self, envelope: etree._Element, headers: Any) -> tuple[etree._Element, Any]:
        """Sign ``envelope`` in place (zeep's wsse plugin interface)."""
        header = envelope.find(f"{{{NS_SOAP}}}Header")
        if header is None:
            header = etree.Element(f"{{{NS_SOAP}}}Header")
            envelope.insert(0, header)
        body = envelope.find(f"{{{NS_SOAP}}}Body")
        security = etree.SubElement(header, f"{{{NS_WSSE}}}Security", nsmap={"wsse": NS_WSSE, "wsu": NS_WSU})
        security.set(f"{{{NS_SOAP}}}mustUnderstand", "1")
        now = datetime.now(timezone.utc)
        ts_id, body_id = f"TS-{uuid.uuid4().hex}", f"id-{uuid.uuid4().hex}"
        timestamp = etree.SubElement(security, f"{{{NS_WSU}}}Timestamp")
        timestamp.set(_WSU_ID, ts_id)
        etree.SubElement(timestamp, f"{{{NS_WSU}}}Created").text = _utc(now)
        etree.SubElement(timestamp, f"{{{NS_WSU}}}Expires").text = _utc(now + timedelta(seconds=60))
        security.append(copy.deepcopy(self.assertion))
        body.set(_WSU_ID, body_id)
        signature = xmlsec.template.create(envelope, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256, ns="ds")
        security.append(signature)
        for ref_id in (body_id, ts_id):
            ref = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256, uri=f"#{ref_id}")
            xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
        key_info = xmlsec.template.ensure_key_info(signature)
        token_ref = etree.SubElement(key_info, f"{{{NS_WSSE}}}SecurityTokenReference")
        key_id = etree.SubElement(token_ref, f"{{{NS_WSSE}}}KeyIdentifier", ValueType=SAML_ASSERTION_ID)
        key_id.text = self.assertion_id
        xmlsec.tree.add_ids(envelope, ["Id"])
        ctx = xmlsec.SignatureContext()
        ctx.key = self.key
        ctx.sign(signature)
        return envelope, headers

    def verify(self, envelope: etree._Element) -> None:
        """Check the signature and that it covers this Body and this Timestamp (zeep's interface)."""
        security = envelope.find(f"{{{NS_SOAP}}}Header/{{{NS_WSSE}}}Security")
        if security is None:  # an answer: the insurer does not sign its envelope
            return
        signature = security.find(f"{{{NS_DS}}}Signature")
        body = envelope.find(f"{{{NS_SOAP}}}Body")
        timestamp = security.find(f"{{{NS_WSU}}}Timestamp")
        uris = {ref.get("URI") for ref in signature.iterfind(f"{{{NS_DS}}}SignedInfo/{{{NS_DS}}}Reference")}
        if uris != {f"#{body.get(_WSU_ID)}", f"#{timestamp.get(_WSU_ID)}"}:
            raise ValueError("the signature does not cover this Body and Timestamp")
        xmlsec.tree.add_ids(envelope, ["Id"])
        ctx = xmlsec.SignatureContext()
        ctx.key = self.verify_key
        ctx.verify(signature)  # raises xmlsec.VerificationError

    def sign_bytes(self, body: etree._Element) -> bytes:
        """A signed envelope around a copy of ``body``, serialised."""
        envelope = etree.Element(f"{{{NS_SOAP}}}Envelope", nsmap={"soapenv": NS_SOAP})
        etree.SubElement(envelope, f"{{{NS_SOAP}}}Body").append(copy.deepcopy(body))
        self.apply(envelope, None)
        return etree.tostring(envelope)

    def verify_bytes(self, data: bytes) -> None:
        self.verify(etree.fromstring(data))


class _PatchedTransport(zeep.transports.Transport):
    """Loads the WSDL's schemas with the unexpanded Maven placeholder of the published commons core XSD
    replaced (libxml2 2.14 rejects ``v{version.major}`` in a namespace URI); nothing is written to disk."""

    def load(self, url: str) -> bytes:
        return super().load(url).replace(b"v{version.major}", b"v2")


def _session(ca_file: Path) -> requests.Session:
    session = requests.Session()
    # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment override Session.verify per request; the
    # peer is configured explicitly, as ours is (httpclient sets trust_env = False too).
    session.trust_env = False
    session.verify = str(ca_file)
    return session


def zeep_client(xsd_dir: Path, url: str, ca_file: Path, wsse: XmlsecHok) -> Any:
    """The zeep service proxy of Tarification at ``url``."""
    transport = _PatchedTransport(session=_session(ca_file))
    client = zeep.Client(str(xsd_dir / TARIFICATION_WSDL), transport=transport, wsse=wsse)
    return client.create_service(BINDING, url)


def zeep_call(service: Any, values: dict[str, Any], blob: bytes) -> list[tuple[Any, ...]]:
    """One consultation through zeep: request from values, answer read to lines."""
    answer = service.tarificationConsultation(
        CommonInput=values["common_input"], Routing=values["routing"],
        Detail={"_value_1": blob, "ContentType": "text/xml", "ContentEncoding": "none", "Id": "blob"},
        Id="_" + uuid.uuid4().hex, IssueInstant=datetime.now(timezone.utc))
    return kmehr_lines(answer.Return.Detail._value_1)


class LeanClient:
    """requests + xmlsec + lxml, no SOAP library: what a careful vendor writes by hand."""

    def __init__(self, url: str, ca_file: Path, wsse: XmlsecHok, soap_action: str) -> None:
        self.url = url
        self.session = _session(ca_file)
        self.wsse = wsse
        self.headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{soap_action}"'}

    def call(self, body: etree._Element) -> list[tuple[Any, ...]]:
        data = self.wsse.sign_bytes(body)
        reply = self.session.post(self.url, data=data, headers=self.headers, timeout=30)
        reply.raise_for_status()
        envelope = etree.fromstring(reply.content)
        detail = envelope.find(".//{*}Return/{*}Detail")
        return kmehr_lines(base64.b64decode(detail.text))


def _cents(item: etree._Element) -> int:
    return int(Decimal(item.findtext(f"{{{NS_KMEHR}}}cost/{{{NS_KMEHR}}}decimal")) * 100)


def kmehr_lines(blob: bytes) -> list[tuple[Any, ...]]:
    """(code, tooth, fee, reimbursement, patient share) of each tariff transaction, amounts in cents."""
    root = etree.fromstring(blob)
    lines = []
    k = f"{{{NS_KMEHR}}}"
    for tx in root.iter(f"{k}transaction"):
        if tx.findtext(f"{k}cd") != "tariff":
            continue
        line: dict[str, Any] = {}
        for item in tx.iterfind(f"{k}item"):
            kind = item.findtext(f"{k}cd")
            if kind == "claim":
                for content in item.iterfind(f"{k}content/{k}cd"):
                    line["tooth" if content.get("S") == "CD-ISO-3950" else "code"] = content.text
            elif kind in ("fee", "reimbursement", "patientfee"):
                line[kind] = _cents(item)
        tooth = line.get("tooth")
        lines.append((line["code"], int(tooth) if tooth else None, line.get("fee"), line.get("reimbursement"),
                      line.get("patientfee")))
    return lines
