"""Issue 15 item 1: every insurer answer is authenticated before anything is shown or kept.

Each attack is played by a hostile simulator: the real handler answers, then a wrapper rewrites the
answer the way an attacker on the path (or a confused server) would. Every attack must end in a typed
:class:`AnswerRejected` (exit 3), an audited outcome carrying its code, and nothing kept on the contact.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from mycarenet_dental.ehealth import etee, xades
from mycarenet_dental.ehealth.etk import Etk
from mycarenet_dental.ehealth.keystore import KeyEntry, Keystore
from mycarenet_dental.protocols import answers, commons
from mycarenet_dental.protocols import memberdata as md
from mycarenet_dental.sim import pki
from mycarenet_dental.sim.app import SimResponse
from mycarenet_dental.sim.population import base_population
from mycarenet_dental.sim.sts import SimTrust

BASE = base_population()
A, B = BASE[0].ssin, BASE[2].ssin  # two insured patients of the simulator
SOAP_BODY = "{http://schemas.xmlsoap.org/soap/envelope/}Body"
TARIFF_PATH = "/MyCareNet/Tarification/v1"
GMF_PATH = "/GlobalMedicalFileConsultation/v1"


# -- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def env(mycarenet_simulator_module: Any) -> Any:
    """The module's simulator (``sim`` in this folder is the security tests' own small server)."""
    return mycarenet_simulator_module


@pytest.fixture(scope="module")
def ctx(env: Any) -> Iterator[Any]:
    context = env.context()
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="module")
def dentist_keys(env: Any) -> Keystore:
    return Keystore.load(env.pki.dentist_p12, env.pki.keystore_password)


@pytest.fixture(scope="module")
def trust(env: Any) -> SimTrust:
    return SimTrust.load(env.pki_dir)


@pytest.fixture(scope="module")
def rogue(trust: SimTrust) -> KeyEntry:
    """MyCareNet's exact subject (and a CA with the real CA's name), but a key pair of the attacker's own."""
    now = datetime.now(timezone.utc)
    ca_key = pki.new_key("ec")
    ca = pki.issue(trust.ca_cert.subject, ca_key.public_key(), issuer=None, issuer_key=ca_key, now=now, days=30,
                   ca=True, key_usage="ca")
    key = pki.new_key("rsa")
    assert trust.mycarenet_auth_cert is not None
    cert = pki.issue(trust.mycarenet_auth_cert.subject, key.public_key(), issuer=ca, issuer_key=ca_key, now=now, days=30)
    return KeyEntry(alias="authentication", private_key=key, certificate=cert, chain=(ca,))


@pytest.fixture(scope="module")
def stranger(env: Any) -> KeyEntry:
    """A certificate of the right CA, but someone else's (the billing office's)."""
    return Keystore.load(env.pki.mandatary_p12, env.pki.keystore_password).authentication


def open_contact(ctx: Any, patient: str) -> str:
    try:
        return str(ctx.open_contact(patient).id)
    except Exception:  # noqa: BLE001 - already open in this module: reuse it
        return str(ctx.contacts.resolve(patient, None, user_id=ctx.user_id).id)


# -- the hostile server --------------------------------------------------------------------------------


@contextmanager
def hostile(env: Any, path: str, rewrite: Callable[[Any, etree._Element], None]) -> Iterator[list[Any]]:
    """Let the real handler of ``path`` answer, then ``rewrite(request, body_child)`` its answer in place."""
    routes = env.app.routes[path]
    saved = list(routes)
    seen: list[Any] = []

    def wrap(route: Any) -> Any:
        def handler(request: Any) -> SimResponse:
            response = route.handler(request)
            if response.status != 200:
                return response
            envelope = etree.fromstring(response.body)
            child = next(c for c in envelope.find(SOAP_BODY) if isinstance(c.tag, str))
            rewrite(request, child)
            seen.append(request)
            return attrs.evolve(response, body=etree.tostring(envelope))
        return attrs.evolve(route, handler=handler)

    routes[:] = [wrap(r) for r in saved]
    try:
        yield seen
    finally:
        routes[:] = saved


