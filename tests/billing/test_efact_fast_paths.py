"""Speed paths give the same answers as the slow ones: fused write + validate, the memos of the fast paths."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import attrs
import pytest
from mycarenet_dental_billing.efact import records as rl
from mycarenet_dental_billing.efact.model import Invoice, PreviousInvoice, ServiceLine
from mycarenet_dental_billing.efact.reader import EfactFormatError, iter_invoices, read_sending
from mycarenet_dental_billing.efact.validator import ValidationOptions, validate, write_and_validate
from mycarenet_dental_billing.efact.writer import EfactWriter, write_invoices

from tests.billing.billing_factories import (
    DENTIST_2,
    TODAY,
    header,
    invoice,
    line,
    records_of,
    replace_zone,
    rich_sending,
)

OPTS = ValidationOptions(today=TODAY)


def _force(obj: object, **values: object) -> object:
    """A copy of a frozen model object with values its validators would refuse (a deliberately faulty invoice)."""
    copy = attrs.evolve(obj)  # type: ignore[misc]
    for name, value in values.items():
        object.__setattr__(copy, name, value)
    return copy


def _faulty_invoices() -> list[Invoice]:
    good = rich_sending().invoices
    bad_provider = _force(line(), provider="30012393001")  # NIHII check digits
    bad_sign = _force(line(), units=-1)  # units negative, reimbursement positive
    future = line(date=dt.date(2026, 11, 20))  # after the creation date
    old = line(date=dt.date(2024, 1, 3))  # beyond the limitation period, no lifting code
    positive_credit = invoice(
        40, (line(),), invoicing_type=3,
        previous=PreviousInvoice(number=7, sending_number=4, mutuality="300", year_month="202609"))
    return [
        *good[:2],
        invoice(10, (line(), bad_provider, line(tooth=None), bad_sign)),
        invoice(11, (line(), future, old), lifting_prescription=False),
        invoice(10, (line(),)),  # duplicate invoice number
        positive_credit,
        *good[2:],
    ]


def _separately(invoices: list[Invoice], opts: ValidationOptions) -> tuple[bytes, list]:
    buf = io.BytesIO()
    write_invoices(header(), invoices, buf)
    return buf.getvalue(), validate(buf.getvalue(), opts)


@pytest.mark.parametrize("opts", [
    OPTS,
    ValidationOptions(today=TODAY, tooth_required_codes=frozenset({"0301011"}), require_identity_check=True),
    ValidationOptions(today=TODAY, allowed_third_party_exceptions=frozenset("N")),
    ValidationOptions(today=dt.date(2026, 10, 15)),  # services in the future, creation date too
    ValidationOptions(today=dt.date(2029, 1, 1)),  # everything beyond the limitation period
])
def test_write_and_validate_gives_the_findings_of_validate(opts: ValidationOptions) -> None:
    invoices = _faulty_invoices()
    data, expected = _separately(invoices, opts)
    assert expected  # the file really is faulty
    buf = io.BytesIO()
    summary, findings = write_and_validate(header(), invoices, buf, opts)
    assert buf.getvalue() == data  # same bytes
    assert findings == expected
    assert summary.lines == sum(len(inv.lines) for inv in invoices)


def test_write_and_validate_on_a_clean_sending_and_a_text_stream() -> None:
    invoices = list(rich_sending().invoices)
    out = io.StringIO()
    summary, findings = write_and_validate(header(), invoices, out, OPTS)
    assert findings == [] == validate(out.getvalue(), OPTS)
    assert summary.records == len(records_of(out.getvalue())[1]) - 3  # 95, 95, 96 are not numbered


def test_write_and_validate_across_flushes() -> None:
    """The writer hands records over in batches (at each flush): small chunks give the same findings."""
    invoices = _faulty_invoices() * 3
    invoices = [attrs.evolve(inv, number=i + 1) for i, inv in enumerate(invoices)]
    invoices.sort(key=lambda inv: inv.destination)
    data, expected = _separately(invoices, OPTS)
    from mycarenet_dental_billing.efact.validator import _WriteTap

    tap = _WriteTap(OPTS)
    buf = io.BytesIO()
    w = EfactWriter(header(), buf, chunk=2, tap=tap)
    for inv in invoices:
        w.write_invoice(inv)
    w.close()
    assert buf.getvalue() == data
    assert tap.findings() == expected


R50 = 2  # index of the (first) record 50 in a file whose first invoice has one line


def _twice() -> str:
    """Two identical one-line invoices: the second record 50 repeats every zone the fast paths memoise."""
    buf = io.StringIO()
    write_invoices(header(), [invoice(1), invoice(2)], buf)
    return buf.getvalue()


@pytest.mark.parametrize(("start", "value", "code"), [
    (17, "20261126", "500510"),  # date in the future (same code, other date)
    (17, "20231001", "500546"),  # beyond the limitation period
    (10, "0000000", "500403"),  # code zero
    (51, "7", "501103"),  # account not 0/1
    (68, "030012393001", "501502"),  # provider NIHII
    (56, "030012393001", "501402"),  # place NIHII
    (115, "030012393001", "502402"),  # prescriber NIHII
    (271, "030012393001", "504902"),  # trainee NIHII
    (108, "-0001", "502212"),  # units sign differs from the reimbursement's
    (128, "-000000500", "502712"),  # share sign differs
    (165, "-000000001", "503012"),  # supplement sign differs
    (163, "19", "502903"),  # not an FDI tooth
    (175, "X", "503203"),  # third-party exception not allowed
])
def test_memoised_fast_path_still_reports_a_bad_value_after_a_good_one(start: int, value: str, code: str) -> None:
    text = _twice()
    assert validate(text, OPTS) == []
    second = R50 + 3  # 10, 20, 50, 80, 20, 50 …
    assert records_of(text)[1][second][:2] == "50"
    found = validate(replace_zone(text, second, start, value), OPTS)
    assert code in {f.code for f in found}
    assert all(f.record_index == second + 2 for f in found if f.code == code)


def test_date_memo_is_per_validator() -> None:
    """The date checks depend on the file's creation date: the same lines in another file are judged again."""
    text = _twice()
    assert validate(text, OPTS) == []
    early = io.StringIO()
    write_invoices(header(creation_date=dt.date(2026, 10, 2)), [invoice(1), invoice(2)], early)
    found = validate(early.getvalue(), OPTS)
    assert [f.record_index for f in found if f.code == "500510"] == [4, 7]  # both lines: after the creation date
    assert validate(text, OPTS) == []


