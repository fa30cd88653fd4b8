"""Benchmark of the DMG consultation (same measures as the assurability one).

* ``dmg.consultations_per_s``: complete consultations (rules, audit, WS-Security, seal, TLS loopback to
  the simulator, unseal, parse, log) per second, one after the other, with the STS token reused.
* ``dmg.client_cpu_ratio``: client CPU time per consultation (the calling thread only; the simulator
  runs in other threads) divided by the crypto floor measured in the same run: one ETEE seal + one
  unseal + one signature with the dentist's key (``consultations.crypto_floor_call``), timed in interleaved
  rounds with the consultations.

Route A (MemberData facet, the default) is the main figure; route B (GMF, no ETEE) is printed too.
Plain script, nothing asserted. Run: ``.venv/bin/python bench/bench_dmg.py [consultations]``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import attrs
from consultations import crypto_floor_call, interleaved, measure


def _context(env: Any, route: str) -> Any:
    ctx = env.context()
    raw = dict(ctx.config.raw)
    raw["dmg"] = {"route": route, "max_per_minute": 10**9}  # a benchmark is systematic by design
    ctx.config = attrs.evolve(ctx.config, raw=raw)
    return ctx


def run_route(env: Any, route: str, n: int, floor: float | None) -> tuple[float, float, float]:
    from mycarenet_dental.sim.population import base_population
    from mycarenet_dental_dmg.client import consult_dmg

    patient = base_population()[0].ssin
    ctx = _context(env, route)
    contact = ctx.open_contact(patient)
    if floor is None:  # the main figure: consultations and floor interleaved (consultations.interleaved)
        figures = interleaved({"dmg": (lambda: consult_dmg(ctx, contact), n), "floor": (crypto_floor_call(ctx), 30)})
        (cpu_per, rate), (floor, _) = figures["dmg"], figures["floor"]
    else:
        rate, cpu_per = measure(lambda: consult_dmg(ctx, contact), n)
    ctx.close()
    return rate, cpu_per, floor


def main() -> None:
    from mycarenet_dental.sim.testing import SimEnv

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    with tempfile.TemporaryDirectory(prefix="bench-dmg-") as tmp:
        env = SimEnv.start_process(Path(tmp))  # the insurer is another process, as in production
        try:
            rate, cpu_per, floor = run_route(env, "memberdata", n, None)
            print(f"dmg.consultations_per_s: {rate:.1f} consultations/s (route A, MemberData facet, sealed; "
                  f"loopback TLS simulator, token reused, {n} sequential, best of 5 interleaved rounds)")
            print(f"dmg.client_cpu_ratio: {cpu_per / floor:.2f}x crypto floor (client CPU {cpu_per * 1000:.1f} ms per "
                  f"consultation; floor seal+unseal+one signature = {floor * 1000:.1f} ms)")
            rate_b, cpu_b, _ = run_route(env, "gmf", n, floor)
            print(f"dmg.gmf_route.consultations_per_s: {rate_b:.1f} consultations/s (GMF, KMEHR, no ETEE); "
                  f"client CPU {cpu_b * 1000:.1f} ms = {cpu_b / floor:.2f}x crypto floor")
        finally:
            env.stop()


if __name__ == "__main__":
    main()