def _detail(child: etree._Element, flavour: commons.CommonsFlavour) -> etree._Element:
    return child.find(f"{{{flavour.protocol_ns}}}Return/{{{flavour.protocol_ns}}}Detail")


def _set_blob(detail: etree._Element, content: bytes, *, clear: bool = False) -> None:
    """Put ``content`` in the Blob as an attacker would: recomputing its HashValue."""
    detail.text = base64.b64encode(content).decode()
    detail.set("ContentEncoding", "none")
    detail.set("HashValue", base64.b64encode(hashlib.sha256(content).digest()).decode())
    if clear:
        for name in ("ContentEncryption", "Etk"):
            detail.attrib.pop(name, None)


def _unseal_answer(detail: etree._Element, keys: Keystore) -> bytes:
    blob = commons.parse_blob(detail)
    return md.parse_known_content(etee.unseal(blob.content, recipient_keys=list(keys.encryption_keys)).content).business


def _reseal(saml: bytes, sender: KeyEntry, env: Any) -> bytes:
    recipient = Etk.parse(env.pki.dentist_etk.read_bytes())
    return etee.seal(md.known_content(md.KnownContent(business=saml)), sender=sender, recipients=[recipient])


def _request_ids(request: Any) -> tuple[str, str]:
    body = request.body_element
    ref = body.find(f".//{{{commons.V3.core_ns}}}InputReference")
    return body.get("Id"), ref.text


def _set_envelope_ids(child: etree._Element, request_id: str, input_reference: str) -> None:
    child.set("InResponseTo", request_id)
    child.find(f".//{{{commons.V3.core_ns}}}InputReference").text = input_reference


# -- what every rejection must leave behind ------------------------------------------------------------


def assert_rejected(ctx: Any, info: pytest.ExceptionInfo[Any], code: str, *, kind: str, contact: str) -> None:
    err = info.value
    assert isinstance(err, answers.AnswerRejected) and err.code == code and err.exit_code == 3
    assert ctx.log.find(kind=kind, contact_id=contact) == []  # nothing kept on the contact
    outcome = [e for e in ctx.audit.entries(kind="outcome") if e.contact_id == contact][-1]
    assert (outcome.outcome, outcome.code) == ("failed", code)  # audited


def _consult_mda(ctx: Any, patient: str, *, sealed: bool = True) -> tuple[Any, str]:
    from mycarenet_dental_assurability import consult_insurability

    contact = open_contact(ctx, patient)
    return consult_insurability(ctx, ctx.contact(contact), sealed=sealed), contact


# -- MemberData ------------------------------------------------------------------------------------------


def test_happy_path_sealed_answer_is_authenticated(ctx: Any) -> None:
    result, contact = _consult_mda(ctx, A)
    assert result.insured and ctx.log.find(kind="assurability.consultation", contact_id=contact)
    outcome = [e for e in ctx.audit.entries(kind="outcome") if e.contact_id == contact][-1]
    assert outcome.detail["references"]["answer_authentication"] == "etee"


def test_replay_of_patient_a_sealed_answer_for_b_is_refused(env: Any, ctx: Any) -> None:
    recorded: dict[str, etree._Element] = {}

    def record(request: Any, child: etree._Element) -> None:
        recorded["a"] = etree.fromstring(etree.tostring(child))

    with hostile(env, md.PATH, record):
        _consult_mda(ctx, A)

    def replay(request: Any, child: etree._Element) -> None:
        # A's whole answer, its (unsigned) envelope ids rewritten to B's request
        old = recorded["a"]
        for el in list(child):
            child.remove(el)
        for el in old:
            child.append(etree.fromstring(etree.tostring(el)))
        _set_envelope_ids(child, *_request_ids(request))

    contact = open_contact(ctx, B)
    with hostile(env, md.PATH, replay), pytest.raises(answers.AnswerRejected) as info:
        from mycarenet_dental_assurability import consult_insurability

        consult_insurability(ctx, ctx.contact(contact))
    assert_rejected(ctx, info, "ANSWER_IN_RESPONSE_TO", kind="assurability.consultation", contact=contact)