def test_positions_hard_coded_in_the_fast_paths() -> None:
    """fast20/fast80 compare text slices rather than picked zones: the layouts must put them there."""
    same80 = {"7": (32, 35), "8a-8b": (35, 48), "9": (48, 49), "10": (49, 50), "14": (55, 67), "17": (80, 84),
              "18": (84, 87), "24-25": (114, 126), "32": (174, 175)}
    for zone, (start, stop) in same80.items():
        assert rl.RECORD20.slices[zone] == rl.RECORD80.slices[zone] == slice(start, stop)
    assert rl.RECORD20.slices["11"] == slice(50, 51) and rl.RECORD20.slices["16"] == slice(79, 80)
    assert rl.RECORD20.slices["27"] == slice(127, 137) and rl.RECORD20.slices["29-31"] == slice(162, 174)
    assert rl.RECORD51.slices["27"] == slice(127, 137)


# --- reader ------------------------------------------------------------------------------------


def test_reader_memo_builds_the_same_lines() -> None:
    """Lines read through the memoised groups equal those built by the validating constructor."""
    invoices = list(rich_sending().invoices)
    varied = [*invoices, attrs.evolve(invoices[0], number=90, lines=(
        line(place=DENTIST_2, prescriber=DENTIST_2, trainee=DENTIST_2, prescription_date=dt.date(2026, 9, 1),
             service_time="0930", derogation=3, side=2, convention=0, third_party_exception="N", norm=1,
             time_code=2, provider_norm=0, prescriber_norm=1, billing_code=4),
        line(tooth=None, end_date=dt.date(2026, 10, 9), units=3, account_b=True, related_code="301033"),
    ))]
    varied.sort(key=lambda inv: inv.destination)
    buf = io.BytesIO()
    write_invoices(header(), varied, buf)
    for _ in range(2):  # the second time, every group comes from the memos
        read = list(iter_invoices(buf.getvalue()))
        assert read == varied
        for got, want in zip(read, varied, strict=True):
            for a, b in zip(got.lines, want.lines, strict=True):
                assert ServiceLine(**attrs.asdict(b, recurse=False)) == a


