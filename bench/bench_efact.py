"""Benchmark of the eFact 920000 format: write + validate a 100,000-line sending, then parse it back.

Plain script (no asserts). Streams through a temporary file so memory stays flat; prints lines per
second each way (write + validate in one pass with ``write_and_validate``, and also write then
validate separately), the ratio to the target (issue 8: >= 100,000 lines/s each way), the ratio to a
floor measured in the same run (reading the file's records with no parsing at all) and the peak
RSS. CPU time (``process_time``) is used because the machine is shared; each phase is run
``repeats`` times and the best is kept. Run: ``.venv/bin/python bench/bench_efact.py [lines] [repeats]``.
``--general`` turns the fast paths of the validator and the reader off (the general paths alone), to
measure what they are worth (issue 13 keeps them only while the general path alone is too slow).
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

from mycarenet_dental.coded import Sex
from mycarenet_dental_billing.efact.model import Commitment, Invoice, SendingHeader, ServiceLine
from mycarenet_dental_billing.efact.reader import iter_invoices
from mycarenet_dental_billing.efact.validator import ValidationOptions, validate, write_and_validate
from mycarenet_dental_billing.efact.writer import EfactWriter

LINES_PER_INVOICE = 5
TARGET = 100_000  # lines/s parsed (issue 8)
TARGET_WRITE_VALIDATE = 60_000  # lines/s written and validated in one pass (issue 18)


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
        out.append(Invoice(number=i + 1, patient_id=_ssin(850730000 + i), sex=(Sex.MALE, Sex.FEMALE)[i % 2],
                           mutuality="319",
                           destination="300", ct1="110", ct2="110", lines=tuple(lines), reference=f"INV{i}"))
    return out


def invoices(n_lines: int, pool: list[Invoice]) -> Iterator[Invoice]:
    """Stream invoices as a practice database would: each a fresh (renumbered) model object."""
    for i in range(n_lines // LINES_PER_INVOICE):
        yield attrs.evolve(pool[i % len(pool)], number=i + 1)


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def _floor(name: str) -> float:
    """CPU seconds to just read the file's 350-character records (no parsing): the floor of any reader."""
    c0 = time.process_time()
    with open(name, encoding="latin-1", newline="") as f:
        f.read(227)
        while True:
            block = f.read(350 * 4096)
            if not block:
                break
            for pos in range(0, len(block), 350):
                block[pos:pos + 350]
    return time.process_time() - c0


def validate_100mb(header: SendingHeader, pool: list[Invoice], *, mb: int = 100, every: int = 10) -> None:
    """``billing validate --json`` of a ~100 MB sending with a finding on every ``every``-th line, in its own
    process: its peak RSS (target <= 100 MB, flat: the file is streamed and the findings printed as found)."""
    import subprocess

    n_lines = mb * 1_000_000 // 560 // LINES_PER_INVOICE * LINES_PER_INVOICE  # ~560 bytes of file per line
    fd, name = tempfile.mkstemp(suffix=".920000")
    os.close(fd)
    try:
        with open(name, "wb") as out:
            writer = EfactWriter(header, out)
            for inv in invoices(n_lines, pool):
                writer.write_invoice(inv)
            writer.close()
        data = bytearray(Path(name).read_bytes())
        spoiled = seen = 0
        for pos in range(227 + 350, len(data) - 350, 350):  # wrong control digits on every `every`-th record 50
            if data[pos:pos + 2] == b"50":
                seen += 1
                if seen % every == 1:
                    data[pos + 348:pos + 350] = b"98" if data[pos + 348:pos + 350] == b"99" else b"99"
                    spoiled += 1
        Path(name).write_bytes(bytes(data))
        size, data = len(data), bytearray()
        t0 = time.perf_counter()
        # the child reports its own high-water mark (VmHWM, this program's memory only: a fork's
        # ru_maxrss would also count the pages of this benchmark process it was forked from)
        code = ("import atexit, runpy, sys; atexit.register(lambda: sys.stderr.write(next(line for line in "
                "open('/proc/self/status') if line.startswith('VmHWM')))); "
                f"sys.argv = ['mycarenet-dental', 'billing', 'validate', '--json', {name!r}]; "
                "runpy.run_module('mycarenet_dental', run_name='__main__')")
        proc = subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, timeout=600)
        rss = int(proc.stderr.split()[-2]) / 1024 if "VmHWM" in proc.stderr else float("nan")
        print(f"efact.validate_100mb: peak RSS {rss:.0f} MB (target <= 100 MB: {'met' if rss <= 100 else 'NOT met'}) — "
              f"`billing validate --json` of a {size / 1e6:.0f} MB file ({n_lines:,} lines, {spoiled:,} findings "
              f"printed as found), exit {proc.returncode}, {time.perf_counter() - t0:.1f} s wall")
    finally:
        os.unlink(name)


