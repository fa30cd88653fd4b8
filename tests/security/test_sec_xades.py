"""XAdES-BES over a GenericAsync Blob: round trip, tampering, deflate and XML content."""

from __future__ import annotations

import zlib

import pytest
from mycarenet_dental.ehealth import xades
from mycarenet_dental.errors import SecurityError
from mycarenet_dental.sim.pki import load_pem_cert

from tests.security.sec_helpers import load_keystore


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize("which", ["pki", "pki_ec"])
def test_round_trip_deflated_flat_file(request, which):
    pki = request.getfixturevalue(which)
    key = load_keystore(pki.dentist_p12, pki.keystore_password).authentication
    content = b"920000" + b"0" * 400
    blob = _deflate(content)
    sig = xades.sign_blob(blob, key=key)
    check = xades.verify_blob(blob, sig, trust=[load_pem_cert(pki.ca)])
    assert check.signer_certificate == key.certificate
    # digest is over the inflated content: the uncompressed blob verifies too
    xades.verify_blob(content, sig)
    with pytest.raises(SecurityError) as info:
        xades.verify_blob(_deflate(content + b"1"), sig)
    assert "Blob digest" in info.value.message
    with pytest.raises(SecurityError):
        xades.verify_blob(blob, sig.replace(b"SigningTime>20", b"SigningTime>19"))
    with pytest.raises(SecurityError):
        xades.verify_blob(blob, sig, trust=[load_pem_cert(pki.sts_cert)])


def test_xml_content_is_canonicalised(pki):
    key = load_keystore(pki.dentist_p12, pki.keystore_password).authentication
    sig = xades.sign_blob(b"<a  b='1'><c/></a>", key=key, content_type="text/xml")
    xades.verify_blob(b'<a b="1"><c></c></a>', sig, content_type="text/xml")


def test_generic_verifier_checks_signed_properties_digest(pki):
    from lxml import etree
    from mycarenet_dental.ehealth import xmldsig

    key = load_keystore(pki.dentist_p12, pki.keystore_password).authentication
    sig = etree.fromstring(xades.sign_blob(b"data", key=key))
    report = xmldsig.verify(sig, public_key=key.certificate.public_key())
    # our generic verifier resolves the SignedProperties reference; the Blob one is external
    by_type = {r.uri.split("-")[-1]: r for r in report.references}
    assert by_type["signedprops"].ok and report.value_ok


def test_digest_inflation_is_bounded(monkeypatch):
    """The nippin transform inflates what a peer sent: a deflate bomb stops at the bound, typed."""
    from mycarenet_dental.errors import MalformedResponseError

    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = comp.compress(b"\0" * 100_000) + comp.flush()
    monkeypatch.setattr(xades, "MAX_DIGEST_INFLATE", 10_000)
    with pytest.raises(MalformedResponseError) as info:
        xades.blob_digest_input(bomb)
    assert info.value.code == "BLOB_TOO_LARGE"
    assert xades.blob_digest_input(b"not deflated") == b"not deflated"  # pass-through kept