def test_replay_of_patient_a_clear_answer_for_b_is_refused(env: Any, ctx: Any) -> None:
    """Clear answers are unsigned: the attacker can even fix every id; the patient check still catches it."""
    recorded: dict[str, bytes] = {}

    def record(request: Any, child: etree._Element) -> None:
        recorded["saml"] = commons.parse_blob(_detail(child, commons.V3)).content

    with hostile(env, md.PATH, record):
        _consult_mda(ctx, A, sealed=False)

    def replay(request: Any, child: etree._Element) -> None:
        request_id, input_reference = _request_ids(request)
        query = etree.fromstring(commons.parse_blob(request.body_element.find(
            f"{{{commons.V3.protocol_ns}}}Detail")).content)
        saml = recorded["saml"].replace(re.search(rb'InResponseTo="([^"]+)"', recorded["saml"]).group(1),
                                        query.get("ID").encode())
        _set_blob(_detail(child, commons.V3), saml)
        _set_envelope_ids(child, request_id, input_reference)

    contact = open_contact(ctx, B)
    with hostile(env, md.PATH, replay), pytest.raises(answers.AnswerRejected) as info:
        from mycarenet_dental_assurability import consult_insurability

        consult_insurability(ctx, ctx.contact(contact), sealed=False)
    assert_rejected(ctx, info, "ANSWER_PATIENT", kind="assurability.consultation", contact=contact)


def test_unsealed_unsigned_answer_to_a_sealed_request_is_refused(env: Any, ctx: Any, dentist_keys: Keystore) -> None:
    def strip_seal(request: Any, child: etree._Element) -> None:
        detail = _detail(child, commons.V3)
        _set_blob(detail, _unseal_answer(detail, dentist_keys), clear=True)

    contact = open_contact(ctx, BASE[1].ssin)
    with hostile(env, md.PATH, strip_seal), pytest.raises(answers.AnswerRejected) as info:
        from mycarenet_dental_assurability import consult_insurability

        consult_insurability(ctx, ctx.contact(contact))
    assert_rejected(ctx, info, "ANSWER_NOT_SEALED", kind="assurability.consultation", contact=contact)


@pytest.mark.parametrize(("signer", "code"), [("rogue", "ANSWER_SIGNER_UNTRUSTED"),
                                              ("stranger", "ANSWER_SIGNER_IDENTITY")])
def test_answer_sealed_by_another_certificate_is_refused(env: Any, ctx: Any, dentist_keys: Keystore,
                                                         request: pytest.FixtureRequest, signer: str,
                                                         code: str) -> None:
    """A rogue CA's certificate with MyCareNet's subject (CT codes altered), or the right CA's certificate of
    someone else: the seal opens, but the signer is not MyCareNet."""
    key = request.getfixturevalue(signer)

    def reseal(req: Any, child: etree._Element) -> None:
        detail = _detail(child, commons.V3)
        saml = _unseal_answer(detail, dentist_keys)
        forged = re.sub(rb'(Name="urn:be:cin:nippin:cb1"[^>]*>\s*<(?:\w+:)?AttributeValue[^>]*>)\d+', rb"\g<1>999", saml)
        assert forged != saml  # the CT1 code is altered
        _set_blob(detail, _reseal(forged, key, env))
        detail.set("ContentEncryption", md.ENCRYPTED_RESPONSE)

    contact = open_contact(ctx, BASE[3].ssin)
    with hostile(env, md.PATH, reseal), pytest.raises(answers.AnswerRejected) as info:
        from mycarenet_dental_assurability import consult_insurability

        consult_insurability(ctx, ctx.contact(contact))
    assert_rejected(ctx, info, code, kind="assurability.consultation", contact=contact)


