"""The fast path of ``kmehr.parse_response`` (``protocols/kmehr/quick.py``) against the general reader: on real
answers and on every one-element breakage of them, the same records (incl. item positions) or the same error."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from mycarenet_dental.protocols import kmehr
from mycarenet_dental.protocols.kmehr import quick
from mycarenet_dental.protocols.kmehr.read import parse_response_general
from mycarenet_dental.xmlsafe import parse_xml

SIM_ANSWER = Path(__file__).parent / "data" / "tariff-answer-sim.xml"  # a tariff answer of the simulator, as sent


def _rich_answer() -> bytes:
    """Every content kind, moments, a recipient, maxrows, a currency, two transactions (a DMG-like one)."""
    insurer = kmehr.HcParty.insurer("306", name="Mutualité")
    dentist = kmehr.HcParty.person(kind="persdentist", nihii="31234592001", ssin="85073003328", firstname="Anne",
                                   familyname="Simulaar")
    header = kmehr.RequestHeader(id="31234592001.1", author=[dentist], date=dt.date(2026, 11, 2),
                                 time=dt.time(9, 30), maxrows=5)
    items = [kmehr.Item(cd=kmehr.Code("CD-ITEM", "gmdmanager", sl="x", dn="GMD"), contents=[
        kmehr.Content(hcparty=dentist), kmehr.Content(text=" a note "), kmehr.Content(boolean=True),
        kmehr.Content(date=dt.date(2026, 1, 2)), kmehr.Content(decimal=kmehr.Cost("1.5").amount),
        kmehr.Content(ids=[kmehr.Code("ID-KMEHR", "77")])],
        beginmoment=dt.date(2025, 1, 1), endmoment=dt.date(2026, 12, 31)),
        kmehr.Item(cd=kmehr.Code("CD-ITEM-MYCARENET", "fee"), cost=kmehr.Cost("12.5", currency="eur"))]
    txs = [kmehr.Transaction(cd=kmehr.Code("CD-TRANSACTION-MYCARENET", "gmd", sv="1.1"), author=[insurer],
                             date=dt.date(2026, 11, 2), time=dt.time(9, 30, 1), items=items, isvalidated=False),
           kmehr.Transaction(cd=kmehr.Code("CD-TRANSACTION-MYCARENET", "tariff", sv="1.1"), author=[insurer],
                             date=dt.date(2026, 11, 2), time=dt.time(9, 30, 1), items=items[1:])]
    answer = kmehr.RetrieveTransactionResponse(
        id="306.1", author=[insurer], date=dt.date(2026, 11, 2), time=dt.time(9, 30, 1), request=header,
        complete=True, recipient=[dentist], protocol_version="1.16", transactions=txs, patient=kmehr.KmehrPatient(
            ssin="85073003328", firstnames=("Lucas", "Jan"), familyname="Janssens", birthdate=dt.date(1985, 7, 30),
            sex="male", insurance=kmehr.Insurance("306", "3060871", dt.date(2015, 1, 1), None, "131", "131")))
    return kmehr.to_bytes(kmehr.build_response(answer))


def _outcome(read: object, element: etree._Element) -> tuple[object, ...]:
    try:
        result = read(element)  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - the comparison is about which error, whatever it is
        return ("error", type(exc), str(exc), getattr(exc, "code", None), getattr(exc, "location", None))
    return ("ok", result, repr(result))  # repr: Item.position is not part of ==


def _breakages(data: bytes) -> Iterator[bytes]:
    """Each element removed, emptied, given a bad value, or stripped of its S attribute."""
    count = sum(1 for _ in parse_xml(data).iter())
    for index in range(count):
        for how in ("remove", "empty", "bad", "no-s", "dup"):
            root = parse_xml(data)
            el = list(root.iter())[index]
            parent = el.getparent()
            if how == "remove" and parent is not None:
                parent.remove(el)
            elif how == "empty" and len(el) == 0:
                el.text = "  "
            elif how == "bad" and len(el) == 0:
                el.text = "x1"
            elif how == "no-s" and el.get("S") is not None:
                del el.attrib["S"]
            elif how == "dup" and parent is not None:
                parent.insert(parent.index(el), copy.deepcopy(el))
            else:
                continue
            yield etree.tostring(root)


@pytest.mark.parametrize("source", ["sim", "rich"])
def test_fast_path_reads_real_answers_like_the_general_reader(source: str) -> None:
    data = SIM_ANSWER.read_bytes() if source == "sim" else _rich_answer()
    element = parse_xml(data)
    fast = quick.quick_response(element)
    assert fast is not None, "the fast path gave up on a well-formed answer"
    general = parse_response_general(element)
    assert fast == general and repr(fast) == repr(general)
    assert kmehr.parse_response(element) == general


@pytest.mark.parametrize("source", ["sim", "rich"])
def test_fast_path_gives_the_general_result_or_error_on_every_breakage(source: str) -> None:
    data = SIM_ANSWER.read_bytes() if source == "sim" else _rich_answer()
    played = fast_taken = 0
    for broken in _breakages(data):
        element = parse_xml(broken)
        assert _outcome(kmehr.parse_response, element) == _outcome(parse_response_general, element), broken
        played += 1
        fast_taken += quick.quick_response(element) is not None
    assert played > 300 and 0 < fast_taken < played  # both paths were exercised


def test_acknowledge_errors_take_the_general_path() -> None:
    insurer = kmehr.HcParty.insurer("306")
    header = kmehr.RequestHeader(id="1.1", author=[insurer], date=dt.date(2026, 11, 2), time=dt.time(9, 30))
    element = kmehr.build_response(kmehr.RetrieveTransactionResponse(
        id="306.2", author=[insurer], date=dt.date(2026, 11, 2), time=dt.time(9, 30, 1), request=header,
        complete=False, errors=[kmehr.AckError.of("130", "unknown code", "/RetrieveTransactionRequest/select")]))
    assert quick.quick_response(element) is None
    assert kmehr.parse_response(element).errors[0].code == "130"


def test_code_cache_is_keyed_on_text_and_every_attribute() -> None:
    base = SIM_ANSWER.read_bytes()
    first = kmehr.parse_response(parse_xml(base))
    changed = kmehr.parse_response(parse_xml(base.replace(b'SV="1.1">tariff<', b'SV="1.1" DN="t">tariff<', 1)))
    assert first.transactions[0].cd.dn is None and changed.transactions[0].cd.dn == "t"
    quick._CODES.clear()
    assert kmehr.parse_response(parse_xml(base)) == first
