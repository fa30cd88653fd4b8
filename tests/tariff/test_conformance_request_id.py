"""Issue 12.2: the KMEHR ``request/id`` suffix is ``CommonInput/InputReference`` (Tarification).

The reference connectors build ``<NIHII11>.<InputReference>``; MyCareNet answers 155 ("request id
inconsistent") on ``/RetrieveTransactionRequest/request/id`` otherwise, and so does the simulator.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from mycarenet_dental.protocols import commons, kmehr
from mycarenet_dental.sim.population import base_population
from mycarenet_dental.xmlsafe import parse_xml
from mycarenet_dental_tariff import TariffBusinessError, TariffClient, make_query
from mycarenet_dental_tariff.client import SOAP_ACTION, parse_answer

REGULAR = base_population()[0].ssin


def _build(ctx: Any) -> tuple[Any, Any, str, str]:
    query = make_query(REGULAR, ["301011"], service_date=dt.date.today())
    exchange = ctx.new_exchange("tariff", "TarificationConsultation", patient=REGULAR)
    body, request_id, input_reference = TariffClient(ctx).build(query, exchange)
    return query, body, request_id, input_reference


def _blob(body: Any) -> Any:
    return parse_xml(commons.parse_blob(body.find(f"{{{commons.V2.protocol_ns}}}Detail")).content)


def test_request_id_suffix_is_the_input_reference(ctx: Any) -> None:
    _, body, request_id, input_reference = _build(ctx)
    sent_reference = body.findtext(f".//{{{commons.V2.core_ns}}}InputReference")
    header_id = kmehr.parse_request(_blob(body)).header.id
    nihii = ctx.config.require_dentist().nihii
    assert sent_reference == input_reference and header_id == request_id
    assert header_id == f"{nihii.zfill(11)}.{sent_reference}"


def test_simulator_answers_155_when_the_suffix_differs(ctx: Any) -> None:
    query, body, request_id, _ = _build(ctx)
    detail = body.find(f"{{{commons.V2.protocol_ns}}}Detail")
    blob = _blob(body)
    c = kmehr.NS_MS_CORE
    id_el = blob.find(f"{{{c}}}request/{{{c}}}id")
    id_el.text = id_el.text.split(".")[0] + ".20261201120000abcdef"  # what the old client sent: an own suffix
    detail.text = commons.blob_element(commons.V2, commons.make_blob(kmehr.to_bytes(blob), id="blob")).text
    reply = ctx.soap.call(TariffClient(ctx).url(), SOAP_ACTION, body, security=ctx.security.hok(), idempotent=True)
    with pytest.raises(TariffBusinessError) as info:
        parse_answer(reply.body_child, query, request_id=request_id)
    issue = next(i for i in info.value.issues if i.code == "155")
    assert issue.url == "/RetrieveTransactionRequest/request/id"


def test_kmehr_times_are_belgian_wall_clock(ctx: Any) -> None:
    """Issue 12.5 for KMEHR: request and answer date/time are the Belgian wall clock (no zone in KMEHR)."""
    from mycarenet_dental.timeutil import from_belgian

    _, body, _, _ = _build(ctx)
    sent = kmehr.parse_request(_blob(body)).header
    reply = ctx.soap.call(TariffClient(ctx).url(), SOAP_ACTION, body, security=ctx.security.hok(), idempotent=True)
    answer = kmehr.parse_response(parse_xml(commons.parse_response(commons.V2, reply.body_child).blob.content))
    now = dt.datetime.now(dt.timezone.utc)
    for day, clock in ((sent.date, sent.time), (answer.date, answer.time)):
        assert abs(from_belgian(dt.datetime.combine(day, clock)) - now) < dt.timedelta(minutes=5)
