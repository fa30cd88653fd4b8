"""Issue 12.9: every answer the simulator builds validates against the official schemas.

One tour drives each simulated service over TLS with the real clients (STS WS-Trust and legacy SAMLP,
ETK depot, MemberData, Tarification, GMF, GenericAsync post/get/confirm, plus refusals and SOAP faults),
records every answer the simulator sends, and validates each SOAP body child — and each decoded blob —
against the schema of ``../shared/xsd`` that defines it. An answer of a kind no schema covers fails the
test, so a new answer cannot escape the check; the twin cannot drift from the real wire format.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from lxml import etree
from mycarenet_dental.ehealth.etk import ETKDEPOT_NS
from mycarenet_dental.ehealth.sts import NS_WST
from mycarenet_dental.errors import MyCareNetDentalError
from mycarenet_dental.protocols import commons
from mycarenet_dental.protocols import memberdata as md
from mycarenet_dental.shared_folder import shared_path
from mycarenet_dental.sim import schemas
from mycarenet_dental.sim.population import base_population
from mycarenet_dental.xmlsafe import parse_xml

from tests.billing.flow_fixtures import LUCAS, consulted_invoice, today

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_SAMLP11 = "urn:oasis:names:tc:SAML:1.0:protocol"
NS_SAML11 = "urn:oasis:names:tc:SAML:1.0:assertion"
NS_GENASYNC = "urn:be:cin:nip:async:generic"
NS_TARIF = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1"
NS_GMF = "urn:be:fgov:ehealth:globalmedicalfile:protocol:v1"
PATIENTS = base_population()
UNKNOWN = PATIENTS[4].ssin


def _message(error: str) -> str:
    return re.sub(r"^line \d+: ", "", error)


@functools.cache
def real_deviations(schema: str) -> frozenset[str]:
    """What the real answers recorded in shared/conformance themselves fail on (allowed, nothing more):
    for MemberData, the CIN ``FaultType`` of ``StatusDetail/Fault`` that the blob schema set does not import."""
    folder = shared_path("conformance", "memberdata")
    if schema != "memberdata-blob" or not folder.is_dir():
        return frozenset()
    found: set[str] = set()
    for path in folder.glob("*.xml"):
        found.update(_message(e) for e in schemas.validate(schema, parse_xml(path.read_bytes())))
    return frozenset(found)


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, list[tuple[str, int, bytes]]]]:
    if not schemas.available():
        pytest.skip("official schemas (../shared/xsd) not available")
    from mycarenet_dental.sim.testing import SimEnv

    with SimEnv.running(tmp_path_factory.mktemp("conformance-sim")) as env:
        yield from _tour(env, tmp_path_factory)


def _tour(env: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, list[tuple[str, int, bytes]]]]:
    recorded: list[tuple[str, int, bytes]] = []
    dispatch = env.app.dispatch

    def recording(request: Any) -> Any:
        response = dispatch(request)
        recorded.append((request.path, response.status, response.body))
        return response

    env.app.dispatch = recording
    _drive(env, tmp_path_factory.mktemp("conformance-client"))
    yield env, recorded


def _attempt(call: Any) -> None:
    """Run one exchange; a typed refusal is as welcome as a success (its answer is recorded)."""
    try:
        call()
    except MyCareNetDentalError:
        pass


def _drive(env: Any, tmp: Any) -> None:
    from mycarenet_dental.ehealth.sts import StsClient
    from mycarenet_dental_assurability.client import consult_insurability
    from mycarenet_dental_billing.genasync import GenAsyncClient
    from mycarenet_dental_billing.outbox import Outbox
    from mycarenet_dental_dmg import consult_dmg
    from mycarenet_dental_tariff import consult_tariff

    ctx = env.context(storage=tmp / "store.sqlite", tables={"tariff": {"max_per_minute": 1000},
                                                            "dmg": {"max_per_minute": 1000, "route": "gmf"}})
    ctx.security.token()  # STS, WS-Trust
    StsClient(env.pki_dir and ctx.config.endpoints.sts.replace("/IAM/SecurityTokenService/v1",
                                                               "/IAM/Saml11TokenService/Legacy/v1"),
              ctx.security.keystore, soap=ctx.soap, trust_anchor=env.pki.sts_cert, legacy=True).request_token()
    ctx.security.etk("CBE", md.MYCARENET_CBE, md.MYCARENET_APPLICATION)  # ETK depot: found
    _attempt(lambda: ctx.security.etk("CBE", "0999999999"))  # ETK depot: not found

    def contact(ssin: str) -> str:
        for old in ctx.contacts.list(open_only=True, patient=ssin):
            ctx.contacts.close(old.id)
        return ctx.open_contact(ssin).id

    for ssin in (PATIENTS[0].ssin, PATIENTS[6].ssin, UNKNOWN):  # MemberData: success, medical house, refusal
        _attempt(lambda s=ssin: consult_insurability(ctx, ctx.contact(contact(s))))
    for ssin in (PATIENTS[0].ssin, UNKNOWN):  # Tarification: priced, refused in acknowledge
        _attempt(lambda s=ssin: consult_tariff(ctx, ctx.contact(contact(s)), ["301011"]))
    for ssin in (PATIENTS[0].ssin, PATIENTS[2].ssin, UNKNOWN):  # GMF: holder, no holder, refused
        _attempt(lambda s=ssin: consult_dmg(ctx, ctx.contact(contact(s)), route="gmf"))
    outbox = Outbox(ctx)  # GenericAsync: post, get, confirm
    inv = consulted_invoice(ctx, 1, LUCAS, [("301011", today() - dt.timedelta(days=1), 36, 2500)])
    (sending,) = outbox.build([inv]).sendings
    client = GenAsyncClient(ctx)
    client.post(sending.input_reference, outbox.file(sending.id), oa="100")
    got = client.get()
    client.confirm(messages=got.messages, tacks=got.tacks)
    # SOAP faults: a call without WS-Security (SOA-01001) and a path no service answers (SOA-02001)
    from mycarenet_dental_tariff import TariffClient

    ping = etree.Element("{urn:test}Ping")
    _attempt(lambda: ctx.soap.call(TariffClient(ctx).url(), "", ping, security=None, idempotent=True))
    _attempt(lambda: ctx.soap.call(TariffClient(ctx).url().replace("Tarification", "Nothing"), "", ping,
                                   security=None, idempotent=True))


def _blob(flavour: commons.Flavour, body: etree._Element) -> bytes:
    return commons.parse_response(flavour, body).blob.content


def _checks(body: etree._Element, env: Any) -> list[tuple[str, etree._Element]]:
    """(schema, element) pairs an answer body must satisfy; raises AssertionError for an unknown answer."""
    tag = body.tag
    if tag == f"{{{NS_WST}}}RequestSecurityTokenResponseCollection" or tag == f"{{{NS_WST}}}RequestSecurityTokenResponse":
        return [("ws-trust", body)] + [("saml11-assertion", a) for a in body.iter(f"{{{NS_SAML11}}}Assertion")]
    if tag == f"{{{NS_SAMLP11}}}Response":
        return [("saml11-protocol", body)]
    if tag == f"{{{ETKDEPOT_NS}}}GetEtkResponse":
        return [("etkdepot", body)]
    if tag == f"{{{md.NS_MDA}}}MemberDataConsultationResponse":
        reply = commons.parse_response(commons.V3, body)
        content = reply.blob.content
        if reply.blob.content_encryption:
            from mycarenet_dental.ehealth import etee

            keys = list(env.context().security.keystore.encryption_keys)
            content = md.parse_known_content(etee.unseal(content, recipient_keys=keys).content).business
        saml = parse_xml(content)
        return [("memberdata", body), ("memberdata-blob", saml)] + [
            ("memberdata-blob", a) for a in saml.findall(f"{{{md.NS_SAML}}}Assertion")]
    if tag == f"{{{NS_TARIF}}}TarificationConsultationResponse":
        return [("tarification", body), ("kmehr-messageservices", parse_xml(_blob(commons.V2, body)))]
    if tag == f"{{{NS_GMF}}}ConsultGlobalMedicalFileResponse":
        return [("gmf", body), ("kmehr-messageservices", parse_xml(_blob(commons.GMF, body)))]
    if tag in {f"{{{NS_GENASYNC}}}{n}" for n in ("postResponse", "getResponse", "confirmResponse")}:
        return [("genasync", body)]
    if tag == f"{{{NS_SOAP}}}Fault":
        detail = body.find("detail")
        assert detail is not None and len(detail), "an eHealth SOAP fault carries its error in detail"
        return [("soa-errors", child) for child in detail]
    raise AssertionError(f"no schema is known for the simulator answer {tag}")


def test_every_simulator_answer_validates(tour: Any) -> None:
    env, recorded = tour
    failures: list[str] = []
    kinds: set[str] = set()
    for path, status, raw in recorded:
        envelope = etree.fromstring(raw)
        body = next(iter(envelope.find(f"{{{NS_SOAP}}}Body")))
        kinds.add(etree.QName(body).localname)
        for name, element in _checks(body, env):
            if schemas.schema(name) is None:
                if name == "etkdepot":
                    continue  # the depot schema is not in every copy of shared/xsd
                pytest.fail(f"schema {name} is not available")
            errors = [e for e in schemas.validate(name, element) if _message(e) not in real_deviations(name)]
            if errors:
                failures.append(f"{path} ({status}) {etree.QName(element).localname} vs {name}: {errors[:3]}")
    assert not failures, "\n".join(failures)
    kinds.discard("RequestSecurityTokenResponseCollection")
    expected = {"RequestSecurityTokenResponse", "Response", "GetEtkResponse",
                "MemberDataConsultationResponse", "TarificationConsultationResponse",
                "ConsultGlobalMedicalFileResponse", "postResponse", "getResponse", "confirmResponse", "Fault"}
    assert expected <= kinds, f"the tour missed {expected - kinds}"