def test_reader_memo_still_refuses_a_bad_value_after_a_good_one() -> None:
    text = _twice()
    assert len(read_sending(text).sending.invoices) == 2
    second = R50 + 3
    with pytest.raises(EfactFormatError, match="Z5"):
        list(iter_invoices(replace_zone(text, second, 17, "20261399")))  # not a date
    with pytest.raises(EfactFormatError):
        list(iter_invoices(replace_zone(text, second, 68, "030012393001")))  # provider NIHII
    with pytest.raises(EfactFormatError):
        list(iter_invoices(replace_zone(text, second, 177, "7")))  # side out of range
    with pytest.raises(EfactFormatError):
        list(iter_invoices(replace_zone(text, second, 179, "2560")))  # not a time


def test_memos_start_again_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """A full memo is cleared, not frozen: answers stay right whatever the limit."""
    from mycarenet_dental_billing.efact import reader, validator_lines, validator_zones

    monkeypatch.setattr(reader, "_MEMO_LIMIT", 2)
    memos: dict[str, Any] = {"_MEMO_LIMIT": 2, "_GOOD_AMOUNTS50": {}, "_GOOD_MID50": set()}
    for module in (validator_zones, validator_lines):  # the same objects wherever the validator's parts read them
        for name, value in memos.items():
            if hasattr(module, name):
                monkeypatch.setattr(module, name, value)
    for name in ("_HEAD50", "_MID50", "_RX50", "_TAIL50"):
        monkeypatch.setattr(reader, name, {})
    invoices = _faulty_invoices()
    data, expected = _separately(invoices, OPTS)
    _, findings = write_and_validate(header(), invoices, io.BytesIO(), OPTS)
    assert findings == expected
    assert len(memos["_GOOD_AMOUNTS50"]) <= 2 and len(memos["_GOOD_MID50"]) <= 2
    good = list(rich_sending().invoices)
    buf = io.BytesIO()
    write_invoices(header(), good, buf)
    assert list(iter_invoices(buf.getvalue())) == good
    assert all(len(m) <= 2 for m in (reader._HEAD50, reader._MID50, reader._RX50, reader._TAIL50))


# --- writer ------------------------------------------------------------------------------------


def _random_lines(n: int) -> list[ServiceLine]:
    import random

    rnd = random.Random(8)
    out = []
    for i in range(n):
        big = rnd.random() < 0.2
        out.append(line(
            code=rnd.choice(("301011", "0371254", "305594")), date=dt.date(2026, 10, 1 + i % 28),
            reimbursement=rnd.choice((0, 1, 2500, -2500, 10**8 - 1 if big else 7, -(10**8 - 1))),
            patient_share=rnd.choice((0, 500, -500, 10**8 - 1)), supplement=rnd.choice((0, 250, -1, 10**8 - 1)),
            units=rnd.choice((1, 2, -1, 9999, -9999)), tooth=rnd.choice((None, 11, 36, 55, 85)),
            end_date=rnd.choice((None, dt.date(2026, 10, 29))), related_code=rnd.choice((None, "301033")),
            account_b=rnd.random() < 0.3, norm=rnd.randrange(10), time_code=rnd.randrange(10),
            provider_norm=rnd.randrange(10), place=rnd.choice((None, DENTIST_2)),
            prescriber=rnd.choice((None, DENTIST_2)), prescriber_norm=rnd.randrange(10),
            prescription_date=rnd.choice((None, dt.date(2026, 9, 30))), derogation=rnd.randrange(100),
            reference=rnd.choice(("", "L1", "X" * 25, "a b c")), third_party_exception=rnd.choice("0123456789N"),
            billing_code=rnd.randrange(10), side=rnd.randrange(3), convention=rnd.randrange(10),
            service_time=rnd.choice((None, "0930", "2359")), trainee=rnd.choice((None, DENTIST_2)),
        ))
    return out


