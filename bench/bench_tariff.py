"""Benchmark of the tariff consultation (MyCareNet Tarification, KMEHR).

* ``tariff.consultations_per_s``: complete consultations (contact, rules, audit, WS-Security holder-of-key
  signature, TLS loopback to the simulator, KMEHR parse, log of each line) per second, one after the
  other, with the STS token reused. Each consultation is for a new contact (R35 allows one per contact).
* the client's CPU per consultation is compared with the peer stack (zeep + xmlsec) in ``bench_peer.py``
  (the old "<= 2x one signature" target compared a whole consultation with one RSA operation: it went).

The core simulator server keeps connections alive (HTTP/1.1) and the client keeps one pooled TLS
connection, so the figures measure consultations, not TLS handshakes.

Plain script, nothing asserted. Run: ``.venv/bin/python bench/bench_tariff.py [consultations]``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import attrs
from consultations import measure

SERVICES = ["301011", "302153:36", "304415:46"]


def _context(env: Any) -> Any:
    ctx = env.context()
    raw = dict(ctx.config.raw)
    raw["tariff"] = {"max_per_minute": 10**9}  # a benchmark is systematic by design (R37-burst off)
    ctx.config = attrs.evolve(ctx.config, raw=raw)
    return ctx


def run(env: Any, n: int) -> float:
    from mycarenet_dental.sim.population import base_population
    from mycarenet_dental_tariff.client import consult_tariff

    patient = base_population()[0].ssin
    ctx = _context(env)

    def once() -> None:
        contact = ctx.open_contact(patient)
        result = consult_tariff(ctx, contact, SERVICES)
        assert len(result.lines) == 3 and all(line.priced for line in result.lines)

    rate, _ = measure(once, n)
    ctx.close()
    return rate


def main() -> None:
    from mycarenet_dental.sim.testing import SimEnv

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory(prefix="bench-tariff-") as tmp:
        env = SimEnv.start_process(Path(tmp))  # the insurer is another process, as in production
        try:
            rate = run(env, n)
        finally:
            env.stop()
    print(f"tariff.consultations_per_s: {rate:.1f} (target >= 100) — {len(SERVICES)} services per consultation, "
          f"loopback TLS simulator, token reused, {n} sequential, best of 3 rounds")


if __name__ == "__main__":
    main()
