"""Signatures made by the project verify with independent implementations: signxml and xmlsec1."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree
from mycarenet_dental.ehealth import saml
from mycarenet_dental.ehealth.transport import envelope_for
from mycarenet_dental.ehealth.wssecurity import NS_SOAP, NS_WSSE, NS_WSU, X509Security
from mycarenet_dental.sim.sts import SimTrust

from tests.security.sec_helpers import body, load_keystore, signed_envelope

signxml = pytest.importorskip("signxml")


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _without_assertion(data: bytes) -> bytes:
    root = etree.fromstring(data)
    for a in root.iter(f"{{{saml.NS_SAML}}}Assertion"):
        a.getparent().remove(a)  # not covered by the WS-Security signature; keeps one ds:Signature
    return etree.tostring(root)


def _assertion(data: bytes) -> bytes:
    root = etree.fromstring(data)
    return etree.tostring(next(root.iter(f"{{{saml.NS_SAML}}}Assertion")))


@pytest.fixture(params=["pki", "pki_ec"])
def material(request):
    pki = request.getfixturevalue(request.param)
    trust = SimTrust.load(pki.out_dir)
    data, token, ks = signed_envelope(pki, trust)
    return pki, trust, data, token, ks


def test_signxml_verifies_hok_envelope_and_assertion(material):
    from signxml import SignatureConfiguration, XMLVerifier

    pki, trust, data, token, ks = material
    result = XMLVerifier().verify(
        _without_assertion(data), x509_cert=_pem(ks.authentication.certificate).decode(), id_attribute="Id",
        expect_config=SignatureConfiguration(expect_references=2),
    )
    assert len(result) == 2
    XMLVerifier().verify(
        _assertion(data), x509_cert=_pem(trust.sts_cert).decode(), id_attribute="AssertionID",
    )


def test_signxml_verifies_x509_envelope(pki):
    from signxml import SignatureConfiguration, XMLVerifier

    ks = load_keystore(pki.dentist_p12, pki.keystore_password)
    data = X509Security(ks.authentication).apply(envelope_for(body()))
    result = XMLVerifier().verify(
        data, x509_cert=_pem(ks.authentication.certificate).decode(), id_attribute="Id",
        expect_config=SignatureConfiguration(expect_references=3),
    )
    assert len(result) == 3


def _xmlsec1(tmp_path, data: bytes, cert_pem: bytes, id_attrs: list[str]) -> subprocess.CompletedProcess:
    (tmp_path / "msg.xml").write_bytes(data)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    cmd = ["xmlsec1", "--verify"]
    for spec in id_attrs:
        cmd += ["--id-attr:" + spec.split(" ", 1)[0], spec.split(" ", 1)[1]]
    cmd += ["--pubkey-cert-pem", str(tmp_path / "cert.pem"), str(tmp_path / "msg.xml")]
    return subprocess.run(cmd, capture_output=True, timeout=30)


WSS_IDS = [f"Id {NS_WSU}:Timestamp", f"Id {NS_SOAP}:Body", f"Id {NS_WSSE}:BinarySecurityToken"]


@pytest.mark.skipif(not shutil.which("xmlsec1"), reason="xmlsec1 not installed")
def test_xmlsec1_verifies_hok_envelope_and_assertion(material, tmp_path):
    pki, trust, data, token, ks = material
    out = _xmlsec1(tmp_path, _without_assertion(data), _pem(ks.authentication.certificate), WSS_IDS)
    assert out.returncode == 0, out.stderr.decode()
    out = _xmlsec1(tmp_path, _assertion(data), _pem(trust.sts_cert), [f"AssertionID {saml.NS_SAML}:Assertion"])
    assert out.returncode == 0, out.stderr.decode()
    tampered = _without_assertion(data).replace(b">hello<", b">hellO<")
    assert _xmlsec1(tmp_path, tampered, _pem(ks.authentication.certificate), WSS_IDS).returncode != 0


@pytest.mark.skipif(not shutil.which("xmlsec1"), reason="xmlsec1 not installed")
def test_xmlsec1_verifies_x509_envelope(pki_ec, tmp_path):
    ks = load_keystore(pki_ec.dentist_p12, pki_ec.keystore_password)
    data = X509Security(ks.authentication).apply(envelope_for(body()))
    out = _xmlsec1(tmp_path, data, _pem(ks.authentication.certificate), WSS_IDS)
    assert out.returncode == 0, out.stderr.decode()
