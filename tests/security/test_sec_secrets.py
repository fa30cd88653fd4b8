"""No secret (keystore password, private key, licence password) in traces, logs or exception messages."""

from __future__ import annotations

import base64
import logging
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree
from mycarenet_dental.ehealth.keystore import Keystore
from mycarenet_dental.ehealth.sts import StsClient
from mycarenet_dental.ehealth.tokens import TokenCache
from mycarenet_dental.ehealth.transport import SoapClient
from mycarenet_dental.ehealth.wssecurity import HolderOfKeySecurity
from mycarenet_dental.errors import MyCareNetDentalError

from tests.security.sec_helpers import body

LICENCE_PASSWORD = "Lic&nce-S3cret<pw>"


def _licence_header() -> etree._Element:
    el = etree.Element("{urn:test}License")
    etree.SubElement(el, "{urn:test}Username").text = "vendor-user"
    etree.SubElement(el, "{urn:test}Password").text = LICENCE_PASSWORD
    return el


def _secret_forms(pki, ks: Keystore) -> list[bytes]:
    forms = [pki.keystore_password.encode(), LICENCE_PASSWORD.encode(),
             LICENCE_PASSWORD.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()]
    for entry in ks.all_keys:
        der = entry.private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
        forms += [der[-64:], base64.b64encode(der)[-64:]]
        numbers = entry.private_key.private_numbers()
        secret_int = getattr(numbers, "d", None) or getattr(numbers, "private_value", None)
        forms.append(str(secret_int).encode())
    return forms


def test_no_secret_in_traces_logs_or_errors(sim, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    pki = sim.pki
    trace = tmp_path / "trace"
    soap = SoapClient(ca_file=pki.ca, timeout=5, trace_dir=trace, mask=[LICENCE_PASSWORD])
    ks = Keystore.load(pki.dentist_p12, pki.keystore_password)
    cache = TokenCache(StsClient(sim.sts_url, ks, soap=soap, trust_anchor=pki.sts_cert),
                       persist_path=tmp_path / "token.json")
    token = cache.get()
    soap.call(sim.service_url, "urn:test:ping", body(), security=HolderOfKeySecurity(token, ks.authentication),
              idempotent=False, headers_extra=[_licence_header()])
    messages: list[str] = []
    # failing paths produce exceptions whose text must be clean too
    try:
        Keystore.load(pki.dentist_p12, pki.keystore_password + "x")
    except MyCareNetDentalError as exc:
        messages += [str(exc), repr(exc), str(exc.to_dict())]
    sim.app.mode = "busy"
    try:
        soap.call(sim.service_url, "urn:test:ping", body(), security=HolderOfKeySecurity(token, ks.authentication),
                  idempotent=False, headers_extra=[_licence_header()])
    except MyCareNetDentalError as exc:
        messages += [str(exc), repr(exc), str(exc.to_dict())]
    sim.app.mode = "normal"
    files = sorted(trace.iterdir())
    assert len(files) >= 6  # request + response per exchange (STS, service, failing service)
    blobs = [f.read_bytes() for f in files] + [(tmp_path / "token.json").read_bytes()]
    for f in files:
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    assert any(b"***" in b and b"vendor-user" in b for b in blobs)  # masked where it was
    texts = blobs + [caplog.text.encode()] + [m.encode() for m in messages]
    texts += [repr(ks).encode(), repr(ks.authentication).encode()]
    for form in _secret_forms(pki, ks):
        for text in texts:
            assert form not in text


def test_trace_is_exact_bytes(sim, tmp_path):
    soap = SoapClient(ca_file=sim.pki.ca, timeout=5, trace_dir=tmp_path)
    ks = Keystore.load(sim.pki.dentist_p12, sim.pki.keystore_password)
    StsClient(sim.sts_url, ks, soap=soap, trust_anchor=sim.pki.sts_cert).request_token()
    response = next(p for p in tmp_path.iterdir() if p.name.endswith("-response.xml"))
    assert response.read_bytes().startswith(b"<?xml")
    from mycarenet_dental.xmlsafe import parse_xml

    parse_xml(response.read_bytes())


@pytest.mark.parametrize("secret", ["a&b", "x<y"])
def test_mask_handles_xml_escaping(secret):
    soap = SoapClient(mask=[secret])
    escaped = secret.replace("&", "&amp;").replace("<", "&lt;").encode()
    assert soap.mask_bytes(b"<p>" + escaped + b"</p>") == b"<p>***</p>"
