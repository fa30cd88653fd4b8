"""Property: write → read is the identity on the typed model, and what we write passes our validator."""

from __future__ import annotations

import datetime as dt
import io

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from mycarenet_dental.coded import Sex
from mycarenet_dental_billing.efact.model import (
    FDI_TEETH,
    Commitment,
    IdentityCheck,
    Invoice,
    PreviousInvoice,
    Sending,
    SendingHeader,
    ServiceLine,
)
from mycarenet_dental_billing.efact.reader import iter_invoices, read_sending
from mycarenet_dental_billing.efact.validator import ValidationOptions, validate
from mycarenet_dental_billing.efact.writer import to_bytes, write_sending

from tests.billing.billing_factories import bce, nihii, ssin

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -.'"
CREATED = dt.date(2026, 11, 2)
# no shrinking: a failing example is printed as is (shrinking 100-line sendings takes minutes)
_PHASES = (Phase.explicit, Phase.reuse, Phase.generate)

providers = st.sampled_from([nihii("300123"), nihii("312345", "007"), nihii("399999", "010")])
dates = st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2026, 10, 31))
text = st.text(alphabet=ALNUM, max_size=25)
codes = st.integers(min_value=1, max_value=999_999).map(lambda n: f"{n:06d}")


def _amount(limit: int, sign: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=limit).map(lambda v: sign * v)


@st.composite
def lines(draw: st.DrawFn, credit: bool) -> ServiceLine:
    sign = -1 if credit else 1
    day = draw(dates)
    commitment = draw(st.none() | st.builds(Commitment, number=st.text(alphabet=ALNUM.replace(" ", ""), min_size=1, max_size=48),
                                            communicated=dates))
    identity = draw(st.none() | st.builds(
        IdentityCheck, input_type=st.sampled_from("123A"), support_type=st.sampled_from("01234567"), reader=providers,
        read_date=st.none() | dates, read_time=st.none() | st.sampled_from(["0000", "0915", "2359"]),
        serial=st.text(alphabet=ALNUM, max_size=15), justification=st.none() | st.integers(1, 10**25 - 1),
        device=st.none() | st.integers(1, 10**12 - 1)))
    return ServiceLine(
        code=draw(codes), date=day, reimbursement=draw(_amount(10**9, sign)), provider=draw(providers),
        patient_share=draw(_amount(10**7, sign)), supplement=draw(_amount(10**7, sign)),
        tooth=draw(st.none() | st.sampled_from(sorted(FDI_TEETH))),
        end_date=draw(st.none() | st.just(day + dt.timedelta(days=3))),
        units=sign * draw(st.integers(1, 99)), related_code=draw(st.none() | codes),
        account_b=draw(st.booleans()), norm=draw(st.integers(0, 9)), time_code=draw(st.integers(0, 4)),
        provider_norm=draw(st.integers(0, 9)), place=draw(st.none() | providers),
        prescriber=draw(st.none() | providers), prescriber_norm=draw(st.integers(0, 9)),
        prescription_date=draw(st.none() | dates), derogation=draw(st.integers(0, 4)), reference=draw(text),
        third_party_exception=draw(st.sampled_from("0123N")), billing_code=draw(st.integers(0, 9)),
        side=draw(st.integers(0, 2)), convention=draw(st.integers(0, 9)),
        service_time=draw(st.none() | st.sampled_from(["0800", "1230"])), trainee=draw(st.none() | providers),
        commitment=commitment, identity_check=identity,
    )


