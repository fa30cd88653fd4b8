"""Service-side WS-Security checks (simulator) and their refusals: SOA-01001 / SOA-01002."""

from __future__ import annotations

from datetime import timedelta

import pytest
from mycarenet_dental.ehealth.transport import SoapClient, envelope_for
from mycarenet_dental.ehealth.wssecurity import HolderOfKeySecurity
from mycarenet_dental.errors import SoapFaultError
from mycarenet_dental.sim.pki import new_key
from mycarenet_dental.sim.wss_check import SimSoapFault, check_care_provider, check_service_request

from tests.security.sec_helpers import issue_token, load_keystore, now, signed_envelope


def test_accepts_valid_envelope_and_assertion_is_byte_exact(pki, trust):
    data, token, _ = signed_envelope(pki, trust)
    assert token.raw in data  # spliced byte for byte, never re-serialised
    caller = check_service_request(data, trust=trust, now=now())
    assert caller.nihii == pki.dentist_nihii
    assert caller.ssin == pki.dentist_ssin
    assert caller.quality == "dentist"
    assert caller.assertion_id == token.assertion_id
    check_care_provider(caller, pki.dentist_nihii)


def test_timestamp_only_variant(pki, trust):
    data, _, _ = signed_envelope(pki, trust, timestamp_only=True)
    check_service_request(data, trust=trust, now=now(), timestamp_only=True)
    with pytest.raises(SimSoapFault) as info:  # a Body+Timestamp service refuses it
        check_service_request(data, trust=trust, now=now())
    assert info.value.code == "SOA-01001"
    assert "Body" in info.value.message


def _refused(data: bytes, trust, code="SOA-01001", **kw) -> SimSoapFault:
    with pytest.raises(SimSoapFault) as info:
        check_service_request(data, trust=trust, now=kw.pop("at", None) or now(), **kw)
    assert info.value.code == code
    assert b"<Code>" + code.encode() + b"</Code>" in info.value.to_response_bytes()
    return info.value


def test_tampered_body(pki, trust):
    data, _, _ = signed_envelope(pki, trust)
    fault = _refused(data.replace(b">hello<", b">hellO<"), trust)
    assert "digest mismatch" in fault.message


def test_tampered_assertion(pki, trust):
    data, _, _ = signed_envelope(pki, trust)
    tampered = data.replace(pki.dentist_nihii.encode(), b"39999999001")
    fault = _refused(tampered, trust)
    assert "assertion" in fault.message


def test_expired_timestamp_replayed(pki, trust):
    data, _, _ = signed_envelope(pki, trust, clock=lambda: now() - timedelta(minutes=30))
    fault = _refused(data, trust)
    assert "expired" in fault.message


def test_future_timestamp(pki, trust):
    data, _, _ = signed_envelope(pki, trust, clock=lambda: now() + timedelta(minutes=30))
    _refused(data, trust)


def test_replay_after_expiry_later(pki, trust):
    data, _, _ = signed_envelope(pki, trust)
    _refused(data, trust, at=now() + timedelta(minutes=10))


def test_wrong_key(pki, trust):
    import attrs

    ks = load_keystore(pki.dentist_p12, pki.keystore_password)
    other = attrs.evolve(ks.authentication, private_key=new_key(ks.authentication.key_type))
    data, _, _ = signed_envelope(pki, trust, key=other, keystore=ks)
    fault = _refused(data, trust)
    assert "does not verify" in fault.message


def test_assertion_from_unknown_sts(pki, trust):
    from mycarenet_dental.sim.pki import issue

    key = new_key("rsa")
    cert = issue(trust.sts_cert.subject, key.public_key(), issuer=None, issuer_key=key, now=now(), days=10)
    ks = load_keystore(pki.dentist_p12, pki.keystore_password)
    token = issue_token(trust, ks, nihii=pki.dentist_nihii, ssin=pki.dentist_ssin, sts_key=key, sts_cert=cert)
    data, _, _ = signed_envelope(pki, trust, token=token, keystore=ks)
    fault = _refused(data, trust)
    assert "untrusted" in fault.message


def test_expired_assertion(pki, trust):
    ks = load_keystore(pki.dentist_p12, pki.keystore_password)
    token = issue_token(trust, ks, nihii=pki.dentist_nihii, ssin=pki.dentist_ssin,
                        start=now() - timedelta(hours=3), lifetime=timedelta(hours=1))
    data, _, _ = signed_envelope(pki, trust, token=token, keystore=ks)
    _refused(data, trust)


def test_unsigned_and_non_soap(pki, trust):
    from lxml import etree

    from tests.security.sec_helpers import body

    _refused(etree.tostring(envelope_for(body())), trust)
    _refused(b"<not-soap/>", trust, code="SOA-03002")
    _refused(b"garbage", trust, code="SOA-03002")


def test_care_provider_mismatch(pki, trust):
    data, _, _ = signed_envelope(pki, trust)
    caller = check_service_request(data, trust=trust, now=now())
    with pytest.raises(SimSoapFault) as info:
        check_care_provider(caller, "39999999001")
    assert info.value.code == "SOA-01002"


def test_refusal_reaches_client_as_typed_error(sim, run):
    ks = load_keystore(sim.pki.dentist_p12, sim.pki.keystore_password)
    token = issue_token(sim.app.trust, ks, nihii=sim.pki.dentist_nihii, ssin=sim.pki.dentist_ssin)
    soap = SoapClient(ca_file=sim.pki.ca, timeout=5)
    sec = HolderOfKeySecurity(token, ks.authentication, clock=lambda: now() - timedelta(hours=1))
    from tests.security.sec_helpers import body

    with pytest.raises(SoapFaultError) as info:
        soap.call(sim.service_url, "urn:test:ping", body(), security=sec, idempotent=False, run=run)
    err = info.value
    assert err.code == "SOA-01001"
    assert err.messages.fr and err.messages.nl and "expired" in err.messages.en
    assert err.exit_code == 3
    assert err.hint and "login" in err.hint
    assert [k for k, _ in run.disturbances] == ["fault"]


def test_assertion_survives_envelope_declaring_saml_prefix(pki, trust):
    """auth-crypto §3.5: an ancestor declaring xmlns:saml must not re-prefix the spliced assertion."""
    from lxml import etree
    from mycarenet_dental.ehealth import saml
    from mycarenet_dental.ehealth.wssecurity import NS_SOAP

    from tests.security.sec_helpers import body

    ks = load_keystore(pki.dentist_p12, pki.keystore_password)
    token = issue_token(trust, ks, nihii=pki.dentist_nihii, ssin=pki.dentist_ssin)
    env = etree.Element(f"{{{NS_SOAP}}}Envelope", nsmap={"soapenv": NS_SOAP, "saml": saml.NS_SAML})
    etree.SubElement(env, f"{{{NS_SOAP}}}Header")
    etree.SubElement(env, f"{{{NS_SOAP}}}Body").append(body())
    data = HolderOfKeySecurity(token, ks.authentication).apply(env)
    assert token.raw in data
    check_service_request(data, trust=trust, now=now())
