"""Issues 15.2 and 12.6: ETKs are verified before use, ``MatchingEtk`` answers are followed, and the
simulated depot's ``GetEtkResponse`` follows the official depot schema.

A hostile depot answer (an attacker's ETK for MyCareNet) must end in a typed SecurityError with nothing
cached, and no MemberData request sealed or sent.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import attrs
import pytest
from cryptography import x509
from lxml import etree
from mycarenet_dental.ehealth.etk import ETKDEPOT_NS, Etk, build_etk, build_get_etk_request
from mycarenet_dental.ehealth.keystore import Keystore
from mycarenet_dental.ehealth.session import SecuritySession
from mycarenet_dental.ehealth.transport import SoapClient
from mycarenet_dental.errors import SecurityError
from mycarenet_dental.sim import schemas
from mycarenet_dental.sim.etk_depot import handle_etk_request
from mycarenet_dental.sim.pki import (
    MYCARENET_APPLICATION,
    MYCARENET_CBE,
    issue,
    load_pem_cert,
    load_pem_key,
    new_key,
    organisation_subject,
)

COMMONS_CORE_1_0 = "urn:be:fgov:ehealth:commons:1_0:core"
MCN = ("CBE", MYCARENET_CBE, MYCARENET_APPLICATION)
NOW = datetime.now(timezone.utc)


def _session(sim: Any, tmp_path: Any, **kw: Any) -> SecuritySession:
    soap = SoapClient(ca_file=sim.pki.ca, timeout=5)
    kw.setdefault("etk_trust_anchor", sim.pki.ca)
    return SecuritySession(keystore_path=sim.pki.dentist_p12, password=sim.pki.keystore_password,
                           sts_url=sim.sts_url, soap=soap, trust_anchor=sim.pki.sts_cert,
                           token_cache_path=tmp_path / "t.json", etk_depot_url=sim.etk_url, **kw)


@contextmanager
def depot_serving(sim: Any, etks: dict[tuple[str, str, str | None], bytes],
                  without: tuple[tuple[str, str, str | None], ...] = ()) -> Iterator[None]:
    """The (simulated) depot publishes ``etks`` on top of its own (less ``without``) during the block."""
    original = sim.app.trust
    kept = {k: v for k, v in original.etks.items() if k not in without}
    sim.app.trust = attrs.evolve(original, etks={**kept, **etks})
    try:
        yield
    finally:
        sim.app.trust = original


def _depot_answer(trust: Any, id_type: str, value: str, app: str | None = None) -> etree._Element:
    env = etree.Element("{http://schemas.xmlsoap.org/soap/envelope/}Envelope")
    etree.SubElement(env, "{http://schemas.xmlsoap.org/soap/envelope/}Body").append(
        build_get_etk_request(id_type, value, app))
    answer = etree.fromstring(handle_etk_request(etree.tostring(env), trust=trust))
    return answer[0][0]


def _ra(pki: Any) -> tuple[Any, x509.Certificate]:
    return load_pem_key(pki.etk_ra_key), load_pem_cert(pki.etk_ra_cert)


# -- the simulated depot's answer --------------------------------------------------------------------------


@pytest.mark.parametrize("query", [MCN, ("CBE", "0999999999", None), ("SSIN", "DENTIST", "MULTI")],
                         ids=["etk", "not-found", "matching"])
def test_depot_answer_follows_the_official_schema(trust: Any, pki: Any, query: tuple[str, str, str | None]) -> None:
    id_type, value, app = query
    if value == "DENTIST":  # the dentist's SSIN only with ApplicationIDs: a query without one gets MatchingEtk
        etks = {k: v for k, v in trust.etks.items() if k != ("SSIN", pki.dentist_ssin, None)}
        etks[("SSIN", pki.dentist_ssin, "APP1")] = etks[("SSIN", pki.dentist_ssin, "APP2")] = \
            pki.dentist_etk.read_bytes()
        trust = attrs.evolve(trust, etks=etks)
        value, app = pki.dentist_ssin, None
    resp = _depot_answer(trust, id_type, value, app)
    status = resp[0]
    assert etree.QName(status).namespace == COMMONS_CORE_1_0 and etree.QName(status).localname == "Status"
    assert [c.tag for c in status] == ["Code", "Message"]  # unqualified, as commons core 1.0 declares them
    assert status[1].get("Lang") == "EN" and resp.get("IssueInstant") is None
    compiled = schemas.schema("etkdepot")
    if compiled is not None:  # the official depot schema, where the shared schema folder has it
        assert compiled.validate(resp), compiled.error_log
    if value == pki.dentist_ssin:
        matches = resp.findall(f"{{{ETKDEPOT_NS}}}MatchingEtk")
        assert len(matches) == 2 and resp.find(f"{{{ETKDEPOT_NS}}}ETK") is None


# -- MatchingEtk is followed ---------------------------------------------------------------------------------


def test_matching_etks_are_followed_and_each_verified(sim: Any, tmp_path: Any, pki: Any) -> None:
    dentist = Keystore.load(pki.dentist_p12, pki.keystore_password)
    second_key = new_key("rsa")
    second_enc = issue(dentist.authentication.certificate.subject, second_key.public_key(),
                       issuer=dentist.authentication.certificate, issuer_key=dentist.authentication.private_key,
                       now=NOW, days=400, key_usage="enc")
    ra_key, ra_cert = _ra(pki)
    second = build_etk(second_enc, owner_certificate=dentist.authentication.certificate, ra_key=ra_key,
                       ra_certificate=ra_cert)
    published = {("SSIN", pki.dentist_ssin, "DENTAL"): pki.dentist_etk.read_bytes(),
                 ("SSIN", pki.dentist_ssin, "OTHERAPP"): second}
    with depot_serving(sim, published, without=(("SSIN", pki.dentist_ssin, None),)):
        session = _session(sim, tmp_path)
        calls = session.soap.calls
        found = session.etks("SSIN", pki.dentist_ssin)
        assert sorted(e.raw for e in found) == sorted([pki.dentist_etk.read_bytes(), second])
        assert session.soap.calls - calls == 3  # the query, then one follow-up per MatchingEtk
        # our own (reply-to) ETK is the one our keystore can decrypt for
        assert session.etk("SSIN", pki.dentist_ssin).raw == pki.dentist_etk.read_bytes()


# -- hostile depot answers -------------------------------------------------------------------------------------


def _attacker_etk(other_pki: Any) -> bytes:
    """An ETK for MyCareNet's CBE/application made with the attacker's own CA and RA."""
    return other_pki.mycarenet_etk.read_bytes()


def _insider_etk(pki: Any) -> bytes:
    """A genuine ETK of another eHealth participant (the mandatary), served as MyCareNet's."""
    return pki.mandatary_etk.read_bytes()


