"""The measuring loop the consultation benchmarks share: warm-up, then wall rate and client CPU."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any


def measure(once: Callable[[], None], n: int, *, warmup: int = 3, rounds: int = 3) -> tuple[float, float]:
    """Run ``once`` ``n`` times per round after a warm-up (token, ETKs, schemas, TLS session); return
    (consultations per second, client thread CPU seconds per consultation), each the best of ``rounds``.

    Best of several rounds, as ``timeit`` does: on a shared machine the other tenants only ever add
    time, so the fastest round is the closest to what the code itself costs.
    """
    for _ in range(warmup):
        once()
    best_rate, best_cpu = 0.0, float("inf")
    for _ in range(rounds):
        wall = time.perf_counter()
        cpu = time.thread_time()
        for _ in range(n):
            once()
        best_cpu = min(best_cpu, (time.thread_time() - cpu) / n)
        best_rate = max(best_rate, n / (time.perf_counter() - wall))
    return best_rate, best_cpu


def crypto_floor_call(ctx: Any) -> Callable[[], None]:
    """The crypto floor of a sealed consultation as one call: one ETEE seal of a query for MyCareNet's ETK, one
    unseal of an answer sealed for us, one signature with the dentist's key — payloads of a MemberData
    consultation's size (query 1.5 KB, answer 6 KB, SignedInfo 0.6 KB)."""
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


def interleaved(fns: Mapping[str, tuple[Callable[[], None], int]], *, rounds: int = 5,
                warmup: int = 3) -> dict[str, tuple[float, float]]:
    """Name -> (thread CPU seconds per call, calls per wall second), each the best of ``rounds``; every round runs
    each function its number of times, one after the other, so that the figures compared in a ratio are timed
    side by side (the machine is shared and its speed drifts: timed one after the other, the crypto floor
    alone varied 1.6-2.9 ms between runs of the same code)."""
    for fn, _ in fns.values():
        for _ in range(warmup):
            fn()
    best = {name: (float("inf"), 0.0) for name in fns}
    for _ in range(rounds):
        for name, (fn, calls) in fns.items():
            wall, cpu = time.perf_counter(), time.thread_time()
            for _ in range(calls):
                fn()
            cpu_per, rate = (time.thread_time() - cpu) / calls, calls / (time.perf_counter() - wall)
            best[name] = (min(best[name][0], cpu_per), max(best[name][1], rate))
    return best
