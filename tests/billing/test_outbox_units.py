"""Units of the transport and outbox, no simulator: GenericAsync messages against the official
schema, Blob handling, reading insurer answers, numbering keys, settings, R36 matching, hooks."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import zlib

import pytest
from lxml import etree
from mycarenet_dental.config import config_from_mapping
from mycarenet_dental.errors import ConfigError, MalformedResponseError, UsageError
from mycarenet_dental.sim import schemas
from mycarenet_dental_billing import genasync as ga
from mycarenet_dental_billing.efact import response_writer as rw
from mycarenet_dental_billing.efact.responses import Rejection
from mycarenet_dental_billing.efact.writer import to_bytes
from mycarenet_dental_billing.outbox import BillingSettings, input_reference_for, read_answer
from mycarenet_dental_billing.rules import ConsultedLine, _lines_of, consultation_for

from tests.billing.billing_factories import DENTIST, line, rich_sending

ORIGIN = ga.Origin(package_name="pkg", licence_username="user", licence_password="s3cret", nihii=DENTIST,
                   name="Anne Dupont", ssin="85073003328")


def _schema():
    compiled = schemas.schema("genasync")
    if compiled is None:
        pytest.skip("official GenericAsync schemas not available")
    return compiled


@pytest.mark.parametrize("element", [
    ga.build_post(ORIGIN, "20261125100001", b"920000" * 50, is_test=True, xades=b"<ds:Signature/>"),
    ga.build_get(ORIGIN, max_messages=64, max_tacks=32),
    ga.build_confirm(ORIGIN, msg_hashes=["qg=="], tack_contents=["YQ=="], msg_refs=["r1"], tack_refs=["t1"]),
])
def test_requests_validate_against_genericasync_v3(element):
    compiled = _schema()
    assert compiled.validate(element), compiled.error_log


def test_post_carries_raw_deflate_and_hcpfac():
    content = b"920000" + b"x" * 1000
    post = ga.build_post(ORIGIN, "REF1", content, is_test=False)
    detail = post.find(ga.ga("Detail"))
    assert (detail.get("MessageName"), detail.get("ContentType"), detail.get("ContentEncoding")) == \
        ("HCPFAC", "text/plain", "deflate")
    raw = base64.b64decode(detail.text)
    assert zlib.decompress(raw, -15) == content  # raw DEFLATE, no zlib header
    assert post.findtext(f"{ga.ga('CommonInput')}/{ga.cm('Request')}/{ga.cm('IsTest')}") == "false"
    assert "s3cret" not in repr(ORIGIN)


@pytest.mark.parametrize("reference", ["", "123456789012345", "20261125-1", "réf"])
def test_input_reference_is_at_most_14_alphanumerics(reference):
    with pytest.raises(UsageError):
        ga.build_post(ORIGIN, reference, b"x", is_test=True)


def test_inflate_accepts_raw_zlib_gzip_and_bounds_size():
    data = b"931000" * 100
    assert ga.inflate(ga.deflate_raw(data)) == data
    assert ga.inflate(zlib.compress(data)) == data
    assert ga.inflate(gzip.compress(data)) == data
    with pytest.raises(MalformedResponseError):
        ga.inflate(b"plain text")
    with pytest.raises(MalformedResponseError):
        ga.inflate(ga.deflate_raw(b"0" * 5000), max_bytes=1000)


def test_get_response_parsed_and_hash_checked():
    content = b"931000" + b"0" * 221
    nsmap = {"ga": ga.NS_GA, "common": ga.NS_COMMON}
    resp = etree.Element(ga.ga("getResponse"), nsmap=nsmap)
    ret = etree.SubElement(resp, ga.ga("return"), MsgCount="1", TAckCount="1")
    msg = etree.SubElement(ret, ga.ga("MsgResponse"))
    out = etree.SubElement(msg, ga.ga("CommonOutput"))
    etree.SubElement(out, ga.cm("InputReference")).text = "20261125100001"
    detail = etree.SubElement(msg, ga.ga("Detail"), ContentType="text/plain", MessageName="HCPFAC",
                              HashValue=ga.sha256_b64(content), Reference="m1")
    detail.text = base64.b64encode(ga.deflate_raw(content)).decode()
    etree.SubElement(msg, ga.ga("Xades-t")).text = "AA=="
    tack_resp = etree.SubElement(ret, ga.ga("TAckResponse"))
    tack = etree.SubElement(tack_resp, ga.ga("TAck"), Issuer="urn:x", ResultMajor=ga.TACK_SUCCESS,
                            AppliesTo="urn:nip:reference:input:20261125100001", Reference="t1")
    tack.text = "YWJj"
    etree.SubElement(tack_resp, ga.ga("Xades-t")).text = "AA=="
    compiled = schemas.schema("genasync")
    if compiled is not None:
        assert compiled.validate(resp), compiled.error_log
    result = ga.parse_get_response(resp)
    (m,) = result.messages
    assert (m.message_type, m.input_reference, m.reference) == ("931000", "20261125100001", "m1")
    (t,) = result.tacks
    assert t.success and t.input_reference == "20261125100001" and t.value == "YWJj"
    detail.set("HashValue", ga.sha256_b64(b"other"))
    with pytest.raises(Exception) as info:
        ga.parse_get_response(resp)
    assert getattr(info.value, "code", "") == "GENASYNC_HASH"


def test_read_answer_of_a_settlement_with_a_refused_line():
    content = to_bytes(rich_sending())
    seqs = [int(content[227 + i * 350 + 2:227 + i * 350 + 8]) for i in range((len(content) - 227) // 350)
            if content[227 + i * 350:227 + i * 350 + 2] == b"50"]
    refused = {seqs[1]: [Rejection("R", "502940")]}
    text = rw.response_to_bytes(rw.settle(content, 42, refused=refused, payment_reference="+++090/9337/55493+++"))
    answer = read_answer(text)
    assert answer.type == "920900"
    assert [(e.letter, e.code, e.sequence) for e in answer.errors] == [("R", "502940", seqs[1])]
    assert seqs[1] not in answer.paid_by_sequence and answer.paid_by_sequence[seqs[0]] == 2500
    assert answer.payment_references and answer.payment_references[0] == "+++090/9337/55493+++"
    assert answer.refused == 1800 and answer.accepted is not None
    ack = read_answer(rw.response_to_bytes(rw.acknowledge(content, 43)))
    assert ack.type == "931000" and ack.reference == content[20:34].decode()
    refusal = read_answer(rw.response_to_bytes(rw.refuse_file(content, 44, segment300_errors={"3011": "40"})))
    assert refusal.type == "920999" and [e.code for e in refusal.errors] == ["3011/40"]


def test_input_reference_is_the_14_digit_message_reference():
    ref = input_reference_for(dt.date(2026, 11, 25), "300", 7)
    assert ref == "20261125300007" and len(ref) == 14 and ref.isdigit()


def test_bank_data_required_outside_the_simulator():
    class Ctx:
        config = config_from_mapping({"profile": "acceptance", "billing": {"bic": "GEBABEBB"}})

    with pytest.raises(ConfigError):
        BillingSettings.from_context(Ctx())  # type: ignore[arg-type]

    class Sim:
        config = config_from_mapping({"profile": "simulator", "billing": {"max_files_per_union_per_day": 2}})

    settings = BillingSettings.from_context(Sim())  # type: ignore[arg-type]
    assert settings.max_files_per_union_per_day == 2 and settings.iban and settings.bce


def test_r36_matches_code_and_date_in_both_log_shapes():
    nested = {"patient": "p", "lines": [{"code": "301011", "date": "2026-10-03"}, {"code": "371254",
                                                                                  "date": "2026-10-04"}]}
    assert [x["code"] for x in _lines_of(nested)] == ["301011", "371254"]
    flat = {"patient": "p", "code": "301011", "service_date": "2026-10-03", "lines": 2}
    assert [x["code"] for x in _lines_of(flat)] == ["301011"]
    consulted = [ConsultedLine("p", "301011", dt.date(2026, 10, 3), None, "priced", None, "2026-10-03")]
    assert consultation_for(consulted, line(code="0301011", date=dt.date(2026, 10, 3))) is not None
    assert consultation_for(consulted, line(code="301011", date=dt.date(2026, 10, 4))) is None
    assert consultation_for(consulted, line(code="301033", date=dt.date(2026, 10, 3))) is None


def test_plugin_declares_the_billing_service():
    from mycarenet_dental_billing import plugin, simulator

    (spec,) = list(plugin.mycarenet_dental_services())
    assert (spec.name, spec.annex, spec.mandatable, spec.consultation) == ("billing", "Annex 4", True, False)
    (route,) = list(simulator.mycarenet_dental_simulator_routes())
    assert route.path == "/mycarenet-ws/async/generic/hcpfac" and len(route.soap_actions) == 3
    assert {r.id for r in plugin.mycarenet_dental_rules()} == {"R31", "R36", "R39"}
    (step,) = list(simulator.mycarenet_dental_demo_steps())
    assert step.order == 80
