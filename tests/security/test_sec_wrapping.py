"""The wrapping-attack corpus (issue 15.4) and SAML comment injection (15.8) against every verifying path.

Paths: the simulator's service check (HoK envelope), the simulator STS (X.509 envelope), ``security
verify`` (both envelopes, the assertion alone) for the SOAP family; the simulator's service check, the
client's STS answer check, ``security verify`` and the persisted-token reload for the SAML family. Each
base message is first shown to be accepted by its path, so a refusal can only come from the attack.
"""

from __future__ import annotations

import base64
import json

import pytest
from lxml import etree
from mycarenet_dental.ehealth import saml
from mycarenet_dental.ehealth.sts import ACTION_WSTRUST, StsClient
from mycarenet_dental.ehealth.tokens import TokenCache, _fingerprint
from mycarenet_dental.ehealth.transport import SoapReply, envelope_for
from mycarenet_dental.ehealth.verify import verify_bytes
from mycarenet_dental.ehealth.wssecurity import X509Security
from mycarenet_dental.errors import MalformedResponseError, SecurityError
from mycarenet_dental.sim.sts import handle_sts_request
from mycarenet_dental.sim.wss_check import SimSoapFault, check_service_request
from mycarenet_dental.xmlsafe import parse_xml

from tests.security import wrapping_corpus as corpus
from tests.security.sec_helpers import load_keystore, now, signed_envelope

SOAP_ATTACKS = corpus.soap_attacks(lambda: _KEY["key"])
SAML_ATTACKS = corpus.saml_attacks()
_KEY: dict[str, object] = {}


@pytest.fixture(scope="module")
def bases(pki, trust):
    ks = load_keystore(pki.dentist_p12, pki.keystore_password)
    _KEY["key"] = ks.authentication.private_key
    hok, token, _ = signed_envelope(pki, trust)
    rst = StsClient("https://sts.invalid", ks, soap=None).wstrust_request(now())
    x509_env = X509Security(ks.authentication).apply(envelope_for(rst))
    answer = handle_sts_request(x509_env, soap_action=ACTION_WSTRUST, trust=trust, now=now())
    return {"hok": hok, "x509": x509_env, "answer": answer, "assertion": token.raw, "keystore": ks}


# --- the verifying paths: True = accepted, False = refused with the path's typed refusal ---------------------


def _sim_service(data, pki, trust, bases):
    try:
        check_service_request(data, trust=trust, now=now())
        return True
    except SimSoapFault as fault:
        assert fault.code == "SOA-01001", fault.message
        return False


def _sim_sts(data, pki, trust, bases):
    try:
        handle_sts_request(data, soap_action=ACTION_WSTRUST, trust=trust, now=now())
        return True
    except SimSoapFault as fault:
        assert fault.code in ("SOA-01001", "SOA-01002"), fault.message
        return False


def _cli(data, pki, trust, bases):
    report = verify_bytes(data, trust=[trust.ca_cert])
    assert report["verdict"] in ("valid", "invalid")
    if report["verdict"] == "invalid":
        for info in report.get("assertions", []):  # 15.8: never show a value cut short by a comment
            for value in info.get("attributes", {}).get(saml.ATTR_DENTIST_NIHII, []):
                assert not (value != pki.dentist_nihii and pki.dentist_nihii.startswith(value)), value
        return False
    return True


