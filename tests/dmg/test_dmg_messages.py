"""The messages of both routes validate against the official schemas; real answers are read right."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from mycarenet_dental.protocols import commons, kmehr
from mycarenet_dental.sim import schemas
from mycarenet_dental.xmlsafe import parse_xml
from mycarenet_dental_dmg import gmf_route
from mycarenet_dental_dmg.model import FACET, DmgHolder, DmgRefusedError, HolderKind
from mycarenet_dental_dmg.simulator import holder_on, two_years_back

from .conftest import SHARED

NOW = datetime(2026, 11, 25, 10, 30, 0)
DENTIST = "31234592001"
PATIENT = "85073003328"
GP = DmgHolder(nihii="10023464004", name="Peeters", first_name="Anna", start=date(2020, 1, 1))
HOUSE = DmgHolder(nihii="80045697000", name="Maison médicale Les Tilleuls", start=date(2019, 6, 1),
                  kind="medicalhouse")


def _schema(name: str):  # type: ignore[no-untyped-def]
    compiled = schemas.schema(name)
    if compiled is None:
        pytest.skip("official schemas not available")
    return compiled


def _request() -> tuple[kmehr.RetrieveTransactionRequest, object]:
    author = kmehr.HcParty.person(kind="persdentist", nihii=DENTIST, ssin="85073003328", familyname="Anne SIMULAAR")
    request = gmf_route.kmehr_request(author=author, patient_ssin=PATIENT, reference_date=date(2026, 11, 25), now=NOW,
                                    nihii=DENTIST, input_reference="R123456789ABCD")
    ci = commons.CommonInput(is_test=True, origin=commons.Origin(
        package_name="mycarenet-dental", licence_username="user", licence_password="secret",
        care_provider=commons.CareProvider(nihii=DENTIST, quality="dentist",
                                           physical_person=commons.Party(name="Anne SIMULAAR", ssin=PATIENT))),
        input_reference="R123456789ABCD")
    body = gmf_route.consult_request(common_input=ci, request=request, patient_ssin=PATIENT,
                                   reference_date=date(2026, 11, 25))
    return request, body


def test_route_b_request_validates() -> None:
    gmf, ms = _schema("gmf"), _schema("kmehr-messageservices")
    request, body = _request()
    assert gmf.validate(body), gmf.error_log
    blob = parse_xml(commons.parse_request(commons.GMF, body).blob.content)
    assert ms.validate(blob), ms.error_log
    parsed = kmehr.parse_request(blob)
    assert parsed.transaction.kind == "gmd" and parsed.transaction.begindate == date(2026, 11, 25)
    assert parsed.patient is not None and parsed.patient.ssin == PATIENT
    assert body.find(f"{{{gmf_route.NS_GMF}}}Detail").get("ContentEncoding") == "none"


@pytest.mark.parametrize("holder", [GP, HOUSE, None], ids=["gp", "medical-house", "none"])
def test_route_b_answer_validates_and_reads_back(holder: DmgHolder | None) -> None:
    gmf, ms = _schema("gmf"), _schema("kmehr-messageservices")
    request, body = _request()
    patient = kmehr.KmehrPatient(ssin=PATIENT, firstnames=("Lucas",), familyname="Janssens", sex="male")
    answer = gmf_route.kmehr_answer(request, now=NOW, insurer="116", patient=patient, holder=holder)
    assert ms.validate(answer), ms.error_log
    response = gmf_route.consult_response(request=commons.parse_request(commons.GMF, body), kmehr_element=answer,
                                        now=NOW)
    assert gmf.validate(response), gmf.error_log
    read = gmf_route.parse_consult_response(response)
    assert read.errors == () and read.complete and read.mutuality == "116"
    assert read.holder == holder
    if holder is HOUSE:
        assert read.holder is not None and read.holder.kind is HolderKind.MEDICAL_HOUSE


@pytest.mark.parametrize("code", ["120", "140", "145", "146"])
def test_route_b_refusals_validate(code: str) -> None:
    gmf, ms = _schema("gmf"), _schema("kmehr-messageservices")
    request, body = _request()
    error = kmehr.AckError.of(code, "refused", kmehr.PATIENT_XPATH + "/id")
    answer = gmf_route.kmehr_answer(request, now=NOW, insurer="116", errors=[error])
    assert ms.validate(answer), ms.error_log
    response = gmf_route.consult_response(request=None, kmehr_element=answer, now=NOW)
    assert gmf.validate(response), gmf.error_log
    read = gmf_route.parse_consult_response(response)
    assert not read.complete and read.errors[0].code == code and read.errors[0].url.endswith("/id")


def test_route_a_query_validates() -> None:
    from mycarenet_dental.protocols import memberdata as md

    blob_schema = _schema("memberdata-blob")
    query = md.AttributeQuery(id="_R1", issuer=DENTIST, subject=md.SubjectRef.ssin(PATIENT), facets=(md.Facet(FACET),),
                              start=date(2026, 11, 25), end=date(2026, 11, 25), issue_instant=NOW)
    element = md.build_attribute_query(query)
    assert blob_schema.validate(element), blob_schema.error_log
    assert element.find(f"{{{md.NS_SAMLP}}}Extensions/{{{md.NS_EXT}}}Facet").get("id") == FACET


def _conformance(name: str) -> bytes:
    path = SHARED / "conformance" / "memberdata" / name
    if not path.exists():
        pytest.skip("../shared conformance samples are not present")
    return path.read_bytes()


def test_real_answer_medical_house() -> None:
    from mycarenet_dental.protocols import memberdata as md
    from mycarenet_dental_dmg.memberdata_route import read_response

    answer = read_response(md.parse_saml_response(parse_xml(_conformance("global-medical-file.xml"))))
    assert answer.union == "600"
    assert answer.holder == DmgHolder(nihii="81150396111", name="WIJKGEZONDHEIDSCENTRUM 'T SPOOR")
    assert answer.holder.kind is HolderKind.MEDICAL_HOUSE and answer.holder.first_name is None


def test_real_answer_physician_among_other_facets() -> None:
    from mycarenet_dental.protocols import memberdata as md
    from mycarenet_dental_dmg.memberdata_route import read_response

    raw = _conformance("multi-facet-with-global-medical-file.xml")
    answer = read_response(md.parse_saml_response(parse_xml(raw)))
    assert answer.holder is not None and answer.holder.nihii == "19999123004"
    assert answer.holder.first_name == "DOCTOR-1" and answer.holder.kind is HolderKind.PHYSICIAN


def test_real_unauthorized_facet_is_a_typed_refusal() -> None:
    from mycarenet_dental.protocols import memberdata as md
    from mycarenet_dental_dmg.memberdata_route import read_response

    raw = _conformance("error-unauthorized-facet-care-path.xml")
    with pytest.raises(DmgRefusedError) as err:
        read_response(md.parse_saml_response(parse_xml(raw)))
    assert err.value.code == "UNAUTHORIZED_FACET" and err.value.messages.nl


def test_holder_period_and_two_year_window() -> None:
    from mycarenet_dental.sim.population import build_population
    from mycarenet_dental_dmg.simulator import dmg_holders

    patients = list(build_population(dmg_holders()))
    assert holder_on(patients[0], date(2026, 11, 25)) is not None
    assert holder_on(patients[0], date(2019, 12, 31)) is None  # before the GP's period
    assert holder_on(patients[2], date(2026, 11, 25)) is None
    assert holder_on(patients[6], date(2026, 1, 1)).kind is HolderKind.MEDICAL_HOUSE
    assert two_years_back(date(2028, 2, 29)) == date(2026, 2, 28)


def test_facet_not_answered_is_not_no_holder() -> None:
    from mycarenet_dental.protocols import memberdata as md
    from mycarenet_dental_dmg.memberdata_route import read_response

    partial = md.MdaResponse(id="_r", in_response_to="_q", issuer="urn:be:cin:io:300", status=md.STATUS_SUCCESS,
                             sub_status=md.SUB_PARTIAL,
                             fault=md.MdaFault("WARNING", "IO-BE-300", details=(md.FaultDetail("MISSING_FACETS"),)))
    with pytest.raises(DmgRefusedError) as err:
        read_response(partial)
    assert err.value.code == "MISSING_FACETS"
    none = md.MdaResponse(id="_r", in_response_to="_q", issuer="urn:be:cin:io:300", status=md.STATUS_SUCCESS)
    answer = read_response(none)
    assert answer.holder is None and answer.union == "300"
