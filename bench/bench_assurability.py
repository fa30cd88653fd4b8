"""Benchmark of the insurability consultation (MyCareNet MemberData, sealed).

* ``assurability.consultations_per_s``: complete consultations (contact, rules, audit, ETEE seal for
  MyCareNet's ETK with reply-to ETK, WS-Security holder-of-key signature, TLS loopback to the simulator,
  unseal, SAML parse, log) per second, one after the other, one client, STS token reused. Each
  consultation is for a new contact (R34 allows one per contact).
* ``assurability.client_cpu_ratio``: client CPU per consultation (the calling thread only; the simulator
  answers from its own threads) divided by the crypto floor measured in the same run: one seal + one
  unseal + one signature with the dentist's key; both timed in interleaved rounds, best of each.

Plain script, nothing asserted. Run: ``.venv/bin/python bench/bench_assurability.py [consultations]``.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from consultations import cpu_per_call, measure

ROUNDS = 5
FLOOR_CALLS = 30


def crypto_floor(ctx: Any) -> Callable[[], None]:
    """One seal + one unseal + one signature, on payloads of the consultation's size (the floor's call)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from mycarenet_dental.ehealth import etee
    from mycarenet_dental.ehealth.etk import Etk
    from mycarenet_dental.protocols.memberdata import mycarenet_etk

    keystore = ctx.security.keystore
    key = keystore.authentication.private_key
    mcn = mycarenet_etk(ctx)
    own = keystore.encryption_keys[0]
    own_etk = Etk.parse(ctx.security.etk("SSIN", ctx.responsible().ssin).raw)
    query = b"<samlp:AttributeQuery>" + b"q" * 1500 + b"</samlp:AttributeQuery>"
    answer = b"<samlp:Response>" + b"a" * 6000 + b"</samlp:Response>"
    sealed_answer = etee.seal(answer, sender=keystore.authentication, recipients=[own_etk])
    payload = b"<SignedInfo>" + b"s" * 600 + b"</SignedInfo>"

    def once() -> None:
        etee.seal(query, sender=keystore.authentication, recipients=[mcn])
        etee.unseal(sealed_answer, recipient_keys=[own])
        if isinstance(key, rsa.RSAPrivateKey):
            key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            key.sign(payload, ec.ECDSA(hashes.SHA256()))

    return once


def run(env: Any, n: int) -> tuple[float, float, float, float]:
    from mycarenet_dental.sim.population import base_population
    from mycarenet_dental_assurability import consult_insurability

    patient = base_population()[0].ssin
    ctx = env.context()

    def once() -> None:
        contact = ctx.open_contact(patient)
        result = consult_insurability(ctx, contact, sealed=True)
        assert result.insured and result.ct1 == "110"

    floor_once = crypto_floor(ctx)
    # Interleaved rounds, best of each: the machine is shared and its speed drifts, so the consultations and
    # the floor are timed side by side (measured one after the other, the floor alone varied 1.6-2.9 ms
    # between runs of the same code and swung the ratio 2.8-4.7x).
    rate, cpu_per, floor = 0.0, float("inf"), float("inf")
    for _ in range(ROUNDS):
        round_rate, round_cpu = measure(once, n, rounds=1)
        rate, cpu_per = max(rate, round_rate), min(cpu_per, round_cpu)
        floor = min(floor, cpu_per_call(floor_once, FLOOR_CALLS, rounds=1))
    ctx.close()
    return rate, cpu_per / floor, cpu_per, floor


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    from mycarenet_dental.sim.testing import SimEnv

    with tempfile.TemporaryDirectory(prefix="bench-assurability-") as tmp:
        env = SimEnv.start_process(Path(tmp))  # the insurer is another process, as in production
        try:
            rate, ratio, cpu_per, floor = run(env, n)
        finally:
            env.stop()
    print(f"assurability.consultations_per_s: {rate:.1f} (target >= 50)")
    print(f"assurability.client_cpu_ratio: {ratio:.2f}x floor (target <= 2x)")
    print(f"assurability.client_cpu_ms_per_consultation: {cpu_per * 1000:.1f}; crypto floor ms: {floor * 1000:.1f}")


if __name__ == "__main__":
    main()
