"""The insurer side over TLS: schema, licence, fault switches, MyCareNet-level refusals, GenIns flat."""

from __future__ import annotations

from datetime import date

import pytest
from lxml import etree
from mycarenet_dental.errors import BusinessError, MyCareNetDentalError, SoapFaultError
from mycarenet_dental.protocols import commons
from mycarenet_dental.protocols import memberdata as md
from mycarenet_dental.sim.population import base_population
from mycarenet_dental_assurability import consult_insurability
from mycarenet_dental_assurability.errors import InsurerUnavailable

BASE = base_population()


def _raw_call(ctx, body: etree._Element, action: str = md.SOAP_ACTION, path: str = md.PATH):
    url = ctx.service_url("assurability", "memberdata").replace(md.PATH, path)
    return ctx.soap.call(url, action, body, security=ctx.security.hok(), idempotent=False)


def test_schema_invalid_body_is_soa_03006(ctx) -> None:
    from mycarenet_dental.sim import schemas

    if schemas.schema("memberdata") is None:
        pytest.skip("the official schemas (../shared/xsd) are not on this machine")
    body = etree.Element(md.REQUEST_ROOT)
    etree.SubElement(body, "{urn:be:fgov:ehealth:mycarenet:commons:protocol:v3}Nonsense")
    with pytest.raises(SoapFaultError) as exc:
        _raw_call(ctx, body)
    assert exc.value.code == "SOA-03006"


def test_wrong_soap_action_is_soa_03005(ctx) -> None:
    with pytest.raises(SoapFaultError) as exc:
        _raw_call(ctx, etree.Element(md.REQUEST_ROOT), action="urn:wrong")
    assert exc.value.code == "SOA-03005"


def test_invalid_licence(sim, ctx, contact_for) -> None:
    from mycarenet_dental.sim.cli import LICENCE_USER

    good = sim.state.licences[LICENCE_USER]
    sim.state.licences[LICENCE_USER] = good + "-changed"
    try:
        contact_for(BASE[0].ssin)
        with pytest.raises(MyCareNetDentalError) as exc:
            consult_insurability(ctx, BASE[0].ssin)
        assert exc.value.code == "INVALID_LICENSE" and isinstance(exc.value, (BusinessError, SoapFaultError))
    finally:
        sim.state.licences[LICENCE_USER] = good


@pytest.mark.parametrize("switch", ["memberdata.send_to_im_exception", "memberdata.io_down"])
def test_insurer_down_switches(sim, ctx, contact_for, switch: str) -> None:
    sim.state.switches.extra[switch] = True if switch.endswith("exception") else {"100"}
    try:
        contact_for(BASE[0].ssin)
        with pytest.raises(InsurerUnavailable) as exc:
            consult_insurability(ctx, BASE[0].ssin)
        assert exc.value.code == "SEND_TO_IM_EXCEPTION" and exc.value.sub_status.endswith("InternalError")
    finally:
        sim.state.switches.extra.pop(switch)
    assert consult_insurability(ctx, BASE[0].ssin).insured  # the failed one does not count (R34)


def test_crosscheck_over_the_wire(ctx) -> None:
    """A query whose ID does not match the envelope's InputReference, sent in clear."""
    from mycarenet_dental.exchange import Exchange

    ex = ctx.new_exchange("assurability", "MemberDataConsultation", patient=BASE[0].ssin)
    assert isinstance(ex, Exchange)
    ci = commons.common_input_for(ctx, ex)
    query = md.AttributeQuery(id="_NOT-THE-REFERENCE", issuer=ctx.responsible().nihii,
                              subject=md.SubjectRef.ssin(BASE[0].ssin), facets=(md.Facet(md.FACET_INSURABILITY, (
                                  ("requestType", "information"), ("contactType", "other"))),),
                              start=date.today(), end=date.today(), issue_instant=ctx.now())
    blob = commons.make_blob(etree.tostring(md.build_attribute_query(query)))
    body = commons.build_request(commons.V3, md.REQUEST_ROOT, common_input=ci, blob=blob)
    reply = _raw_call(ctx, body)
    resp = commons.parse_response(commons.V3, reply.body_child)
    assert not resp.blob.content_encryption  # clear request, no reply ETK: clear answer
    saml = md.parse_saml_response(etree.fromstring(resp.blob.content))
    assert (saml.status, saml.sub_status) == (md.STATUS_REQUESTER, md.SUB_REQUEST_ERROR)
    assert saml.fault.fault_code == "VALIDATION_ERROR" and saml.fault.details[0].code == "CROSSCHECK_ID"
    assert saml.issuer == md.ISSUER_MYCARENET and saml.assertions == ()
    assert resp.common_output.input_reference == ci.input_reference


def test_genins_flat_not_offered(ctx) -> None:
    from mycarenet_dental_assurability import genins

    body = etree.Element(genins.FLAT_REQUEST_ROOT)
    with pytest.raises(SoapFaultError) as exc:
        _raw_call(ctx, body, action=genins.SOAP_ACTION_FLAT, path=genins.PATH)
    assert exc.value.code == "SOA-02001"


def test_genins_request_validates(ctx) -> None:
    from mycarenet_dental.identifiers import RegistrationNumber
    from mycarenet_dental.sim import schemas
    from mycarenet_dental_assurability import genins
    from mycarenet_dental_assurability.model import ContactType, Period, RequestType

    ex = ctx.new_exchange("assurability", "GetInsurability", patient=BASE[0].ssin)
    ci = commons.common_input_for(ctx, ex, input_reference=commons.new_input_reference())
    for patient in (RegistrationNumber.parse("116:1160042"),):
        el = genins.build_request(ci, patient=patient, period=Period(date.today(), date.today()),
                                  request_type=RequestType.INFORMATION, contact_type=ContactType.HOSPITALIZED,
                                  record_reference="12345678901234")
        for name in ("genins", "genins-1.1"):
            if schemas.schema(name) is not None:
                assert schemas.validate(name, el) == [], name


def test_rules_are_listed(sim, capsys) -> None:
    from mycarenet_dental.cli.main import main

    try:
        main(["--config", str(sim.config_path), "rules", "--json"])
    except SystemExit as done:
        assert not done.code
    out = capsys.readouterr().out
    for rule in ("R34", "R34-explicit", "R32-assurability"):
        assert f'"{rule}"' in out
