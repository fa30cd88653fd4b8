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

import attrs

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


def _pool(size: int = 1000) -> list[Invoice]:
    """A pool of distinct invoices (5 lines each, one with a record 51) built once."""
    day = dt.date(2026, 10, 1)
    out = []
    for i in range(size):
        lines = []
        for j in range(LINES_PER_INVOICE):
            k = i + j
            lines.append(ServiceLine(
                code=CODES[k % len(CODES)], date=day + dt.timedelta(days=k % 28), reimbursement=2000 + k % 500,
                provider=DENTIST, patient_share=300 + k % 100, tooth=TEETH[k % len(TEETH)],
                reference=f"L{i}-{j}",
                commitment=Commitment(f"C{i:010d}{j}", day) if j == 0 else None,
            ))
        out.append(Invoice(number=i + 1, patient_id=_ssin(850730000 + i), sex=1 + i % 2, affiliation="319",
                           destination="300", ct1="110", ct2="110", lines=tuple(lines), reference=f"INV{i}"))
    return out


def invoices(n_lines: int, pool: list[Invoice]) -> Iterator[Invoice]:
    """Stream invoices as a practice database would: each a fresh (renumbered) model object."""
    for i in range(n_lines // LINES_PER_INVOICE):
        yield attrs.evolve(pool[i % len(pool)], number=i + 1)


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
    pool = _pool()
    fd, name = tempfile.mkstemp(suffix=".920000")
    os.close(fd)
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        with open(name, "wb") as out:
            w = EfactWriter(header, out)
            for inv in invoices(n, pool):
                w.write_invoice(inv)
            summary = w.close()
        c1 = time.process_time()
        with open(name, "rb") as f:
            findings = validate(f, ValidationOptions(today=dt.date(2026, 11, 25)))
        c2, t2 = time.process_time(), time.perf_counter()
        rss_write = peak_rss_mb()
        lines = 0
        with open(name, "rb") as f:
            for inv in iter_invoices(f):
                lines += len(inv.lines)
        c3, t3 = time.process_time(), time.perf_counter()
        size = os.path.getsize(name)
    finally:
        os.unlink(name)
    cpu_wv, wall_wv = c2 - c0, t2 - t0
    print(f"efact.write+validate: {summary.lines / cpu_wv:,.0f} lines/s ({summary.lines} lines, {cpu_wv:.2f} s CPU: "
          f"write {c1 - c0:.2f} s, validate {c2 - c1:.2f} s; {wall_wv:.2f} s wall; {len(findings)} findings; "
          f"{size / 1e6:.1f} MB file); peak RSS {rss_write:.0f} MB")
    print(f"efact.parse: {lines / (c3 - c2):,.0f} lines/s ({lines} lines, {c3 - c2:.2f} s CPU, {t3 - t2:.2f} s wall); "
          f"peak RSS {peak_rss_mb():.0f} MB")
    print(f"(write alone {summary.lines / (c1 - c0):,.0f} lines/s, validate alone {summary.lines / (c2 - c1):,.0f} lines/s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
