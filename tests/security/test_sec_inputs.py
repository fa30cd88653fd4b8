"""Security hardening of local and received input (issue 15 items 3, 9, 10).

Trace masking on the bytes lxml really writes; certificates and XAdES-T values that are not base64
DER give typed errors where they are parsed; plain http refused for every URL setting.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from lxml import etree
from mycarenet_dental.config import config_from_mapping
from mycarenet_dental.ehealth import saml
from mycarenet_dental.ehealth.sts import load_trust
from mycarenet_dental.ehealth.transport import SoapClient
from mycarenet_dental.errors import ConfigError, MalformedResponseError, MyCareNetDentalError, SecurityError
from mycarenet_dental.xmlsafe import parse_xml

from tests.security.sec_helpers import body, signed_envelope

# Each one escapes differently in text, attribute and canonical form.
TRICKY_PASSWORDS = ['a&b"c', 'x<y"z>', 'p"q\rr', "cr\ronly", 'all&<>"\r\'\t end', "é&ü\"ß"]


def _licence_header(password: str) -> etree._Element:
    el = etree.Element("{urn:test}License")
    etree.SubElement(el, "{urn:test}Username").text = "vendor-user"
    etree.SubElement(el, "{urn:test}Password").text = password
    etree.SubElement(el, "{urn:test}Echo", value=password)  # the attribute form too
    return el


@pytest.mark.parametrize("password", TRICKY_PASSWORDS, ids=range(len(TRICKY_PASSWORDS)))
def test_trace_masks_password_as_serialised(sim, tmp_path, password):
    trace = tmp_path / "trace"
    soap = SoapClient(ca_file=sim.pki.ca, timeout=5, trace_dir=trace, mask=[password], retries=0)
    try:
        soap.call(sim.service_url, "urn:test:ping", body(), idempotent=False, headers_extra=[_licence_header(password)])
    except MyCareNetDentalError:
        pass  # unsigned: the service refuses it; the request was traced all the same
    request = next(p for p in trace.iterdir() if p.name.endswith("-request.xml")).read_bytes()
    root = etree.fromstring(request)
    assert root.findtext(".//{urn:test}Password") == "***"
    assert root.find(".//{urn:test}Echo").get("value") == "***"
    assert root.findtext(".//{urn:test}Username") == "vendor-user"
    assert password.encode() not in request


def _garbage_cert(xml: bytes, replacement: bytes, *, last: bool = False) -> bytes:
    """Replace the first (or last) X509Certificate value of a message by ``replacement``."""
    found = list(re.finditer(rb"<(?:[A-Za-z0-9]+:)?X509Certificate[^>]*>([^<]+)</", xml))
    match = found[-1 if last else 0]
    return xml[:match.start(1)] + replacement + xml[match.end(1):]


@pytest.mark.parametrize("garbage", [b"!!not-base64!!", b"AAAA", base64.b64encode(b"\x30\x03\x02\x01\x00")])
def test_garbage_sts_signer_certificate_is_a_security_error(pki, trust, garbage):
    _, token, _ = signed_envelope(pki, trust)
    raw = _garbage_cert(token.raw, garbage, last=True)  # the signer's, in the enveloped ds:Signature
    assert raw != token.raw
    with pytest.raises(SecurityError) as info:
        saml.verify_assertion_signature(parse_xml(raw), trust=load_trust(pki.sts_cert), now=datetime.now(timezone.utc))
    assert info.value.code == "CERT_MALFORMED" and info.value.exit_code == 3


def test_security_verify_with_malformed_certificate_reports_invalid(pki, trust, tmp_path):
    from mycarenet_dental.cli.security_cmds import security_group

    data, _token, _ = signed_envelope(pki, trust)
    for i, garbage in enumerate((b"!!not-base64!!", b"AAAA")):
        path = tmp_path / f"env{i}.xml"
        path.write_bytes(_garbage_cert(data, garbage))
        result = CliRunner().invoke(security_group, ["verify", str(path)])
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit), result.exception  # no uncaught exception
        assert "not base64 DER" in result.output


@pytest.mark.parametrize("value", ["abc", "@@@@", "QUJD!"])
def test_xades_t_not_base64_is_malformed_response(value):
    from mycarenet_dental.protocols import commons as c

    flavour = c.V3
    resp = c.build_response(flavour, "{urn:be:fgov:ehealth:mycarenet:memberdata:protocol:v1}MemberDataConsultationResponse",
                            common_output=c.CommonOutput("in", "nip", "out"),
                            blob=c.make_blob(b"<r/>", with_hash=True), in_response_to="x",
                            issue_instant=datetime.now(timezone.utc), xades_t=b"t")
    xt = next(e for e in resp.iter() if isinstance(e.tag, str) and etree.QName(e).localname == "XadesT")
    xt.text = value
    with pytest.raises(MalformedResponseError) as info:
        c.parse_response(flavour, resp)
    assert info.value.code == "XADES_T_BASE64"


@pytest.mark.parametrize(("table", "key"), [("endpoints", "services"), ("endpoints", "async"), ("endpoints", "sts"),
                                            ("endpoints", "etk_depot"), ("tariff", "tarification_url"),
                                            ("assurability", "memberdata_url"), ("billing", "hcpfac_url"),
                                            ("dmg", "gmf_url")])
@pytest.mark.parametrize("profile", ["simulator", "acceptance", "production"])
def test_plain_http_refused_for_every_url_setting(table, key, profile):
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"profile": profile, table: {key: "http://127.0.0.1:8443/x"}})
    assert "https" in str(info.value)
    ok = config_from_mapping({"profile": profile, table: {key: "https://127.0.0.1:8443/x"}})
    assert ok.profile == profile
