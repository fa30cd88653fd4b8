"""Benchmark of the DMG consultation (same measures as the assurability one).

* ``dmg.consultations_per_s``: complete consultations (rules, audit, WS-Security, seal, TLS loopback to
  the simulator, unseal, parse, log) per second, one after the other, with the STS token reused.
* ``dmg.client_cpu_ratio``: client CPU time per consultation (the calling thread only; the simulator
  runs in other threads) divided by the crypto floor measured in the same run: one ETEE seal + one
  unseal + one signature with the dentist's key.

Route A (MemberData facet, the default) is the main figure; route B (GMF, no ETEE) is printed too.
Plain script, nothing asserted. Run: ``.venv/bin/python bench/bench_dmg.py [consultations]``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import attrs
from consultations import cpu_per_call, measure


def _context(env: Any, route: str) -> Any:
    ctx = env.context()
    raw = dict(ctx.config.raw)
    raw["dmg"] = {"route": route, "max_per_minute": 10**9}  # a benchmark is systematic by design
    ctx.config = attrs.evolve(ctx.config, raw=raw)
    return ctx


def crypto_floor(ctx: Any, n: int = 30) -> float:
    """Thread CPU seconds of one seal + one unseal + one signature (the dentist's keys, MyCareNet's ETK)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from mycarenet_dental.ehealth import etee
    from mycarenet_dental.protocols import memberdata

    security = ctx.security
    sender = security.keystore.authentication
    own = memberdata.own_etk(ctx, ctx.new_exchange("dmg", "bench"))
    payload = b"<x>" + b"a" * 1500 + b"</x>"
    key = sender.private_key
    etee.unseal(etee.seal(payload, sender=sender, recipients=[own]), recipient_keys=list(security.keystore.encryption_keys))

    def once() -> None:
        sealed = etee.seal(payload, sender=sender, recipients=[own])
        etee.unseal(sealed, recipient_keys=list(security.keystore.encryption_keys))
        if isinstance(key, rsa.RSAPrivateKey):
            key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            key.sign(payload, ec.ECDSA(hashes.SHA256()))

    return cpu_per_call(once, n)


def run_route(env: Any, route: str, n: int, floor: float | None) -> tuple[float, float, float]:
    from mycarenet_dental.sim.population import base_population
    from mycarenet_dental_dmg.client import consult_dmg

    patient = base_population()[0].ssin
    ctx = _context(env, route)
    contact = ctx.open_contact(patient)
    rate, cpu_per = measure(lambda: consult_dmg(ctx, contact), n)
    floor = floor if floor is not None else crypto_floor(ctx)
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
                  f"loopback TLS simulator, token reused, {n} sequential, best of 3 rounds)")
            print(f"dmg.client_cpu_ratio: {cpu_per / floor:.2f}x crypto floor (client CPU {cpu_per * 1000:.1f} ms per "
                  f"consultation; floor seal+unseal+one signature = {floor * 1000:.1f} ms)")
            rate_b, cpu_b, _ = run_route(env, "gmf", n, floor)
            print(f"dmg.gmf_route.consultations_per_s: {rate_b:.1f} consultations/s (GMF, KMEHR, no ETEE); "
                  f"client CPU {cpu_b * 1000:.1f} ms = {cpu_b / floor:.2f}x crypto floor")
        finally:
            env.stop()


if __name__ == "__main__":
    main()
