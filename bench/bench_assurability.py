"""Benchmark of the insurability consultation (MyCareNet MemberData, sealed).

* ``assurability.consultations_per_s``: complete consultations (contact, rules, audit, ETEE seal for
  MyCareNet's ETK with reply-to ETK, WS-Security holder-of-key signature, TLS loopback to the simulator,
  unseal, SAML parse, log) per second, one after the other, one client, STS token reused. Each
  consultation is for a new contact (R34 allows one per contact).
* ``assurability.client_cpu_ratio``: client CPU per consultation (the calling thread only; the simulator
  answers from its own threads) divided by the crypto floor measured in the same run: one seal + one
  unseal + one signature with the dentist's key (``consultations.crypto_floor_call``).
* ``assurability.clear_consultation_ratio``: the same consultation without ETEE, over the same floor (what
  the protocol, HTTP and the store cost alone).
* ``assurability.sealing_overhead``: (sealed - clear consultation) / (seal + unseal in a loop): what sealing
  costs inside a consultation against what it costs alone.

All four are timed in interleaved rounds, best of each (``consultations.interleaved``).

Plain script, nothing asserted. Run: ``.venv/bin/python bench/bench_assurability.py [consultations]``.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from consultations import crypto_floor_call, interleaved


def _signature(ctx: Any) -> Callable[[], None]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    key = ctx.security.keystore.authentication.private_key
    payload = b"<SignedInfo>" + b"s" * 600 + b"</SignedInfo>"

    def once() -> None:
        if isinstance(key, rsa.RSAPrivateKey):
            key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            key.sign(payload, ec.ECDSA(hashes.SHA256()))

    return once


def run(env: Any, n: int) -> dict[str, tuple[float, float]]:
    from mycarenet_dental.sim.population import base_population
    from mycarenet_dental_assurability import consult_insurability

    patient = base_population()[0].ssin
    ctx = env.context()

    def consultation(sealed: bool) -> Callable[[], None]:
        def once() -> None:
            contact = ctx.open_contact(patient)
            result = consult_insurability(ctx, contact, sealed=sealed)
            assert result.insured and result.ct1 == "110"

        return once

    figures = interleaved({"sealed": (consultation(True), n), "clear": (consultation(False), n),
                           "floor": (crypto_floor_call(ctx), 30), "signature": (_signature(ctx), 100)})
    ctx.close()
    return figures


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    from mycarenet_dental.sim.testing import SimEnv

    with tempfile.TemporaryDirectory(prefix="bench-assurability-") as tmp:
        env = SimEnv.start_process(Path(tmp))  # the insurer is another process, as in production
        try:
            figures = run(env, n)
        finally:
            env.stop()
    (sealed, rate), (clear, _), (floor, _), (signature, _) = (figures[k] for k in ("sealed", "clear", "floor",
                                                                                  "signature"))
    ratio = sealed / floor
    overhead = (sealed - clear) / (floor - signature)
    print(f"assurability.consultations_per_s: {rate:.1f} (target >= 50)")
    print(f"assurability.client_cpu_ratio: {ratio:.2f}x floor (issue 18's target <= 2.0x: "
          f"{'met' if ratio <= 2.0 else 'NOT met'}; proposed <= 4.0x: {'met' if ratio <= 4.0 else 'NOT met'}) — "
          f"client CPU {sealed * 1000:.2f} ms per sealed consultation, floor (seal + unseal + one signature) "
          f"{floor * 1000:.2f} ms")
    print(f"assurability.clear_consultation_ratio: {clear / floor:.2f}x floor — the same consultation unsealed, "
          f"{clear * 1000:.2f} ms: what the protocol, HTTP and store cost without ETEE")
    print(f"assurability.sealing_overhead: {overhead:.2f}x (proposed target <= 2.0x: "
          f"{'met' if overhead <= 2.0 else 'NOT met'}) — (sealed - clear) {(sealed - clear) * 1000:.2f} ms over "
          f"(seal + unseal) {(floor - signature) * 1000:.2f} ms in a loop")


if __name__ == "__main__":
    main()