def test_mda_in_response_to_mismatch_is_refused(env: Any, ctx: Any) -> None:
    contact = open_contact(ctx, BASE[5].ssin)
    with hostile(env, md.PATH, lambda req, child: child.set("InResponseTo", "_someone-else")), \
            pytest.raises(answers.AnswerRejected) as info:
        from mycarenet_dental_assurability import consult_insurability

        consult_insurability(ctx, ctx.contact(contact))
    assert_rejected(ctx, info, "ANSWER_IN_RESPONSE_TO", kind="assurability.consultation", contact=contact)


def test_mda_answer_for_another_period_is_refused() -> None:
    query = md.AttributeQuery(id="_q", issuer="1", subject=md.SubjectRef.ssin(A), facets=[md.Facet(md.FACET_GMF)],
                              start=date(2026, 1, 1), end=date(2026, 1, 31), issue_instant=datetime.now())

    def response(nb: datetime, na: datetime, who: str = A) -> md.MdaResponse:
        return md.MdaResponse(id="_r", in_response_to="_q", issuer="urn:be:cin:io:100", status=md.STATUS_SUCCESS,
                              assertions=[md.Assertion(id="_a", issuer=None, assertion_type=None, name_id=who,
                                                       name_id_format=md.FORMAT_SSIN, not_before=nb,
                                                       not_on_or_after=na)])

    md.check_answer_subject(response(datetime(2026, 1, 1), datetime(2026, 2, 1)), query)  # exactly the question
    with pytest.raises(answers.AnswerRejected) as info:
        md.check_answer_subject(response(datetime(2025, 1, 1), datetime(2025, 2, 1)), query)
    assert info.value.code == "ANSWER_PERIOD"
    with pytest.raises(answers.AnswerRejected) as info:
        md.check_answer_subject(response(datetime(2026, 1, 1), datetime(2026, 2, 1), who=B), query)
    assert info.value.code == "ANSWER_PATIENT"


def test_genins_answer_about_another_patient_is_refused(env: Any, ctx: Any) -> None:
    """GenericInsurability answers are unsigned (TLS only): an answer naming another patient is refused."""
    from mycarenet_dental_assurability import consult_insurability
    from mycarenet_dental_assurability.genins import NS_C, PATH

    def other_patient(request: Any, child: etree._Element) -> None:
        child.find(f".//{{{NS_C}}}CareReceiverDetail/{{{NS_C}}}Inss").text = A

    contact = open_contact(ctx, BASE[1].ssin)
    with hostile(env, PATH, other_patient), pytest.raises(answers.AnswerRejected) as info:
        consult_insurability(ctx, ctx.contact(contact), backend="genins")
    assert_rejected(ctx, info, "ANSWER_PATIENT", kind="assurability.consultation", contact=contact)


# -- Tarification ------------------------------------------------------------------------------------


def _consult_tariff(ctx: Any, patient: str) -> tuple[Any, str]:
    from mycarenet_dental_tariff import consult_tariff

    contact = open_contact(ctx, patient)
    return consult_tariff(ctx, ctx.contact(contact), ["301011"]), contact


def _forge_amounts(child: etree._Element) -> bytes:
    detail = _detail(child, commons.V2)
    content = commons.parse_blob(detail).content
    forged = re.sub(rb"(<(?:\w+:)?decimal>)[0-9.]+(</(?:\w+:)?decimal>)", rb"\g<1>999.99\g<2>", content)
    assert forged != content
    _set_blob(detail, forged)
    return forged


def test_tariff_happy_path_is_signed(ctx: Any) -> None:
    result, contact = _consult_tariff(ctx, BASE[0].ssin)
    assert result.lines and ctx.log.find(kind="tariff.consultation", contact_id=contact)
    outcome = [e for e in ctx.audit.entries(kind="outcome") if e.contact_id == contact][-1]
    assert outcome.detail["references"]["answer_authentication"] == "xades"


