"""Benchmark of the tariff consultation (MyCareNet Tarification, KMEHR).

* ``tariff.consultations_per_s``: complete consultations (contact, rules, audit, WS-Security holder-of-key
  signature, TLS loopback to the simulator, KMEHR parse, log of each line) per second, one after the
  other, with the STS token reused. Each consultation is for a new contact (R35 allows one per contact).
* ``tariff.client_cpu_ratio``: client CPU time per consultation (the calling thread only; the simulator
  answers from other threads) divided by the floor measured in the same run: one signature with the
  dentist's key (what WS-Security costs at least).

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
from consultations import cpu_per_call, measure

SERVICES = ["301011", "302153:36", "304415:46"]


def _context(env: Any) -> Any:
    ctx = env.context()
    raw = dict(ctx.config.raw)
    raw["tariff"] = {"max_per_minute": 10**9}  # a benchmark is systematic by design (R37-burst off)
    ctx.config = attrs.evolve(ctx.config, raw=raw)
    return ctx


def signature_floor(ctx: Any, n: int = 50) -> float:
    """Thread CPU seconds of one signature with the dentist's authentication key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    key = ctx.security.keystore.authentication.private_key
    payload = b"<SignedInfo>" + b"a" * 600 + b"</SignedInfo>"

    def sign() -> None:
        if isinstance(key, rsa.RSAPrivateKey):
            key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            key.sign(payload, ec.ECDSA(hashes.SHA256()))
        else:  # pragma: no cover
            raise TypeError(type(key))

    return cpu_per_call(sign, n)


def run(env: Any, n: int) -> tuple[float, float, float]:
    from mycarenet_dental.sim.population import base_population
    from mycarenet_dental_tariff.client import consult_tariff

    patient = base_population()[0].ssin
    ctx = _context(env)

    def once() -> None:
        contact = ctx.open_contact(patient)
        result = consult_tariff(ctx, contact, SERVICES)
        assert len(result.lines) == 3 and all(line.priced for line in result.lines)

    rate, cpu_per = measure(once, n)
    floor = signature_floor(ctx)
    ctx.close()
    return rate, cpu_per, floor


def main() -> None:
    from mycarenet_dental.sim.testing import SimEnv

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory(prefix="bench-tariff-") as tmp:
        env = SimEnv.start_process(Path(tmp))  # the insurer is another process, as in production
        try:
            rate, cpu_per, floor = run(env, n)
        finally:
            env.stop()
    print(f"tariff.consultations_per_s: {rate:.1f} (target >= 100) — {len(SERVICES)} services per consultation, "
          f"loopback TLS simulator, token reused, {n} sequential, best of 3 rounds")
    print(f"tariff.client_cpu_ratio: {cpu_per / floor:.2f}x floor (target <= 2) — client CPU {cpu_per * 1000:.2f} ms "
          f"per consultation; floor = one signature with the dentist's key = {floor * 1000:.2f} ms")


if __name__ == "__main__":
    main()
