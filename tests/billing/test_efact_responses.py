"""Responses: every type written by the response writer reads back to the same model; insurer quirks."""

from __future__ import annotations

import datetime as dt

import pytest
from mycarenet_dental_billing.efact import records as rl
from mycarenet_dental_billing.efact import response_writer as rw
from mycarenet_dental_billing.efact.reader import EfactFormatError
from mycarenet_dental_billing.efact.responses import (
    Acknowledgement,
    FileRefusal,
    PreliminaryControl,
    RefusalType,
    Rejection,
    SendingStatus,
    Settlement,
    read_response,
    status_of,
)
from mycarenet_dental_billing.efact.writer import to_text

from tests.billing.billing_factories import rich_sending, simple_text


@pytest.fixture
def sent() -> str:
    return to_text(rich_sending())


def _round_trip(resp: object) -> object:
    text = rw.write_response(resp)  # type: ignore[arg-type]
    back = read_response(text)
    assert back.response == resp
    return back


def test_acknowledgement(sent: str) -> None:
    ack = rw.acknowledge(sent, insurer_reference=123)
    text = rw.write_response(ack)
    assert len(text) == 227 and text[:6] == "931000" and text[20:34] == sent[20:34]  # zone 204 echoed
    assert text[67:73] == "920000"
    back = _round_trip(ack)
    assert isinstance(back.response, Acknowledgement) and status_of(back.response) is SendingStatus.RECEIVED
    # a bare S200 (some insurers) is read too
    assert isinstance(read_response(text[:67]).response, Acknowledgement)


def test_file_refusal(sent: str) -> None:
    resp = rw.refuse_file(sent, 9, segment300_errors={"3011": "40"}, bordereau_errors={"300": {"4041": "41"}})
    text = rw.write_response(resp)
    assert text[:6] == "920999" and (len(text) - 227) % 350 == 0
    back = _round_trip(resp)
    r = back.response
    assert isinstance(r, FileRefusal) and status_of(r) is SendingStatus.REJECTED
    assert ("S300", "3011/40") in [(w, c) for w, c, _ in r.errors]
    assert any(c == "4041/41" and "mutualit" in m.fr for _, c, m in r.errors)


def test_preliminary_refusal_and_acceptance(sent: str) -> None:
    rej = {3: [Rejection("R", "502940")], 1: [Rejection("B", "103602"), Rejection("B", "101810")]}
    refused = rw.preliminary(sent, 10, rej, refused=True, error_percentage=10000)
    text = rw.write_response(refused)
    assert text[:6] == "920099" and len(text) == 67 + 610 + 3 * 800  # ET10, the 50 in error, ET90
    back = _round_trip(refused).response
    assert isinstance(back, PreliminaryControl) and not back.accepted
    assert back.refusal_type is RefusalType.BLOCKING and back.segment300.error_percentage == 10000
    assert status_of(back) is SendingStatus.REFUSED
    r10 = back.records[0]
    assert r10.record_type == "10" and [str(x.code) for x in r10.rejections] == ["103602", "101810"]
    assert r10.rejections[0].blocking and "IBAN" in r10.rejections[0].messages.en
    line = back.rejected[1]
    assert line.record_type == "50" and line.line_reference == "L1" and line.refused
    # rejection codes sit at positions 457-477 of the 800-character record
    echoed = text[677 + 800:677 + 1600]
    assert echoed[456:463] == "R502940" and echoed[463:470] == " 000000"
    accepted = rw.preliminary(sent, 11, {}, refused=False)
    back = _round_trip(accepted).response
    assert back.accepted and back.rejected == () and status_of(back) is SendingStatus.ACCEPTED


def test_settlement(sent: str) -> None:
    resp = rw.settle(sent, 12, refused={6: [Rejection("R", "500546")]}, payment_reference="+++090/9337/55493+++",
                     created=dt.date(2026, 12, 1))
    text = rw.write_response(resp)
    assert text[:6] == "920900" and (len(text) - 677) % 800 == 0
    back = _round_trip(resp).response
    assert isinstance(back, Settlement) and status_of(back) is SendingStatus.SETTLED_PARTIAL
    lines = back.lines
    assert len(lines) == 5
    paid = {ln.sequence: ln.accepted_amount for ln in lines}
    assert paid[6] is None and paid[3] == 2500  # refused line has no paid amount
    m300 = next(t for t in back.mutualities if t.mutuality == "300")
    assert m300.payment_reference_a == "+++090/9337/55493+++"
    assert (m300.refused_a, m300.refused_b) == (1800, 0) and m300.accepted_a == m300.requested_a - 1800
    assert back.total is not None and back.total.mutuality == "399"
    assert back.total.accepted + back.total.refused == back.total.requested
    clean = rw.settle(sent, 13)
    assert status_of(_round_trip(clean).response) is SendingStatus.SETTLED_FULL


def test_insurer_fillers_and_blank_codes_are_ignored() -> None:
    """Real insurer echoes fill unused response zones with the record-type digit and blank codes with ' 0000  '."""
    resp = rw.preliminary(simple_text(), 1, {1: [Rejection("B", "103602")]}, refused=True)
    text = rw.write_response(resp)
    head, recs = text[:677], [text[i:i + 800] for i in range(677, len(text), 800)]
    r10 = recs[0][:350] + "1" * 106 + "B103602B101810 0000  " + "1" * (450 - 106 - 21)
    r90 = recs[1][:350] + "9" * 106 + " 0000  " * 3 + "9" * (450 - 106 - 21)
    # an insurer altered the echoed control digits of ET90 by +4
    r90 = r90[:348] + f"{(int(r90[348:350]) + 4) % 97:02d}" + r90[350:]
    back = read_response(head + r10 + r90)
    pc = back.response
    assert isinstance(pc, PreliminaryControl)
    assert [r.code for r in pc.records[0].rejections] == ["103602", "101810"]
    assert pc.records[1].rejections == () and pc.records[0].accepted_amount is None
    assert pc.records[0].created is None  # '11111111' is not a date
    [w] = back.warnings
    assert w.record_type == "90" and w.offset == 4


def test_response_layout_constants() -> None:
    assert rl.RESPONSE_TAIL.length == 450 and rl.SEGMENT300_EXTENDED.length == 610
    assert rl.RESPONSE_TAIL.zone("111a").start + 350 == 457 and rl.RESPONSE_TAIL.zone("114").start + 350 == 478
    assert rl.RECORD91.zone("423").start == 164 and rl.RECORD92.length == 800


def test_unknown_message_is_refused() -> None:
    with pytest.raises(EfactFormatError):
        read_response("123456" + "0" * 61)