class _AnswerSoap:
    """Stands in for the transport: whatever the client sends, the STS answer is ``answer``."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer

    def call(self, url, action, body, *, security=None, idempotent=False, run=None, headers_extra=()):
        security.apply(envelope_for(body))
        env = parse_xml(self.answer)
        child = next(iter(env.find(corpus.BODY).iterchildren(etree.Element)), None)
        return SoapReply(envelope=env, body_child=child, raw=self.answer, status=200)


def _client(data, pki, trust, bases):
    client = StsClient("https://sts.invalid", bases["keystore"], soap=_AnswerSoap(data), trust=(trust.sts_cert,))
    try:
        token = client.request_token()
    except (SecurityError, MalformedResponseError):
        return False
    assert token.attribute(saml.ATTR_DENTIST_NIHII) == pki.dentist_nihii  # accepted: only the genuine value
    return True


class _StsLike:
    def __init__(self, keystore, trust) -> None:
        self.keystore = keystore
        self.trust = (trust.sts_cert,)
        self.allow_sha1 = False


def _token_cache(data, pki, trust, bases):
    ks = bases["keystore"]
    path = bases["tmp"] / "token.json"
    path.write_text(json.dumps({"version": 1, "certificate_sha256": _fingerprint(ks.authentication.certificate),
                                "assertion": base64.b64encode(data).decode(), "signer": None}), "utf-8")
    token = TokenCache(_StsLike(ks, trust), persist_path=path).current
    if token is None:
        return False
    assert token.attribute(saml.ATTR_DENTIST_NIHII) == pki.dentist_nihii
    return True


SOAP_PATHS = {  # path -> base message it verifies
    "sim-service": (_sim_service, "hok"),
    "sim-sts": (_sim_sts, "x509"),
    "cli-hok": (_cli, "hok"),
    "cli-x509": (_cli, "x509"),
}
SAML_PATHS = {
    "sim-service": (_sim_service, "hok"),
    "client-sts-answer": (_client, "answer"),
    "cli-envelope": (_cli, "hok"),
    "cli-assertion": (_cli, "assertion"),
    "token-cache": (_token_cache, "assertion"),
}
STANDALONE = {"assertion"}


def _cases(attacks, paths):
    for path, (_, base) in paths.items():
        for attack in attacks:
            if attack.needs_container and base in STANDALONE:
                continue
            yield pytest.param(path, attack, id=f"{path}-{attack.name}")


@pytest.fixture()
def ctx(bases, tmp_path):
    return {**bases, "tmp": tmp_path}


@pytest.mark.parametrize("path", sorted(set(SOAP_PATHS) | set(SAML_PATHS)))
def test_each_path_accepts_its_genuine_base(path, pki, trust, ctx):
    """Control: the unmodified message passes, re-serialised as the mutations re-serialise it."""
    check, base = (SOAP_PATHS.get(path) or SAML_PATHS[path])
    data = corpus._out(corpus._parse(ctx[base]))
    assert check(data, pki, trust, ctx) is True
    assert check(ctx[base], pki, trust, ctx) is True


@pytest.mark.parametrize(("path", "attack"), list(_cases(SOAP_ATTACKS, SOAP_PATHS)))
def test_soap_wrapping_attack_refused(path, attack, pki, trust, ctx):
    check, base = SOAP_PATHS[path]
    assert check(attack.mutate(ctx[base]), pki, trust, ctx) is False


@pytest.mark.parametrize(("path", "attack"), list(_cases(SAML_ATTACKS, SAML_PATHS)))
def test_saml_wrapping_attack_refused(path, attack, pki, trust, ctx):
    check, base = SAML_PATHS[path]
    assert check(attack.mutate(ctx[base]), pki, trust, ctx) is False


# --- 15.8: the text rule itself ------------------------------------------------------------------------------


def test_comment_split_values_read_as_c14n_sees_them(pki, trust, bases):
    """Reading (not verifying) a comment-split assertion gives the full signed values, never a prefix."""
    for attack, field in (("saml-comment-in-nihii", "nihii"), ("saml-comment-in-nameidentifier", "subject")):
        mutate = next(a for a in SAML_ATTACKS if a.name == attack).mutate
        raw = mutate(bases["assertion"])
        assert b"<!-- -->" in raw
        token = saml.SamlToken.from_bytes(raw)
        genuine = saml.SamlToken.from_bytes(bases["assertion"])
        if field == "nihii":
            assert token.attribute(saml.ATTR_DENTIST_NIHII) == pki.dentist_nihii
        else:
            assert token.subject == genuine.subject and len(token.subject) > 8


def test_comment_injected_assertion_keeps_a_valid_digest_but_is_refused(pki, trust, bases):
    """The STS signature alone does not see the comment: the refusal is the comment rule (SAML_COMMENT)."""
    from mycarenet_dental.ehealth import xmldsig

    mutate = next(a for a in SAML_ATTACKS if a.name == "saml-comment-in-nihii").mutate
    el = parse_xml(mutate(bases["assertion"]))
    sig = el.find(xmldsig.ds("Signature"))
    report = xmldsig.verify(sig, public_key=trust.sts_cert.public_key(), ids={el.get("AssertionID"): el})
    assert report.ok  # the attack is real: the signature still verifies
    with pytest.raises(SecurityError) as info:
        saml.verify_assertion_signature(el, trust=(trust.sts_cert,))
    assert info.value.code == "SAML_COMMENT"


def test_signature_first_attack_keeps_signature_valid_and_reads_by_position(pki, trust, bases):
    """The ds:Object trick leaves the STS signature valid; the reader never takes values from it."""
    from mycarenet_dental.ehealth import xmldsig

    mutate = next(a for a in SAML_ATTACKS if a.name == "saml-signature-first-with-object").mutate
    el = parse_xml(mutate(bases["assertion"]))
    sig = el.find(xmldsig.ds("Signature"))
    report = xmldsig.verify(sig, public_key=trust.sts_cert.public_key(), ids={el.get("AssertionID"): el})
    assert report.ok
    token = saml.parse_assertion(el, raw=b"")
    assert token.attribute(saml.ATTR_DENTIST_NIHII) == pki.dentist_nihii
    assert "attacker" not in token.subject
    with pytest.raises(SecurityError) as info:
        saml.verify_assertion_signature(el, trust=(trust.sts_cert,))
    assert info.value.code == "SAML_SIGNATURE"


def test_timestamp_only_profile_still_verifies_when_asked(pki, trust, tmp_path):
    """GenericAsync signs the Timestamp only: accepted by the async service check and by --timestamp-only."""
    data, _, _ = signed_envelope(pki, trust, timestamp_only=True)
    check_service_request(data, trust=trust, now=now(), timestamp_only=True)
    assert verify_bytes(data, trust=[trust.ca_cert])["verdict"] == "invalid"
    report = verify_bytes(data, trust=[trust.ca_cert], timestamp_only=True)
    assert report["verdict"] == "valid", report["problems"]
    assert any("Body is not signed" in w for w in report["warnings"])


def test_wrapping_refusal_through_the_cli_exit_code(pki, trust, bases, tmp_path):
    from click.testing import CliRunner
    from mycarenet_dental.cli.security_cmds import security_group

    attack = next(a for a in SOAP_ATTACKS if a.name == "xsw7-body-no-id")
    path = tmp_path / "wrapped.xml"
    path.write_bytes(attack.mutate(bases["hok"]))
    result = CliRunner().invoke(security_group, ["verify", str(path), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert any("does not cover Body" in p or "soap:Body" in p for p in report["problems"])



@pytest.mark.parametrize("attack", [a for a in SOAP_ATTACKS if a.name.endswith("-no-id")
                                    or a.name == "timestamp-only-signature-forged-body"], ids=lambda a: a.name)
@pytest.mark.parametrize("base", ["hok", "x509"])
def test_soap_attack_keeps_every_digest_and_the_signature_value_valid(attack, base, ctx):
    """The corpus is real: each moved element still matches its digest and the SignatureValue verifies,
    so only the position rules (one Body/Timestamp, signed in place) can refuse it."""
    from mycarenet_dental.ehealth import wss_verify

    report = wss_verify.inspect(parse_xml(attack.mutate(ctx[base])), policy=wss_verify.WssPolicy(required=frozenset()))
    assert report.signature_report is not None and report.signature_report.ok
    assert {p.code for p in report.problems} <= {"WSS_BODY", "WSS_TIMESTAMP"}


def test_repeated_business_id_attributes_are_not_duplicate_ids(pki, trust, bases):
    """MemberData facets repeat lowercase ``id`` values: only a collision with a signed Id is refused."""
    from mycarenet_dental.ehealth.wssecurity import HolderOfKeySecurity

    payload = etree.Element("{urn:test}Query")
    for facet in ("insurability", "chronic"):
        f = etree.SubElement(payload, "{urn:test}Facet", id=f"urn:facet:{facet}")
        etree.SubElement(f, "{urn:test}Dimension", id="requestType").text = "information"
    token = saml.SamlToken.from_bytes(bases["assertion"])
    data = HolderOfKeySecurity(token, bases["keystore"].authentication).apply(envelope_for(payload))
    check_service_request(data, trust=trust, now=now())
    body_id = parse_xml(data).find(corpus.BODY).get(corpus.WSU_ID)
    clash = data.replace(b'id="requestType"', f'id="{body_id}"'.encode(), 1)
    with pytest.raises(SimSoapFault) as info:  # the same value as the signed Body's Id: ambiguous
        check_service_request(clash, trust=trust, now=now())
    assert "ambiguous" in info.value.message or "appears" in info.value.message


def test_cli_timestamp_only_flag(pki, trust, tmp_path):
    from click.testing import CliRunner
    from mycarenet_dental.cli.security_cmds import security_group

    data, _, _ = signed_envelope(pki, trust, timestamp_only=True)
    path = tmp_path / "async.xml"
    path.write_bytes(data)
    assert CliRunner().invoke(security_group, ["verify", str(path)]).exit_code == 1
    result = CliRunner().invoke(security_group, ["verify", str(path), "--timestamp-only", "--trust", str(pki.ca)])
    assert result.exit_code == 0, result.output