def _leaf_as_ca_etk(pki: Any) -> bytes:
    """A participant uses its own (CA-issued, non-CA) certificate to issue a 'MyCareNet' owner certificate."""
    insider = Keystore.load(pki.mandatary_p12, pki.keystore_password).authentication
    fake_owner_key = new_key("rsa")
    fake_owner = issue(organisation_subject(MYCARENET_CBE, "MyCareNet", MYCARENET_APPLICATION),
                       fake_owner_key.public_key(), issuer=insider.certificate, issuer_key=insider.private_key,
                       now=NOW, days=400)
    enc_key = new_key("rsa")
    enc = issue(fake_owner.subject, enc_key.public_key(), issuer=fake_owner, issuer_key=fake_owner_key, now=NOW,
                days=400, key_usage="enc")
    ra_key, ra_cert = _ra(pki)  # even with the real RA's signature
    return build_etk(enc, owner_certificate=fake_owner, ra_key=ra_key, ra_certificate=ra_cert,
                     extra_certificates=(insider.certificate,))


@pytest.mark.parametrize(("make", "code"), [
    (lambda pki, other: _attacker_etk(other), "ETK_UNTRUSTED"),
    (lambda pki, other: _insider_etk(pki), "ETK_IDENTITY"),
    (lambda pki, other: _leaf_as_ca_etk(pki), "ETK_UNTRUSTED"),
], ids=["attacker-pki", "other-participant", "leaf-as-ca"])
def test_hostile_depot_answer_is_refused_and_not_cached(sim: Any, tmp_path: Any, pki: Any, other_pki: Any,
                                                         make: Any, code: str) -> None:
    with depot_serving(sim, {MCN: make(pki, other_pki)}):
        session = _session(sim, tmp_path)
        with pytest.raises(SecurityError) as info:
            session.etk(*MCN)
        assert info.value.code == code
        assert session._etks == {}  # only verified ETKs are ever cached
    assert session.etk(*MCN).raw == pki.mycarenet_etk.read_bytes()  # the genuine one is fetched afresh


def test_no_etk_trust_anchor_is_a_typed_error(sim: Any, tmp_path: Any) -> None:
    session = _session(sim, tmp_path, etk_trust_anchor=None)
    with pytest.raises(SecurityError) as info:
        session.etk(*MCN)
    assert info.value.code == "ETK_TRUST" and session._etks == {}


