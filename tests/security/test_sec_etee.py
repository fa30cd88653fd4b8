"""ETEE seal/unseal round trips (RSA and EC senders), the older SHA-1 form, ETK parsing and the ETK depot."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from mycarenet_dental.ehealth import etee
from mycarenet_dental.ehealth.etk import Etk, fetch_etk
from mycarenet_dental.ehealth.transport import SoapClient
from mycarenet_dental.errors import MalformedResponseError, SecurityError
from mycarenet_dental.sim.pki import load_pem_cert

from tests.security.sec_helpers import load_keystore


def _stores(pki):
    return (load_keystore(pki.dentist_p12, pki.keystore_password),
            load_keystore(pki.mycarenet_p12, pki.keystore_password))


@pytest.mark.parametrize("which", ["pki", "pki_ec"])
@pytest.mark.parametrize("legacy", [False, True])
def test_round_trip(request, which, legacy):
    pki = request.getfixturevalue(which)
    dentist, mcn = _stores(pki)
    etk = Etk.parse(pki.mycarenet_etk.read_bytes())
    sealed = etee.seal(b"<BusinessContent/>", sender=dentist.authentication, recipients=[etk], legacy=legacy)
    opened = etee.unseal(sealed, recipient_keys=mcn.encryption_keys, trust=[load_pem_cert(pki.ca)])
    assert opened.content == b"<BusinessContent/>"
    assert opened.signer_certificate == dentist.authentication.certificate
    assert opened.weak is legacy
    assert opened.outer.signature_algorithm == ("rsassa_pss" if which == "pki" and not legacy else
                                                opened.outer.signature_algorithm)
    if legacy:
        assert opened.outer.signed_attributes and opened.inner.digest_algorithm == "sha1"
        with pytest.raises(SecurityError):
            etee.unseal(sealed, recipient_keys=mcn.encryption_keys, allow_sha1=False)


def test_several_recipients_and_response_direction(pki):
    dentist, mcn = _stores(pki)
    etks = [Etk.parse(pki.mycarenet_etk.read_bytes()), Etk.parse(pki.dentist_etk.read_bytes())]
    sealed = etee.seal(b"x" * 5000, sender=mcn.authentication, recipients=etks)
    assert etee.unseal(sealed, recipient_keys=dentist.encryption_keys).content == b"x" * 5000
    assert etee.unseal(sealed, recipient_keys=mcn.encryption_keys).content == b"x" * 5000


def test_not_a_recipient(pki):
    dentist, mcn = _stores(pki)
    sealed = etee.seal(b"x", sender=dentist.authentication, recipients=[Etk.parse(pki.dentist_etk.read_bytes())])
    with pytest.raises(SecurityError) as info:
        etee.unseal(sealed, recipient_keys=mcn.encryption_keys)
    assert info.value.code == "ETEE_NOT_RECIPIENT"


def test_tampered_seal(pki):
    dentist, mcn = _stores(pki)
    sealed = bytearray(etee.seal(b"payload", sender=dentist.authentication,
                                 recipients=[Etk.parse(pki.mycarenet_etk.read_bytes())]))
    sealed[len(sealed) // 2] ^= 0x01
    with pytest.raises(SecurityError):
        etee.unseal(bytes(sealed), recipient_keys=mcn.encryption_keys)


def test_untrusted_sender(pki, pki_ec):
    dentist, _ = _stores(pki)
    _, mcn = _stores(pki)
    sealed = etee.seal(b"p", sender=dentist.authentication, recipients=[Etk.parse(pki.mycarenet_etk.read_bytes())])
    with pytest.raises(SecurityError) as info:
        etee.unseal(sealed, recipient_keys=mcn.encryption_keys, trust=[load_pem_cert(pki_ec.ca)])
    assert info.value.code == "ETEE_UNTRUSTED"


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl missing")
@pytest.mark.parametrize("legacy", [False, True])
def test_openssl_verifies_outer_signature(pki, tmp_path, legacy):
    dentist, _ = _stores(pki)
    sealed = etee.seal(b"p", sender=dentist.authentication, recipients=[Etk.parse(pki.mycarenet_etk.read_bytes())],
                       legacy=legacy)
    (tmp_path / "s.der").write_bytes(sealed)
    out = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in", str(tmp_path / "s.der"),
                          "-CAfile", str(pki.ca), "-purpose", "any", "-out", str(tmp_path / "env.der")],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr.decode()


def test_etk_parse_and_verify(pki):
    etk = Etk.parse(pki.mycarenet_etk.read_bytes())
    etk.verify(trust=[load_pem_cert(pki.ca)])
    assert etk.certificate == load_pem_cert(pki.mycarenet_enc_cert)
    assert etk.auth_certificate is not None and etk.signer_certificate.subject.rfc4514_string().startswith("CN=ETK-RA")
    with pytest.raises(SecurityError):
        Etk.parse(b"\x30\x03\x02\x01\x00")


def test_etk_depot_fetch(sim, run):
    soap = SoapClient(ca_file=sim.pki.ca, timeout=5)
    etk = fetch_etk(soap, sim.etk_url, "CBE", "0820563481", application_id="MYCARENET", run=run)
    assert etk.raw == sim.pki.mycarenet_etk.read_bytes()
    etk2 = fetch_etk(soap, sim.etk_url, "SSIN", sim.pki.dentist_ssin)
    assert etk2.raw == sim.pki.dentist_etk.read_bytes()
    with pytest.raises(MalformedResponseError) as info:
        fetch_etk(soap, sim.etk_url, "CBE", "0999999999")
    assert info.value.code == "ETK_NOT_FOUND"


def test_session_etk_cache(sim, tmp_path):
    from mycarenet_dental.ehealth.session import SecuritySession

    soap = SoapClient(ca_file=sim.pki.ca, timeout=5)
    session = SecuritySession(keystore_path=sim.pki.dentist_p12, password=sim.pki.keystore_password,
                              sts_url=sim.sts_url, soap=soap, trust_anchor=sim.pki.sts_cert,
                              token_cache_path=tmp_path / "t.json", etk_depot_url=sim.etk_url,
                              etk_trust_anchor=sim.pki.ca)
    a = session.etk("CBE", "0820563481", "MYCARENET")
    calls = soap.calls
    assert session.etk("CBE", "0820563481", "MYCARENET") is a and soap.calls == calls
    token = session.token()
    assert session.token() is token
    hok = session.hok(timestamp_only=True)
    assert hok.timestamp_only and hok.token is token


@pytest.mark.parametrize("legacy", [False, True])
def test_every_cms_layer_is_read_by_asn1crypto(pki, monkeypatch, legacy):
    """Issue 13 property 6: one parser for signed input. The outer SignedData, the EnvelopedData and the
    inner SignedData all go through asn1crypto (no hand-written DER walk of attacker-controlled bytes)."""
    from asn1crypto import cms

    dentist, mcn = _stores(pki)
    etk = Etk.parse(pki.mycarenet_etk.read_bytes())
    sealed = etee.seal(b"<BusinessContent/>", sender=dentist.authentication, recipients=[etk], legacy=legacy)
    loaded: list[str] = []
    real_load = cms.ContentInfo.load.__func__

    def counting_load(cls, encoded_data, strict=False, **kwargs):
        info = real_load(cls, encoded_data, strict=strict, **kwargs)
        loaded.append(info["content_type"].native)
        return info

    monkeypatch.setattr(cms.ContentInfo, "load", classmethod(counting_load))
    assert etee.unseal(sealed, recipient_keys=mcn.encryption_keys).content == b"<BusinessContent/>"
    assert loaded == ["signed_data", "enveloped_data", "signed_data"]


def test_no_hand_written_cms_reader():
    """The DER fast path of cmsutil is gone for good (issue 13 property 6)."""
    from mycarenet_dental.ehealth import cmsutil

    assert not [name for name in vars(cmsutil) if "fast" in name.lower() or name in ("_tlv", "_content_info")]