def test_record_50_by_join_is_the_template_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``str.join`` path of record 50 writes exactly what the ``%`` template writes."""
    from mycarenet_dental_billing.efact import writer

    lines = _random_lines(300)
    invoices = [invoice(i + 1, tuple(lines[i * 3:i * 3 + 3])) for i in range(100)]

    def write() -> bytes:
        buf = io.BytesIO()
        write_invoices(header(), invoices, buf)
        return buf.getvalue()

    fast = write()
    monkeypatch.setattr(writer, "_D1", {})  # every line now falls back to the template
    assert write() == fast



@pytest.mark.parametrize(("field", "value", "zone"), [("reimbursement", 10**11, "19"), ("units", 10**4, "22"),
                                                      ("tooth", 100, "29"), ("norm", 10, "3")])
def test_record_50_value_that_does_not_fit_is_named(field: str, value: int, zone: str) -> None:
    from mycarenet_dental.errors import UsageError

    bad = _force(line(), **{field: value})
    with pytest.raises(UsageError, match=f"zone {zone}:"):
        write_invoices(header(), [invoice(1, (bad,))], io.BytesIO())  # type: ignore[arg-type]


def test_trusted_line_is_a_genuine_frozen_service_line() -> None:
    """The reader's trusted constructor (mutable twin, then its class) gives an ordinary ServiceLine."""
    import pickle

    from mycarenet_dental_billing.efact.model import _trusted_service_line

    want = line(place=DENTIST_2, end_date=dt.date(2026, 10, 9))
    got = _trusted_service_line(*(getattr(want, a.name) for a in attrs.fields(ServiceLine)))
    assert type(got) is ServiceLine and got == want and hash(got) == hash(want)
    assert pickle.loads(pickle.dumps(got)) == want
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        got.code = "0301033"  # type: ignore[misc]
    assert attrs.evolve(got, reimbursement=1) == attrs.evolve(want, reimbursement=1)


# --- fast paths against the general paths ---------------------------------------------------------
# Issue 13 property 6 keeps two paths in the validator and the reader only because one path is too slow
# (write + validate 38,900 lines/s with the fast paths off, ~66,000 with them, target 60,000): so the two
# must agree, on clean files and on files with one zone spoiled anywhere in records 20, 50, 51, 52 and 80.


def _general_validator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every record through the general path (the fast paths decline everything)."""
    from mycarenet_dental_billing.efact.validator import _Validator

    for name in ("fast20", "fast50", "fast51", "fast80"):
        monkeypatch.setattr(_Validator, name, lambda self, *args: False)


def _general_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every record 50 through the general path, every invoice through the validating constructor."""
    import re

    from mycarenet_dental_billing.efact import reader

    monkeypatch.setattr(reader, "_READ50", re.compile(r"(?!)"))
    monkeypatch.setattr(reader, "_checked_invoice", lambda *args: None)


def _rich_text() -> str:
    buf = io.StringIO()
    write_invoices(header(), [*rich_sending().invoices], buf)
    return buf.getvalue()