@st.composite
def invoices(draw: st.DrawFn, number: int, destination: str) -> Invoice:
    credit = draw(st.booleans()) and draw(st.booleans())
    kind = 3 if credit else draw(st.sampled_from([0, 0, 1]))
    with_ssin = draw(st.booleans()) or True
    after_2000 = draw(st.booleans())
    # a 2000+ SSIN exists only for a birth year that is not in the future (identifiers.Ssin.parse)
    top = (dt.date.today().year - 2000 + 1) * 10**7 - 1 if after_2000 else 999_999_999
    patient = ssin(draw(st.integers(1, top)), after_2000=after_2000) if with_ssin else "1"
    prev = None
    if kind in (1, 3):
        prev = PreviousInvoice(number=draw(st.integers(1, 10**12 - 1)), sending_number=draw(st.integers(1, 999)),
                               mutuality=destination, year_month="202609")
    return Invoice(
        number=number, patient_id=patient, sex=draw(st.sampled_from([Sex.MALE, Sex.FEMALE])),
        mutuality=draw(st.sampled_from(["000", "306", "319", destination])), destination=destination,
        ct1=draw(st.sampled_from(["110", "111", "130"])), ct2=draw(st.sampled_from(["110", "111", "000"])),
        lines=tuple(draw(st.lists(lines(credit), min_size=1, max_size=4))), reference=draw(text),
        invoicing_type=kind, lifting_prescription=draw(st.booleans()), treatment_cause=draw(st.sampled_from([0, 80])),
        previous=prev,
    )


@st.composite
def sendings(draw: st.DrawFn) -> Sending:
    fed = draw(st.sampled_from("13569"))
    dests = sorted(draw(st.sets(st.integers(0, 99).map(lambda n: f"{fed}{n:02d}").filter(lambda d: d[1:] != "00"
                                                                                          or True),
                                min_size=1, max_size=3)))
    dests = [d if d != "000" else "001" for d in dests]
    invs = []
    n = 0
    for d in dests:
        for _ in range(draw(st.integers(1, 3))):
            n += 1
            invs.append(draw(invoices(n, d)))
    iban_b = draw(st.sampled_from(["", "BE71096123456769"]))
    header = SendingHeader(
        sending_number=draw(st.integers(1, 999)), third_party=draw(providers), invoicing_year=2026,
        invoicing_month=10, creation_date=CREATED, reference=draw(st.integers(1, 10**14 - 1)),
        iban="BE68539007547034", bic="GEBABEBB", bce=draw(st.none() | st.just(bce(12345674))),
        test=draw(st.booleans()), contact_last_name=draw(text), contact_first_name=draw(st.text(ALNUM, max_size=24)),
        contact_phone=draw(st.none() | st.just("0471123456")), file_reference=draw(st.text(ALNUM, max_size=13)),
        sender_reference=draw(text), iban_b=iban_b, bic_b="GKCCBEBB" if iban_b else "",
        profession_code=draw(st.sampled_from([None, "001", "007"])), format_version=draw(st.sampled_from([1, 2])),
        summary_invoice_number=draw(st.none() | st.integers(0, 10**12 - 1)),
    )
    return Sending(header, invs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=_PHASES)
@given(sendings())
def test_write_read_is_identity(sending: Sending) -> None:
    data = to_bytes(sending)
    parsed = read_sending(data)
    assert parsed.sending == sending
    assert parsed.warnings == ()
    assert list(iter_invoices(io.BytesIO(data))) == list(sending.invoices)
    # trailer values as written
    assert parsed.total_a == sum(i.total_a for i in sending.invoices)
    assert parsed.total_b == sum(i.total_b for i in sending.invoices)
    assert [b.mutuality for b in parsed.bordereaux] == [g.destination for g in sending.groups]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=_PHASES)
@given(sendings())
def test_what_we_write_passes_the_validator(sending: Sending) -> None:
    buf = io.StringIO()
    write_sending(sending, buf)
    findings = validate(buf.getvalue(), ValidationOptions(today=dt.date(2026, 11, 25), check_counts=True))
    # an invoice with a bce=None header is reported (102710) but nothing else may be
    assert {f.code for f in findings} <= {"102710"}, [str(f) for f in findings]
    assert ("102710" in {f.code for f in findings}) == (sending.header.bce is None)
