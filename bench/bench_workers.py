"""Benchmark of the billing worker's scaling (issue 16): with the simulated insurer answering each call
after 100 ms (its ``latency_s`` switch), N ``billing worker`` processes (``--concurrency 1`` each) on one
shared store send and settle ``PER_WORKER``·N sendings; the figure is the throughput ratio to one worker
measured in the same run, against the target of 0.8·N.

The clock starts once every worker of the run is up (process start-up is not the worker's throughput)
and all sendings appear in one transaction; it stops when the store shows them all settled. Plain
script, nothing asserted. Run: ``.venv/bin/python bench/bench_workers.py [N,N,...] [per_worker]``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.billing.worker_fleet import Office, prepare  # noqa: E402

LATENCY_S = 0.1
PER_WORKER = 12


def _started(office: Office, n: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = [office.worker_log(k) for k in range(n)]  # the JSON lines (stdout)
        if all(p.exists() and '"started"' in p.read_text("utf-8") for p in logs):
            return
        if any(proc.poll() is not None for proc in office.workers):
            raise RuntimeError(f"a worker stopped: {office.worker_log(0).read_text()[-2000:]}")
        time.sleep(0.1)
    raise RuntimeError("the workers did not start")


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(office: Office, nihiis: list[str], n: int) -> tuple[float, float]:
    """Sendings settled per second by ``n`` workers, and the share of one core the insurer used meanwhile
    (the simulator is one Python process: past what it gets of one core, more workers cannot help)."""
    office.file_invoices([], 0)  # the mandates, mirrored in the office's store
    for _ in range(n):
        office.start_worker(concurrency=1, until_idle=False)
    _started(office, n)
    office.file_invoices(nihiis, 1, at_once=True)
    start, sim_cpu = time.perf_counter(), _cpu(office.sim.pid)
    while office.settled() < len(nihiis):
        if any(proc.poll() is not None for proc in office.workers):
            raise RuntimeError(f"a worker stopped: {office.worker_log(0).read_text()[-2000:]}")
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    insurer = (_cpu(office.sim.pid) - sim_cpu) / elapsed
    for proc in office.workers:
        proc.send_signal(signal.SIGTERM)
    codes = [proc.wait(60) for proc in office.workers]
    if set(codes) != {0}:
        print(f"    workers exited {codes}", flush=True)
    return len(nihiis) / elapsed, insurer


def main() -> None:
    counts = [int(x) for x in sys.argv[1].split(",")] if len(sys.argv) > 1 else [1, 2, 4, 8]
    per_worker = int(sys.argv[2]) if len(sys.argv) > 2 else PER_WORKER
    total = sum(counts) * per_worker
    with tempfile.TemporaryDirectory() as tmp:
        office = prepare(Path(tmp), dentists=total, invoices=0, latency_s=LATENCY_S,
                         worker={"worker_poll_seconds": 0.1, "worker_idle_seconds": 0.05})
        office.start_sim()
        try:
            rates: dict[int, float] = {}
            busy: dict[int, float] = {}
            first = 0
            for n in counts:
                nihiis = office.dentists[first:first + n * per_worker]
                first += n * per_worker
                rates[n], busy[n] = run(office.with_store(f"office-{n}.sqlite"), nihiis, n)
        finally:
            office.stop()
    base = rates[counts[0]] / counts[0]
    print(f"worker scaling (insurer latency {LATENCY_S * 1000:.0f} ms, {per_worker} sendings per worker, "
          "1 sending = post + get + confirm):")
    for n, rate in rates.items():
        ratio = rate / base / counts[0]
        print(f"  {n} worker(s): {rate:6.2f} sendings settled/s = {ratio:4.2f}x one worker "
              f"(target >= {0.8 * n:.1f}x: {'ok' if ratio >= 0.8 * n else 'BELOW'}); insurer busy "
              f"{busy[n] * 100:.0f}% of a core, {busy[n] / rate * 1000:.0f} ms CPU per sending")
    print(json.dumps({"bench": "workers", "latency_ms": LATENCY_S * 1000,
                      "per_second": {str(n): round(r, 3) for n, r in rates.items()},
                      "ratio_to_one": {str(n): round(r / base / counts[0], 3) for n, r in rates.items()}}))


if __name__ == "__main__":
    main()