def _spoiled_files(text: str, count: int) -> list[str]:
    """``count`` copies of ``text``, each with one zone of a record 20/50/51/52/80 spoiled (seeded)."""
    import random

    rnd = random.Random(13)
    _, recs = records_of(text)
    targets = [(i, rl.RECORD_LAYOUTS[r[:2]]) for i, r in enumerate(recs) if r[:2] in ("20", "50", "51", "52", "80")]
    out = []
    while len(out) < count:
        index, layout = rnd.choice(targets)
        zone = rnd.choice([z for z in layout.zones if z.name not in ("1", "2", "98", "99")])
        n = zone.length
        value = rnd.choice(("9" * n, "0" * n, " " * n, ("X" + "0" * n)[:n], ("-" + "0" * n)[:n],
                            ("1" + "0" * n)[-n:], "".join(rnd.choice("0123456789") for _ in range(n))))
        spoiled = replace_zone(text, index, zone.start, value)
        if spoiled != text:
            out.append(spoiled)
    return out


def _read_outcome(text: str) -> object:
    try:
        return list(iter_invoices(text))
    except EfactFormatError as exc:
        return ("error", str(exc))


def test_validator_fast_paths_agree_with_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    invoices = _faulty_invoices()
    faulty, _ = _separately(invoices, OPTS)
    files = [_rich_text(), _twice(), faulty.decode("latin-1"), *_spoiled_files(_rich_text(), 250)]
    fast = [validate(text, OPTS) for text in files]
    assert sum(1 for found in fast if found) > 200  # the spoiled files really are faulty
    _general_validator(monkeypatch)
    assert [validate(text, OPTS) for text in files] == fast
    _, fused = write_and_validate(header(), invoices, io.BytesIO(), OPTS)
    assert fused == fast[2]


def test_reader_fast_paths_agree_with_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    files = [_rich_text(), _twice(), *_spoiled_files(_rich_text(), 250)]
    fast = [_read_outcome(text) for text in files]
    assert sum(1 for outcome in fast if isinstance(outcome, tuple)) > 50  # many spoiled files are refused
    _general_reader(monkeypatch)
    assert [_read_outcome(text) for text in files] == fast


def _zone_at(text: str, kind: str, zone: str, value: str, nth: int = 0) -> str:
    """``text`` with ``zone`` of the ``nth`` record of type ``kind`` set to ``value`` (control digits redone)."""
    _, recs = records_of(text)
    index = [i for i, r in enumerate(recs) if r[:2] == kind][nth]
    return replace_zone(text, index, rl.RECORD_LAYOUTS[kind].by_name[zone].start, value)


@pytest.mark.parametrize(("kind", "zone", "value", "nth", "says"), [
    ("52", "10", " ", 0, "support_type"),  # identity support type out of its list (was a ValueError)
    ("52", "9", "9", 0, "input_type"),
    ("20", "9", "3", 0, "sex"),  # was a ValueError from attrs' in_ validator
    ("20", "11", "7", 0, "invoicing_type"),
    ("20", "34-36", "000", 1, "sending_number"),  # previous invoice of the credit note (was a bare UsageError)
])
def test_reader_refuses_a_bad_code_with_a_format_error(kind: str, zone: str, value: str, nth: int,
                                                       says: str) -> None:
    """A read file's out-of-list code is an EfactFormatError naming the record, never a traceback."""
    spoiled = _zone_at(_rich_text(), kind, zone, value, nth)
    with pytest.raises(EfactFormatError, match=rf"{says}.*\(at (invoice ending at )?record \d+"):
        list(iter_invoices(spoiled))


@pytest.mark.parametrize("general", [False, True])
def test_bad_record_50_date_names_record_and_zone_on_both_paths(monkeypatch: pytest.MonkeyPatch,
                                                                general: bool) -> None:
    if general:
        _general_reader(monkeypatch)
    with pytest.raises(EfactFormatError, match=r"record 4 \(ET50\) Z6: '20261399'"):
        list(iter_invoices(_zone_at(_rich_text(), "50", "6a-6b", "20261399")))
