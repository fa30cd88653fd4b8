"""MemberData machinery (core ``mycarenet.memberdata``): query, wrapper, response parsing, validation order,
and the real MemberData responses of ``shared/conformance/memberdata`` parsed into the typed result."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
from lxml import etree
from mycarenet_dental.protocols import memberdata as md
from mycarenet_dental.sim import memberdata as md_sim
from mycarenet_dental.sim import schemas
from mycarenet_dental.xmlsafe import parse_xml
from mycarenet_dental_assurability.client import insurability_facet, result_from_mda
from mycarenet_dental_assurability.errors import InsurabilityRefused, InsurerUnavailable
from mycarenet_dental_assurability.model import ContactType, Period, RequestType

from .conftest import CONFORMANCE

SSIN = "85073003328"
NIHII = "31234592001"


def _query(**kw) -> md.AttributeQuery:
    base = dict(id="_R123", issuer=NIHII, subject=md.SubjectRef.ssin(SSIN),
                facets=(insurability_facet(RequestType.INFORMATION, ContactType.OTHER),),
                start=date(2026, 11, 25), end=date(2026, 11, 25), issue_instant=datetime(2026, 11, 25, 9))
    base.update(kw)
    return md.AttributeQuery(**base)


def test_attribute_query_validates_against_both_blob_schemas() -> None:
    el = md.build_attribute_query(_query())
    for name in ("memberdata-blob", "memberdata-blob-simplified"):
        if schemas.schema(name) is None:
            pytest.skip("official schemas absent")
        assert schemas.validate(name, el) == [], name
    dims = el.findall(f".//{{{md.NS_EXT}}}Facet/Dimension")
    assert [d.get("id") for d in dims] == ["requestType", "contactType"]  # unqualified Dimension
    data = el.find(f".//{{{md.NS_SAML}}}SubjectConfirmationData")
    assert (data.get("NotBefore"), data.get("NotOnOrAfter")) == ("2026-11-25T00:00:00", "2026-11-26T00:00:00")


def test_registration_number_subject() -> None:
    from mycarenet_dental.identifiers import parse_patient

    ref = md.SubjectRef.for_patient(parse_patient("319:0000000000011"))
    assert ref == md.SubjectRef(md.FORMAT_REGNR_AT_MUT, "0000000000011@319")
    assert md.SubjectRef.for_patient(parse_patient(SSIN)) == md.SubjectRef(md.FORMAT_SSIN, SSIN)


def test_known_content_round_trip_and_schema() -> None:
    data = md.known_content(md.KnownContent(business=b"<q/>", reply_to_etk=b"ETK", content_encoding="deflate"))
    if schemas.schema("encrypted-content") is not None:
        assert schemas.validate("encrypted-content", parse_xml(data)) == []
    back = md.parse_known_content(data)
    assert (back.business, back.reply_to_etk, back.content_encoding) == (b"<q/>", b"ETK", "deflate")


class _Registry(md_sim.FacetRegistry):
    pass


def _registry() -> md_sim.FacetRegistry:
    from mycarenet_dental_assurability.simulator import INSURABILITY_FACET

    reg = md_sim.FacetRegistry()
    reg.register(INSURABILITY_FACET)
    return reg


def _validate(el: etree._Element, **kw):
    args = dict(input_reference="R123", care_provider_nihii=NIHII, quality="dentist", registry=_registry(),
                today=date(2026, 11, 25))
    args.update(kw)
    return md_sim.validate_query(el, **args)


def _code(el: etree._Element, **kw) -> str:
    with pytest.raises(md_sim.QueryRejected) as exc:
        _validate(el, **kw)
    return exc.value.code


def test_valid_query_passes() -> None:
    parsed = _validate(md.build_attribute_query(_query()))
    assert (parsed.ssin, parsed.start, parsed.end) == (SSIN, date(2026, 11, 25), date(2026, 11, 25))


def test_validation_codes_in_spec_order() -> None:
    build = md.build_attribute_query
    assert _code(build(_query(id="_OTHER"))) == "CROSSCHECK_ID"
    assert _code(build(_query(issuer="31234592999"))) == "CROSSCHECK_ISSUER"
    el = build(_query())
    el.remove(el.find(f"{{{md.NS_SAML}}}Issuer"))
    assert _code(el) == "MISSING_ISSUER_TAG"
    el = build(_query())
    del el.find(f"{{{md.NS_SAML}}}Issuer").attrib["Format"]
    assert _code(el) == "MISSING_ISSUER_FORMAT"
    assert _code(build(_query(issuer_format="urn:x"))) == "INVALID_ISSUER_FORMAT"
    el = build(_query())
    el.remove(el.find(f"{{{md.NS_SAMLP}}}Extensions"))
    assert _code(el) == "MISSING_EXTENSIONS_TAG"
    el = build(_query())
    del el.find(f"{{{md.NS_SAMLP}}}Extensions").attrib[f"{{{md.NS_XSI}}}type"]
    assert _code(el) == "MISSING_OR_BAD_EXTENSIONS_TYPE"
    ins = insurability_facet(RequestType.INFORMATION, ContactType.OTHER)
    assert _code(build(_query(facets=(md.Facet("urn:be:cin:nippin:nope"), ins)))) == "UNKNOWN_FACET"
    assert _code(build(_query(facets=(ins, ins)))) == "DUPLICATED_FACET"
    assert _code(build(_query(facets=(md.Facet(md.FACET_CARE_PATH),)))) == "UNAUTHORIZED_FACET"
    f = md.Facet(md.FACET_INSURABILITY, (("requestType", "information"), ("colour", "blue")))
    assert _code(build(_query(facets=(f,)))) == "INVALID_DIMENSION_ID"
    f = md.Facet(md.FACET_INSURABILITY, (("requestType", "information"),))
    assert _code(build(_query(facets=(f,)))) == "MISSING_DIMENSION"
    f = md.Facet(md.FACET_INSURABILITY, (("requestType", "information"), ("requestType", "information"),
                                          ("contactType", "other")))
    assert _code(build(_query(facets=(f,)))) == "DUPLICATED_DIMENSION"
    f = md.Facet(md.FACET_INSURABILITY, (("requestType", "everything"), ("contactType", "other")))
    assert _code(build(_query(facets=(f,)))) == "UNALLOWED_REQUESTTYPE"
    f = md.Facet(md.FACET_INSURABILITY, (("requestType", ""), ("contactType", "other")))
    assert _code(build(_query(facets=(f,)))) == "EMPTY_REQUESTTYPE"
    f = md.Facet(md.FACET_INSURABILITY, (("requestType", "information"), ("contactType", "home")))
    assert _code(build(_query(facets=(f,)))) == "UNALLOWED_CONTACTTYPE"
    assert _code(build(_query(subject=md.SubjectRef("urn:x", SSIN)))) == "INVALID_NAMEID_FORMAT"
    assert _code(build(_query(subject=md.SubjectRef.ssin("1234")))) == "INVALID_INSS_FORMAT"
    assert _code(build(_query(subject=md.SubjectRef.ssin("85073003329")))) == "INVALID_INSS_VALUE"
    assert _code(build(_query(subject=md.SubjectRef.ssin("")))) == "EMPTY_INSS"
    assert _code(build(_query(subject=md.SubjectRef.registration("", "319")))) == "EMPTY_REG_NUM"
    assert _code(build(_query(subject=md.SubjectRef.registration("123", "")))) == "EMPTY_IO"
    assert _code(build(_query(subject=md.SubjectRef.registration("123", "31x")))) == "INVALID_IO_FORMAT"
    assert _code(build(_query(subject=md.SubjectRef.registration("123", "719")))) == "INVALID_IO_VALUE"
    el = build(_query())
    el.find(f".//{{{md.NS_SAML}}}SubjectConfirmation").set("Method", "urn:x")
    assert _code(el) == "INVALID_SUBJECT_CONFIRMATION_METHOD_VALUE"
    el = build(_query())
    del el.find(f".//{{{md.NS_SAML}}}SubjectConfirmationData").attrib["NotBefore"]
    assert _code(el) == "EMPTY_STARTDATE"
    el = build(_query())
    el.find(f".//{{{md.NS_SAML}}}SubjectConfirmationData").set("NotOnOrAfter", "2026-11-01T00:00:00")
    assert _code(el) == "INVALID_PERIOD"
    assert _code(build(_query(start=date(2026, 12, 1), end=date(2026, 12, 1)))) == "START_DATE_IN_FUTURE"
    assert _code(build(_query(start=date(2020, 1, 1), end=date(2020, 1, 1)))) == "PERIOD_TOO_FAR_IN_PAST"
    assert _code(build(_query(start=date(2024, 1, 1), end=date(2026, 1, 1)))) == "INVALID_PERIOD_FOR_SECTOR"
    el = build(_query())
    etree.SubElement(el, f"{{{md.NS_SAML}}}Attribute", Name="x")
    assert _code(el) == "FORBIDDEN_ATTRIBUTES"


def test_a_plugin_can_add_a_facet_without_editing_the_module() -> None:
    calls = []

    def build(req: md_sim.FacetRequest) -> md_sim.FacetAnswer:
        calls.append(req.facet.id)
        return md_sim.FacetAnswer(assertions=(md_sim.AssertionSpec("urn:test:thing", (md_sim.AttributeSpec("urn:test:a", "1"),)),))

    reg = _registry()
    reg.register(md_sim.FacetHandler("urn:test:facet", build=build, dimensions=(md_sim.DimensionSpec("k", allowed=("v",)),)))
    f = md.Facet("urn:test:facet", (("k", "v"),))
    assert _validate(md.build_attribute_query(_query(facets=(f,))), registry=reg).facets == (f,)
    bad = md.Facet("urn:test:facet", (("k", "w"),))
    assert _code(md.build_attribute_query(_query(facets=(bad,))), registry=reg) == "INVALID_DIMENSION_ID"


def test_rejection_response_shape_and_schema() -> None:
    el = md_sim.rejection_response(md_sim.QueryRejected("INVALID_INSS_FORMAT"), in_response_to="_R1",
                               now=datetime(2026, 11, 25, 9))
    if schemas.schema("memberdata-blob") is not None:
        # UNSURE (insurability.md §1.1): no XSD exists for urn:be:cin:types:v1, so the Fault's xsi:type cannot
        # resolve; everything else of the Response must validate (real responses behave the same).
        errors = schemas.validate("memberdata-blob", el)
        assert errors and all("FaultType" in e or "Fault" in e for e in errors), errors
        stripped = etree.fromstring(etree.tostring(el))
        status = stripped.find(f"{{{md.NS_SAMLP}}}Status")
        status.remove(status.find(f"{{{md.NS_SAMLP}}}StatusDetail"))
        assert schemas.validate("memberdata-blob", stripped) == []
    resp = md.parse_saml_response(el)
    assert resp.status == md.STATUS_REQUESTER and resp.sub_status == md.SUB_QUERY_ERROR
    assert resp.issuer == md.ISSUER_MYCARENET and resp.fault.fault_code == "INPUT_ERROR"
    assert resp.fault.details[0].code == "INVALID_INSS_FORMAT"
    assert el.find(f".//{{{md.NS_SAMLP}}}StatusDetail/Fault") is not None  # unqualified Fault


# -- conformance: real MemberData responses -----------------------------------------------------------

def _index() -> list[dict]:
    path = CONFORMANCE / "index.json"
    if not path.exists():
        return []
    return json.loads(path.read_text("utf-8"))["responses"]


@pytest.mark.skipif(not (CONFORMANCE / "index.json").exists(), reason="shared/conformance absent")
@pytest.mark.parametrize("entry", _index(), ids=lambda e: e["file"])
def test_conformance_response_parses(entry: dict) -> None:
    root = parse_xml((CONFORMANCE / entry["file"]).read_bytes())
    resp = md.parse_saml_response(root)
    expect = entry["expect"]
    assert resp.status == expect["status"]
    assert resp.sub_status == expect["sub_status"]
    assert [a.assertion_type for a in resp.assertions] == expect["assertion_types"]
    assert [d.code for d in (resp.fault.details if resp.fault else ())] == expect["detail_codes"]
    if expect["fault_code"]:
        assert resp.fault.fault_code == expect["fault_code"]
    request = entry.get("request") or {}
    period = Period(date(2021, 1, 1), date(2022, 1, 15))
    if request.get("notOnOrAfter"):
        period = Period(date.fromisoformat(request["notBefore"][:10]), date.fromisoformat(request["notOnOrAfter"][:10]))
    rt = "information"
    for f in request.get("facets", ()):
        for d in f.get("dimensions", ()):
            if d["id"] == "requestType" and d["value"] in ("information", "invoicing"):
                rt = d["value"]
    if resp.success:
        result = result_from_mda(resp, period=period, request_type=rt)
        types = expect["assertion_types"]
        assert len(result.periods) == types.count("urn:be:cin:nippin:insurability:period")
        if "urn:be:cin:nippin:insurability:patientData" in types:
            assert result.patient is not None and result.patient.ssin and result.patient.birth_date
        if "urn:be:cin:nippin:insurability:payment" in types:
            assert result.third_party_payment in (True, False)
        if "urn:be:cin:nippin:hospitalisation" in types:
            assert result.hospitalisation.admission_date is not None
        if "urn:be:cin:nippin:medicalHouse" in types:
            assert result.medical_house.nihii and result.medical_house.kinds
        if "urn:be:cin:nippin:insurability:generalSituation" in types:
            assert result.general_situation.event == "closedBefore"
        if rt == "invoicing":
            assert all(p.payment_approval for p in result.periods)
        assert result.partial == (expect["sub_status"] == md.SUB_PARTIAL)
        assert [n.code for n in result.notices] == expect["detail_codes"]
        assert result.union == resp.io
    else:
        with pytest.raises((InsurabilityRefused, InsurerUnavailable)) as exc:
            result_from_mda(resp, period=period)
        assert exc.value.code == expect["detail_codes"][0]
        assert exc.value.messages.fr and exc.value.messages.nl


def test_conformance_two_periods_ct_change() -> None:
    path = CONFORMANCE / "insurability-two-periods.xml"
    if not path.exists():
        pytest.skip("shared/conformance absent")
    resp = md.parse_saml_response(parse_xml(path.read_bytes()))
    result = result_from_mda(resp, period=Period(date(2021, 1, 1), date(2022, 1, 15)))
    assert len({(p.ct1, p.ct2) for p in result.periods}) == 2
    assert result.ct1 == result.periods[-1].ct1


def test_unknown_code_surfaces_verbatim() -> None:
    el = md_sim.build_saml_response(in_response_to="_x", issuer=md.ISSUER_MYCARENET, now=datetime(2026, 1, 1),
                                status=md.STATUS_REQUESTER, sub_status=md.SUB_QUERY_ERROR,
                                fault=md.MdaFault("INPUT_ERROR", "MYCARENET",
                                                  details=(md.FaultDetail("BRAND_NEW_CODE", message="new thing"),)))
    with pytest.raises(InsurabilityRefused) as exc:
        result_from_mda(md.parse_saml_response(el), period=Period(date(2026, 1, 1), date(2026, 1, 1)))
    assert exc.value.code == "BRAND_NEW_CODE"
    assert "new thing" in exc.value.messages.en


class _Switches:
    extra: dict = {}


class _State:
    def __init__(self) -> None:
        from mycarenet_dental.sim.population import build_population
        from mycarenet_dental_assurability.simulator import population

        self.population = build_population(population())
        self.switches = _Switches()


def test_success_answer_validates_like_real_answers() -> None:
    """A full simulated answer (assertions included) against the official schemas."""
    from mycarenet_dental.protocols import commons
    from mycarenet_dental.sim.population import base_population

    patient = base_population()[6]  # medical house member
    today = date.today()
    q = _query(subject=md.SubjectRef.ssin(patient.ssin), start=today, end=today, issue_instant=datetime.now(timezone.utc),
               facets=(insurability_facet(RequestType.INVOICING, ContactType.OTHER),))
    parsed = commons.SendRequest(root="x", id="_1", issue_instant=None, routing=None,
                                 blob=commons.make_blob(b""),
                                 common_input=commons.CommonInput(True, commons.Origin(
                                     None, "u", "p", care_provider=commons.CareProvider(NIHII)), input_reference="R123"))
    el = md_sim._answer(md.build_attribute_query(q), parsed=parsed, caller=None, state=_State(), registry=_registry(),
                    now=datetime.now(timezone.utc), in_response_to=q.id)
    if schemas.schema("memberdata-blob") is None:
        pytest.skip("official schemas absent")
    # as with the real answers: the Response against the CIN schema set, each Assertion on its own
    # (the CIN set skips assertions inside a Response; the plain OASIS set lacks ext:AdviceType)
    assert schemas.validate("memberdata-blob", el) == []
    for assertion in el.findall(f"{{{md.NS_SAML}}}Assertion"):
        assert schemas.validate("memberdata-blob", assertion) == []
    resp = md.parse_saml_response(el)
    assert resp.io == "300" and resp.success and not resp.partial
    types = [a.assertion_type for a in resp.assertions]
    assert types[-1] == md.TECHNICAL_ASSERTION
    result = result_from_mda(resp, period=Period(today, today), request_type="invoicing")
    assert result.medical_house.kinds and result.periods[0].payment_approval


def test_other_facets_absent_without_error() -> None:
    """insurability + palliativeStatus for a non-palliative person: no palliative assertion, no warning."""
    from mycarenet_dental.protocols import commons
    from mycarenet_dental.sim.population import base_population
    from mycarenet_dental_assurability.simulator import facets

    patient = base_population()[0]
    today = date.today()
    q = _query(subject=md.SubjectRef.ssin(patient.ssin), start=today, end=today, issue_instant=datetime.now(timezone.utc),
               facets=(insurability_facet(RequestType.INFORMATION, ContactType.OTHER), md.Facet(md.FACET_PALLIATIVE)))
    parsed = commons.SendRequest(root="x", id="_1", issue_instant=None, routing=None, blob=commons.make_blob(b""),
                                 common_input=commons.CommonInput(True, commons.Origin(
                                     None, "u", "p", care_provider=commons.CareProvider(NIHII)), input_reference="R123"))
    el = md_sim._answer(md.build_attribute_query(q), parsed=parsed, caller=None, state=_State(), registry=md_sim.FacetRegistry(facets()),
                    now=datetime.now(timezone.utc), in_response_to=q.id)
    resp = md.parse_saml_response(el)
    assert resp.success and not resp.partial
    assert md.FACET_PALLIATIVE not in [a.assertion_type for a in resp.assertions]
