"""``kmehr.request_bytes`` (requests written directly) against ``to_bytes(build_request(...))``: the same bytes,
or the same error, on tariff/GMD requests with every kind of value, including ones XML must escape or refuses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest
from mycarenet_dental.protocols import kmehr
from mycarenet_dental.sim import schemas

DENTIST = kmehr.HcParty.person(kind="persdentist", nihii="31234592001", ssin="85073003328", firstname="Anne",
                               familyname="Simulaar")


def _request(**changes: object) -> kmehr.RetrieveTransactionRequest:
    items = [kmehr.Item(cd=kmehr.Code("CD-ITEM", "encounterdatetime"), contents=[kmehr.Content(date=dt.date(2026, 11, 2))]),
             kmehr.Item(cd=kmehr.Code("CD-ITEM", "claim", sl="sl", dn="dn"), contents=[
                 kmehr.Content(cds=[kmehr.Code("CD-NIHDI", "302153")]), kmehr.Content(ids=[kmehr.Code("ID-KMEHR", "9")]),
                 kmehr.Content(text="a note"), kmehr.Content(boolean=False), kmehr.Content(decimal=Decimal("1.5")),
                 kmehr.Content(hcparty=kmehr.HcParty.insurer("306", name="Mutualité"))],
                 beginmoment=dt.date(2026, 1, 1), endmoment=dt.date(2026, 2, 1), cost=kmehr.Cost("12.345"))]
    header = kmehr.RequestHeader(id="31234592001.1", author=[DENTIST], date=dt.date(2026, 11, 2), time=dt.time(9, 30),
                                 maxrows=changes.pop("maxrows", None))  # type: ignore[arg-type]
    tx = kmehr.TransactionSelect(cd=kmehr.Code("CD-TRANSACTION-MYCARENET", "tariff", sv="1.1"), author=[DENTIST],
                                 items=items, begindate=changes.pop("begindate", None),  # type: ignore[arg-type]
                                 enddate=changes.pop("enddate", None))  # type: ignore[arg-type]
    request = kmehr.RetrieveTransactionRequest(header=header, transaction=tx, protocol_version="1.16",
                                               patient=kmehr.PatientSelector(ssin="85073003328"))
    return attrs.evolve(request, **changes)


def _named(name: str) -> kmehr.RetrieveTransactionRequest:
    party = kmehr.HcParty.person(kind="persdentist", nihii="31234592001", familyname=name)
    req = _request()
    return attrs.evolve(req, header=attrs.evolve(req.header, author=(party,)))


def _code_value(value: object) -> kmehr.RetrieveTransactionRequest:
    req = _request()
    cd = kmehr.Code("CD-TRANSACTION-MYCARENET", "tariff")
    object.__setattr__(cd, "value", value)  # a value the Code validator would refuse, as a caller could smuggle
    return attrs.evolve(req, transaction=attrs.evolve(req.transaction, cd=cd))


CASES = {
    "tariff": lambda: _request(),
    "membership+sex": lambda: _request(patient=kmehr.PatientSelector(insurer="306", membership="3060871", sex="female")),
    "maxrows+dates": lambda: _request(maxrows=3, begindate=dt.date(2026, 1, 1), enddate=dt.date(2026, 2, 1)),
    "no protocol version": lambda: _request(protocol_version=None),
    "no patient": lambda: _request(patient=None),
    "unicode name": lambda: _named("Dupré-Ñúñez 𝔘"),
    "ampersand": lambda: _named("A & B"),
    "angle": lambda: _named("<b>"),
    "quote": lambda: _named('say "hi"'),
    "apostrophe": lambda: _named("d'Hondt"),
    "newline": lambda: _named("two\nlines"),
    "control char": lambda: _named("bell\x07"),
    "nbsp": lambda: _named("a\u00a0b"),
    "empty name": lambda: _named(""),
    "empty request id": lambda: _request(header=kmehr.RequestHeader(id="", author=[DENTIST], date=dt.date(2026, 1, 1),
                                                                     time=dt.time(1, 2))),
    "no author": lambda: _request(header=kmehr.RequestHeader(id="1.1", author=[], date=dt.date(2026, 1, 1),
                                                             time=dt.time(1, 2))),
    "empty content": lambda: _request(transaction=kmehr.TransactionSelect(
        cd=kmehr.Code("CD-TRANSACTION-MYCARENET", "tariff"),
        items=[kmehr.Item(cd=kmehr.Code("CD-ITEM", "claim"), contents=[kmehr.Content()])])),
    "int code value": lambda: _code_value(7),
    "empty hcparty": lambda: _request(transaction=kmehr.TransactionSelect(
        cd=kmehr.Code("CD-TRANSACTION-MYCARENET", "tariff"), author=[kmehr.HcParty(cds=())])),
}


def _outcome(fn, request):  # noqa: ANN001, ANN202 - a tiny comparison helper
    try:
        return ("ok", fn(request))
    except Exception as exc:  # noqa: BLE001 - which error is the point
        return ("error", type(exc), str(exc))


def test_direct_bytes_equal_the_tree_writer_or_raise_the_same() -> None:
    direct_taken = 0
    for name, make in CASES.items():
        request = make()
        expected = _outcome(lambda r: kmehr.to_bytes(kmehr.build_request(r)), request)
        assert _outcome(kmehr.request_bytes, request) == expected, name
        direct_taken += expected[0] == "ok" and b"&" not in expected[1]
    assert direct_taken >= 6


def test_direct_bytes_validate_against_the_official_schema() -> None:
    from mycarenet_dental.xmlsafe import parse_xml

    schema = schemas.schema("kmehr-messageservices")
    if schema is None:
        pytest.skip("official schemas not available")
    for name in ("tariff", "membership+sex", "maxrows+dates", "unicode name"):
        assert schema.validate(parse_xml(kmehr.request_bytes(CASES[name]()))), (name, schema.error_log)


def test_plain_requests_never_build_the_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    from mycarenet_dental.protocols.kmehr import serialize

    expected = {name: kmehr.to_bytes(kmehr.build_request(CASES[name]())) for name in ("tariff", "unicode name")}
    monkeypatch.setattr(serialize, "build_request", None)  # the general writer is out of reach
    for name, data in expected.items():
        assert kmehr.request_bytes(CASES[name]()) == data