def test_etk_verify_for_checks_owner_identity(pki: Any) -> None:
    etk = Etk.parse(pki.mycarenet_etk.read_bytes())
    ca = [load_pem_cert(pki.ca)]
    etk.verify_for(*MCN, trust=ca)
    etk.verify_for("CBE", "820563481", None, trust=ca)  # CBE without its leading zero, any application
    with pytest.raises(SecurityError) as info:
        etk.verify_for("CBE", MYCARENET_CBE, "OTHERAPP", trust=ca)
    assert info.value.code == "ETK_IDENTITY"
    with pytest.raises(SecurityError) as info:
        etk.verify_for("SSIN", pki.dentist_ssin, None, trust=ca)
    assert info.value.code == "ETK_IDENTITY"


def test_hostile_depot_nothing_sealed_or_sent(mycarenet_simulator: Any, other_pki: Any) -> None:
    """End to end: an insurability consultation with a hostile MyCareNet ETK stops before any send."""
    from mycarenet_dental_assurability import consult_insurability

    env = mycarenet_simulator
    state = env.state
    state._trust = attrs.evolve(state.trust, etks={**state.trust.etks, MCN: _attacker_etk(other_pki)})
    ctx = env.context()
    patient = "85073003328"
    contact = ctx.open_contact(patient).id
    with pytest.raises(SecurityError) as info:
        consult_insurability(ctx, ctx.contact(contact))
    assert info.value.code == "ETK_UNTRUSTED"
    from mycarenet_dental.protocols import memberdata

    assert state.counters.get(f"requests:{memberdata.PATH}", 0) == 0  # nothing reached MemberData
    assert state.counters.get("memberdata:requests", 0) == 0
    assert all(k[0] != "CBE" for k in ctx.security._etks)


def test_depot_etk_base64_roundtrip(trust: Any, pki: Any) -> None:
    resp = _depot_answer(trust, *MCN)
    assert base64.b64decode(resp.findtext(f"{{{ETKDEPOT_NS}}}ETK")) == pki.mycarenet_etk.read_bytes()


def test_among_matching_etks_only_verified_ones_are_kept(sim: Any, tmp_path: Any, pki: Any, other_pki: Any) -> None:
    published = {("SSIN", pki.dentist_ssin, "DENTAL"): pki.dentist_etk.read_bytes(),
                 ("SSIN", pki.dentist_ssin, "EVIL"): other_pki.dentist_etk.read_bytes()}
    with depot_serving(sim, published, without=(("SSIN", pki.dentist_ssin, None),)):
        session = _session(sim, tmp_path)
        found = session.etks("SSIN", pki.dentist_ssin)
        assert [e.raw for e in found] == [pki.dentist_etk.read_bytes()]
        assert [e.raw for e in session._etks[("SSIN", pki.dentist_ssin, None)]] == [pki.dentist_etk.read_bytes()]


def test_owner_chain_through_an_intermediate_ca_carried_in_the_etk() -> None:
    """As real ETKs: owner certificate from an intermediate CA (carried in the ETK), anchor = the root only."""
    from mycarenet_dental.sim.pki import person_subject

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, cn)])

    root_key, inter_key, ra_key, owner_key, enc_key = (new_key("ec256"), new_key("ec256"), new_key("ec256"),
                                                       new_key("rsa"), new_key("rsa"))
    root = issue(name("Root"), root_key.public_key(), issuer=None, issuer_key=root_key, now=NOW, days=30, ca=True,
                 key_usage="ca")
    inter = issue(name("Government CA"), inter_key.public_key(), issuer=root, issuer_key=root_key, now=NOW, days=30,
                  ca=True, key_usage="ca")
    ra = issue(name("ETK-RA"), ra_key.public_key(), issuer=root, issuer_key=root_key, now=NOW, days=30,
               key_usage="sign")
    owner = issue(person_subject("85073003328", "Anne Simulaar"), owner_key.public_key(), issuer=inter,
                  issuer_key=inter_key, now=NOW, days=30)
    enc = issue(owner.subject, enc_key.public_key(), issuer=owner, issuer_key=owner_key, now=NOW, days=30,
                key_usage="enc")
    etk = Etk.parse(build_etk(enc, owner_certificate=owner, ra_key=ra_key, ra_certificate=ra,
                              extra_certificates=(inter, root)))
    etk.verify_for("SSIN", "85073003328", trust=[root])
    with pytest.raises(SecurityError) as info:  # without the intermediate, the owner does not chain
        Etk.parse(build_etk(enc, owner_certificate=owner, ra_key=ra_key, ra_certificate=ra)).verify_for(
            "SSIN", "85073003328", trust=[root])
    assert info.value.code == "ETK_UNTRUSTED"
