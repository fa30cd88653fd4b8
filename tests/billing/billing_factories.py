"""Builders of valid eFact models for the billing tests (synthetic identifiers with valid check digits)."""

from __future__ import annotations

import datetime as dt

from mycarenet_dental.coded import Sex
from mycarenet_dental_billing.efact.controls import record_control_text
from mycarenet_dental_billing.efact.model import (
    Commitment,
    IdentityCheck,
    Invoice,
    PreviousInvoice,
    Sending,
    SendingHeader,
    ServiceLine,
)
from mycarenet_dental_billing.efact.writer import to_text


def nihii(base6: str, qualification: str = "001") -> str:
    return f"{base6}{97 - int(base6) % 97:02d}{qualification}"


def ssin(base9: int, *, after_2000: bool = False) -> str:
    n = 2_000_000_000 + base9 if after_2000 else base9
    return f"{base9:09d}{97 - n % 97:02d}"


def bce(base8: int) -> str:
    return f"{base8:08d}{97 - base8 % 97:02d}"


DENTIST = nihii("300123")
DENTIST_2 = nihii("312345", "007")
PATIENT = ssin(850730033)
PATIENT_2 = ssin(170730033, after_2000=True)
IBAN = "BE68539007547034"
CREATED = dt.date(2026, 11, 2)
TODAY = dt.date(2026, 11, 25)


def header(**kw: object) -> SendingHeader:
    values: dict[str, object] = dict(
        sending_number=5, third_party=DENTIST, invoicing_year=2026, invoicing_month=10, creation_date=CREATED,
        reference=20261130000005, bce=bce(12345674), iban=IBAN, bic="GEBABEBB", contact_last_name="Dupont",
        contact_first_name="Anne", contact_phone="0471123456", file_reference="F5", sender_reference="PRACTICE-5",
    )
    values.update(kw)
    return SendingHeader(**values)  # type: ignore[arg-type]


def line(**kw: object) -> ServiceLine:
    values: dict[str, object] = dict(code="301011", date=dt.date(2026, 10, 3), reimbursement=2500, provider=DENTIST,
                                     patient_share=500, tooth=36, reference="L1")
    values.update(kw)
    return ServiceLine(**values)  # type: ignore[arg-type]


def invoice(number: int = 1, lines: tuple[ServiceLine, ...] | None = None, **kw: object) -> Invoice:
    values: dict[str, object] = dict(number=number, patient_id=PATIENT, sex=Sex.MALE, mutuality="319", destination="300",
                                     ct1="110", ct2="110", reference=f"INV{number}")
    values.update(kw)
    return Invoice(lines=lines or (line(),), **values)  # type: ignore[arg-type]


def rich_sending() -> Sending:
    """Two destinations, records 51 and 52, account B, a credit note, a multi-day act."""
    day = dt.date(2026, 10, 3)
    ident = IdentityCheck(input_type="1", support_type="1", reader=DENTIST, read_date=day, read_time="1015")
    commit = Commitment("ABC123XYZ", day)
    inv1 = invoice(1, (
        line(commitment=commit, identity_check=ident),
        line(code="0371254", tooth=None, reimbursement=1800, patient_share=0, supplement=250, reference="L2"),
        line(code="305594", tooth=55, end_date=dt.date(2026, 10, 10), units=2, account_b=True, reference="L3"),
    ))
    inv2 = invoice(2, (line(provider=DENTIST_2, related_code="301033"),), patient_id=PATIENT_2, sex=Sex.FEMALE,
                   mutuality="306", destination="306")
    credit = invoice(3, (line(reimbursement=-2500, patient_share=-500, units=-1),), invoicing_type=3,
                     previous=PreviousInvoice(number=77, sending_number=4, mutuality="300", year_month="202609"))
    return Sending.build(header(), [inv1, credit, inv2])


def simple_text() -> str:
    return to_text(Sending(header(), (invoice(1),)))


def records_of(text: str) -> tuple[str, list[str]]:
    return text[:227], [text[i:i + 350] for i in range(227, len(text), 350)]


def replace_zone(text: str, record_index: int, start: int, value: str, *, fix_control: bool = True) -> str:
    """Overwrite 1-based ``start`` of record ``record_index`` (0 = first record after the headers)."""
    head, recs = records_of(text)
    r = recs[record_index]
    r = r[:start - 1] + value + r[start - 1 + len(value):]
    if fix_control and r[:2] not in ("95", "96"):
        r = r[:348] + record_control_text(r)
    recs[record_index] = r
    return head + "".join(recs)