@pytest.mark.parametrize(("tamper", "code"), [
    ("keep-signature", "ANSWER_SIGNATURE"),  # amounts changed, HashValue recomputed, XadesT left as it was
    ("drop-signature", "ANSWER_UNSIGNED"),  # ... and the now-failing XadesT removed (missing signer)
    ("rogue-signature", "ANSWER_SIGNER_UNTRUSTED"),  # ... and re-signed with a rogue CA's MyCareNet certificate
])
def test_forged_tariff_amounts_are_refused(env: Any, ctx: Any, rogue: KeyEntry, tamper: str, code: str) -> None:
    def forge(request: Any, child: etree._Element) -> None:
        forged = _forge_amounts(child)
        xt = child.find(f"{{{commons.V2.protocol_ns}}}Return/{{{commons.V2.protocol_ns}}}XadesT")
        if tamper == "drop-signature":
            xt.getparent().remove(xt)
        elif tamper == "rogue-signature":
            xt.text = base64.b64encode(xades.sign_blob(forged, key=rogue, blob_id="blob",
                                                       content_type="text/xml")).decode()

    from mycarenet_dental_tariff import consult_tariff

    contact = open_contact(ctx, BASE[1].ssin)
    with hostile(env, TARIFF_PATH, forge), pytest.raises(answers.AnswerRejected) as info:
        consult_tariff(ctx, ctx.contact(contact), ["301011"])
    assert_rejected(ctx, info, code, kind="tariff.consultation", contact=contact)


def test_forged_tariff_from_the_cli_exits_3_and_prints_no_amount(env: Any, ctx: Any, capsys: Any) -> None:
    from mycarenet_dental.cli.main import main

    patient = BASE[3].ssin
    contact = open_contact(ctx, patient)
    with hostile(env, TARIFF_PATH, lambda req, child: _forge_amounts(child)):
        with pytest.raises(SystemExit) as done:
            main(["--config", str(env.config_path), "tariff", "--patient", patient, "--service", "301011",
                  "--contact", contact])
    assert done.value.code == 3
    out = capsys.readouterr()
    assert "999" not in out.out and "ANSWER_SIGNATURE" in out.out + out.err
    assert ctx.log.find(kind="tariff.consultation", contact_id=contact) == []


def test_tariff_in_response_to_mismatch_is_refused(env: Any, ctx: Any) -> None:
    from mycarenet_dental_tariff import consult_tariff

    contact = open_contact(ctx, BASE[2].ssin)
    with hostile(env, TARIFF_PATH, lambda req, child: child.set("InResponseTo", "_not-ours")), \
            pytest.raises(answers.AnswerRejected) as info:
        consult_tariff(ctx, ctx.contact(contact), ["301011"])
    assert_rejected(ctx, info, "ANSWER_IN_RESPONSE_TO", kind="tariff.consultation", contact=contact)


def test_production_profile_accepts_an_unsigned_tariff_answer_but_not_a_bad_signature(ctx: Any) -> None:
    """The real Tarification service sends no XadesT (FH neededxadeslevel=none): TLS authenticates it."""
    trust = answers.answer_trust(ctx)
    answers._TRUST[ctx] = attrs.evolve(trust, xades={**trust.xades, "tariff": ctx.services["tariff"].answer_xades})
    try:
        assert answers.verify_xades(ctx, "tariff", content=b"<a/>", signature=None, at=ctx.now()) is False
        with pytest.raises(answers.AnswerRejected) as info:
            answers.verify_xades(ctx, "tariff", content=b"<a/>", signature=b"<broken/>", at=ctx.now())
        assert info.value.code == "ANSWER_SIGNATURE"
    finally:
        answers._TRUST[ctx] = trust


# -- GMF consultation (DMG route B) --------------------------------------------------------------------