def general_paths_only() -> None:
    """Every record through the general paths: the validator's fast paths decline, the reader's
    record-50 pattern never matches and invoices go through the validating constructor."""
    import re

    from mycarenet_dental_billing.efact import reader, validator

    for name in ("fast20", "fast50", "fast51", "fast80"):
        setattr(validator._Validator, name, lambda self, *args: False)
    reader._READ50 = re.compile(r"(?!)")  # type: ignore[attr-defined]
    reader._checked_invoice = lambda *args: None  # type: ignore[assignment]


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--general"]
    if "--general" in sys.argv[1:]:
        general_paths_only()
        print("(general paths only: the fast paths of the validator and the reader are off)")
    n = int(args[0]) if args else 100_000
    repeats = int(args[1]) if len(args) > 1 else 3
    header = SendingHeader(
        sending_number=1, third_party=DENTIST, invoicing_year=2026, invoicing_month=10,
        creation_date=dt.date(2026, 11, 2), reference=20261130000001, bce="0123456749",
        iban="BE68539007547034", bic="GEBABEBB", contact_last_name="Bench",
    )
    pool = _pool()
    fd, name = tempfile.mkstemp(suffix=".920000")
    os.close(fd)
    best = {"write": float("inf"), "validate": float("inf"), "parse": float("inf"), "floor": float("inf"),
            "fused": float("inf")}
    wall_wv = wall_p = wall_f = 0.0
    options = ValidationOptions(today=dt.date(2026, 11, 25))
    rss_write = 0.0
    try:
        for _ in range(repeats):
            c0, t0 = time.process_time(), time.perf_counter()
            with open(name, "wb") as out:
                w = EfactWriter(header, out)
                for inv in invoices(n, pool):
                    w.write_invoice(inv)
                summary = w.close()
            c1 = time.process_time()
            with open(name, "rb") as f:
                findings = validate(f, options)
            c2, t2 = time.process_time(), time.perf_counter()
            with open(name, "wb") as out:
                _, fused_findings = write_and_validate(header, invoices(n, pool), out, options)
            cf, tf = time.process_time(), time.perf_counter()
            if c2 - c0 < best["write"] + best["validate"]:
                best["write"], best["validate"], wall_wv = c1 - c0, c2 - c1, t2 - t0
            if cf - c2 < best["fused"]:
                best["fused"], wall_f = cf - c2, tf - t2
            rss_write = max(rss_write, peak_rss_mb())
            c2, t2 = time.process_time(), time.perf_counter()
            lines = 0
            with open(name, "rb") as f:
                for inv in iter_invoices(f):
                    lines += len(inv.lines)
            c3, t3 = time.process_time(), time.perf_counter()
            floor = _floor(name)
            if c3 - c2 < best["parse"]:
                best["parse"], wall_p = c3 - c2, t3 - t2
            best["floor"] = min(best["floor"], floor)
        size = os.path.getsize(name)
    finally:
        os.unlink(name)
    cpu_wv, cpu_p, floor, cpu_f = best["write"] + best["validate"], best["parse"], best["floor"], best["fused"]
    rate_wv, rate_p, rate_f = summary.lines / cpu_wv, lines / cpu_p, summary.lines / cpu_f
    print(f"efact.write+validate: {rate_f:,.0f} lines/s (target >= {TARGET_WRITE_VALIDATE:,}: "
          f"{'met' if rate_f >= TARGET_WRITE_VALIDATE else 'NOT met'}), {cpu_f / floor:.0f}x floor "
          f"(one pass, write_and_validate: {summary.lines} lines, {summary.records} records, {cpu_f:.2f} s CPU, "
          f"{wall_f:.2f} s wall; {len(fused_findings)} findings, "
          f"{'same as' if fused_findings == findings else 'DIFFERENT FROM'} validate(); {size / 1e6:.1f} MB file); peak RSS {rss_write:.0f} MB")
    print(f"efact.write then validate: {rate_wv:,.0f} lines/s "
          f"({cpu_wv:.2f} s CPU: write {best['write']:.2f} s, validate {best['validate']:.2f} s; {wall_wv:.2f} s wall; "
          f"{len(findings)} findings)")
    print(f"efact.parse: {rate_p:,.0f} lines/s (target >= {TARGET:,}: {'met' if rate_p >= TARGET else 'NOT met'}), "
          f"{cpu_p / floor:.0f}x floor "
          f"({lines} lines, {cpu_p:.2f} s CPU, {wall_p:.2f} s wall); peak RSS {peak_rss_mb():.0f} MB")
    print(f"(write alone {summary.lines / best['write']:,.0f} lines/s, validate alone "
          f"{summary.lines / best['validate']:,.0f} lines/s; floor = reading the records without parsing "
          f"{floor:.3f} s CPU = {lines / floor:,.0f} lines/s; best of {repeats}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    if "--general" not in sys.argv[1:]:
        validate_100mb(header, pool)


if __name__ == "__main__":
    main()
