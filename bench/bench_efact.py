"""Benchmark of the eFact 920000 format: write + validate a 100,000-line sending, then parse it back.

Plain script (no asserts). Streams through a temporary file so memory stays flat; prints lines per
second each way and the peak RSS. Run: ``.venv/bin/python bench/bench_efact.py [lines]``.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import mycarenet_dental_billing  # noqa: F401
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "billing"))

from mycarenet_dental_billing.efact.model import Commitment, Invoice, SendingHeader, ServiceLine
from mycarenet_dental_billing.efact.reader import iter_invoices
from mycarenet_dental_billing.efact.validator import ValidationOptions, validate
from mycarenet_dental_billing.efact.writer import EfactWriter

LINES_PER_INVOICE = 5


def _nihii(base6: str, qualification: str = "001") -> str:
    return f"{base6}{97 - int(base6) % 97:02d}{qualification}"


def _ssin(base9: int) -> str:
    return f"{base9:09d}{97 - base9 % 97:02d}"


DENTIST = _nihii("300123")
CODES = ("301011", "301033", "371011", "304414", "305594", "371254")
TEETH = (11, 16, 21, 26, 36, 46, 55, None)


def invoices(n_lines: int) -> Iterator[Invoice]:
    """Invoices built on the fly (as a practice database would), 5 lines each, one destination."""
    day = dt.date(2026, 10, 1)
    for i in range(n_lines // LINES_PER_INVOICE):
        lines = []
        for j in range(LINES_PER_INVOICE):
            k = i + j
            lines.append(ServiceLine(
                code=CODES[k % len(CODES)], date=day + dt.timedelta(days=k % 28), reimbursement=2000 + k % 500,
                provider=DENTIST, patient_share=300 + k % 100, tooth=TEETH[k % len(TEETH)],
                reference=f"L{i}-{j}",
                commitment=Commitment(f"C{i:010d}{j}", day) if j == 0 else None,
            ))
        yield Invoice(number=i + 1, patient_id=_ssin(850730000 + i % 50000), sex=1 + i % 2, affiliation="319",
                      destination="300", ct1="110", ct2="110", lines=lines, reference=f"INV{i}")


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    header = SendingHeader(
        sending_number=1, third_party=DENTIST, invoicing_year=2026, invoicing_month=10,
        creation_date=dt.date(2026, 11, 2), reference=20261130000001, bce="0123456749",
        iban="BE68539007547034", bic="GEBABEBB", contact_last_name="Bench",
    )
    fd, name = tempfile.mkstemp(suffix=".920000")
    os.close(fd)
    try:
        t0 = time.perf_counter()
        with open(name, "wb") as out:
            w = EfactWriter(header, out)
            for inv in invoices(n):
                w.write_invoice(inv)
            summary = w.close()
        t1 = time.perf_counter()
        with open(name, "rb") as f:
            findings = validate(f, ValidationOptions(today=dt.date(2026, 11, 25)))
        t2 = time.perf_counter()
        rss_write = peak_rss_mb()
        lines = 0
        with open(name, "rb") as f:
            for inv in iter_invoices(f):
                lines += len(inv.lines)
        t3 = time.perf_counter()
        size = os.path.getsize(name)
    finally:
        os.unlink(name)
    wv = t2 - t0
    print(f"efact.write+validate: {summary.lines / wv:,.0f} lines/s ({summary.lines} lines, {wv:.2f} s: "
          f"write {t1 - t0:.2f} s, validate {t2 - t1:.2f} s, {len(findings)} findings, {size / 1e6:.1f} MB); "
          f"peak RSS {rss_write:.0f} MB")
    print(f"efact.parse: {lines / (t3 - t2):,.0f} lines/s ({lines} lines, {t3 - t2:.2f} s); "
          f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