def test_gmf_answer_without_its_signature_is_refused(env: Any, ctx: Any) -> None:
    from mycarenet_dental_dmg import consult_dmg

    def strip(request: Any, child: etree._Element) -> None:
        xt = child.find(f"{{{commons.GMF.protocol_ns}}}Return/{{{commons.GMF.protocol_ns}}}XadesT")
        xt.getparent().remove(xt)

    patient = BASE[0].ssin
    contact = open_contact(ctx, patient)
    assert consult_dmg(ctx, ctx.contact(contact), route="gmf", consent=True) is not None  # signed: accepted
    with hostile(env, GMF_PATH, strip), pytest.raises(answers.AnswerRejected) as info:
        consult_dmg(ctx, ctx.contact(contact), route="gmf", consent=True)
    assert info.value.code == "ANSWER_UNSIGNED" and info.value.exit_code == 3


# -- GenericAsync (eFact get) --------------------------------------------------------------------------


def _get_response(content: bytes, signature: bytes | None) -> etree._Element:
    from mycarenet_dental_billing.genasync import deflate_raw, ga, sha256_b64

    root = etree.Element(ga("getResponse"))
    ret = etree.SubElement(root, ga("return"))
    m = etree.SubElement(ret, ga("MsgResponse"))
    detail = etree.SubElement(m, ga("Detail"))
    detail.set("ContentEncoding", "deflate")
    detail.set("ContentType", "text/plain")
    detail.set("HashValue", sha256_b64(content))
    detail.text = base64.b64encode(deflate_raw(content)).decode()
    if signature is not None:
        etree.SubElement(m, ga("Xades-t")).text = base64.b64encode(signature).decode()
    return root


@pytest.mark.parametrize("case", ["genuine", "marker", "forged", "rogue", "missing"])
def test_genasync_messages_must_carry_mycarenet_signature(ctx: Any, trust: SimTrust, rogue: KeyEntry,
                                                          case: str) -> None:
    from mycarenet_dental_billing.genasync import authenticate_get, deflate_raw

    content = b"931000" + b"0" * 221
    genuine = xades.sign_blob(deflate_raw(content), key=trust.answer_signer(), blob_id="msg", content_type="text/plain")
    signed_content, signature = {
        "genuine": (content, genuine),
        "marker": (content, b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/>'),  # the old simulator
        "forged": (b"931000" + b"9" * 221, genuine),  # content changed, HashValue recomputed
        "rogue": (content, xades.sign_blob(deflate_raw(content), key=rogue, blob_id="msg", content_type="text/plain")),
        "missing": (content, None),
    }[case]
    body = _get_response(signed_content, signature)
    if case == "genuine":
        authenticate_get(ctx, body)
        return
    with pytest.raises(answers.AnswerRejected) as info:
        authenticate_get(ctx, body)
    assert info.value.code in {"marker": ("ANSWER_SIGNATURE",), "forged": ("ANSWER_SIGNATURE",),
                               "rogue": ("ANSWER_SIGNER_UNTRUSTED",), "missing": ("ANSWER_UNSIGNED",)}[case]


# -- the checks themselves ----------------------------------------------------------------------------


def test_missing_signer_is_refused(ctx: Any) -> None:
    with pytest.raises(answers.AnswerRejected) as info:
        answers.check_signer(ctx, None, service="assurability", at=ctx.now())
    assert info.value.code == "ANSWER_UNSIGNED"


def test_chain_through_an_intermediate_and_expired_signer(trust: SimTrust) -> None:
    now = datetime.now(timezone.utc)
    sub_key = pki.new_key("ec256")
    sub = pki.issue(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "issuing CA 002")]),
                    sub_key.public_key(), issuer=trust.ca_cert, issuer_key=trust.ca_key, now=now, days=30, ca=True,
                    key_usage="ca")
    leaf_key = pki.new_key("ec256")
    leaf = pki.issue(trust.mycarenet_auth_cert.subject, leaf_key.public_key(), issuer=sub, issuer_key=sub_key,
                     now=now, days=30)
    answers.verify_chain(leaf, [trust.ca_cert], at=now, intermediates=[sub])
    with pytest.raises(answers.AnswerRejected) as info:
        answers.verify_chain(leaf, [trust.ca_cert], at=now)  # the intermediate is not known
    assert info.value.code == "ANSWER_SIGNER_UNTRUSTED"
    with pytest.raises(answers.AnswerRejected) as info:
        answers.verify_chain(leaf, [trust.ca_cert], at=now + timedelta(days=60), intermediates=[sub])
    assert info.value.code == "ANSWER_SIGNER_EXPIRED"
    assert answers.cbe_of(trust.mycarenet_auth_cert) == answers.MYCARENET_CBE


def test_patient_and_period_checks() -> None:
    answers.check_patient(asked_ssin=A, answer_ssin=A, service="t")
    for kwargs in ({"asked_ssin": A, "answer_ssin": B}, {"asked_ssin": A},
                   {"asked_registration": "123", "asked_mutuality": "319", "answer_registration": "124"},
                   {"asked_registration": "123", "asked_mutuality": "319", "answer_registration": "123",
                    "answer_mutuality": "216"}):
        with pytest.raises(answers.AnswerRejected) as info:
            answers.check_patient(service="t", **kwargs)
        assert info.value.code == "ANSWER_PATIENT"
    answers.check_period(asked_start=date(2026, 1, 1), asked_end=date(2026, 1, 31), answer_start=date(2026, 1, 5),
                         answer_end=date(2026, 1, 31), service="t")
    with pytest.raises(answers.AnswerRejected):
        answers.check_period(asked_start=date(2026, 1, 1), asked_end=date(2026, 1, 31),
                             answer_start=date(2025, 12, 1), answer_end=None, service="t")


def test_no_trust_anchor_is_a_config_error(make_context: Any) -> None:
    """Without [security] ehealth_ca (nor, in the simulator profile, [endpoints] ca_file) no answer signer
    can be trusted: a usage error (exit 2) names the setting instead of accepting the answer."""
    from mycarenet_dental.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        answers.check_signer(make_context(), pki_leaf(), service="t", at=datetime.now(timezone.utc))
    assert info.value.location == "[security] ehealth_ca" and info.value.exit_code == 2


def test_unsigned_answers_need_a_pinned_tls_ca_outside_the_simulator(make_context: Any, tmp_path: Any) -> None:
    """Tarification, GenericInsurability, clear MemberData and the eFact post answer are unsigned at the real
    service: they are accepted only over TLS pinned to [endpoints] ca_file (not the public bundle)."""
    from mycarenet_dental.errors import ConfigError

    production = make_context(profile="production")
    with pytest.raises(ConfigError) as info:
        answers.verify_xades(production, "tariff", content=b"<a/>", signature=None, at=datetime.now(timezone.utc))
    assert info.value.location == "[endpoints] ca_file"
    ca = tmp_path / "ehealth-tls-ca.pem"
    ca.write_bytes(pki_leaf().public_bytes(serialization.Encoding.PEM))  # the config loader checks it is PEM
    pinned = make_context(profile="production", endpoints={"ca_file": str(ca)})
    assert answers.verify_xades(pinned, "tariff", content=b"<a/>", signature=None, at=datetime.now(timezone.utc)) is False
    with pytest.raises(ConfigError):
        answers.tls_only(production, "assurability")
    # checked before sending too: nothing leaves when the answer could not be authenticated afterwards
    with pytest.raises(ConfigError) as info:
        answers.preflight(production, "tariff")
    assert info.value.location == "[endpoints] ca_file"
    answers.preflight(pinned, "tariff")
    with pytest.raises(ConfigError) as info:
        answers.preflight(pinned, "billing", signed=True)  # signed answers need the eHealth CA
    assert info.value.location == "[security] ehealth_ca"


def pki_leaf() -> x509.Certificate:
    key = pki.new_key("ec256")
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "CBE=0820563481")])
    return pki.issue(name, key.public_key(), issuer=None, issuer_key=key, now=datetime.now(timezone.utc), days=1)
