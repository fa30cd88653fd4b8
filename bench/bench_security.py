"""Security benchmark (plain script, prints results; no asserts).

1. sign + verify of a service envelope (holder-of-key WS-Security: build, sign Body+Timestamp, splice the
   assertion, then the simulator's full service-side check) as a ratio to one raw private-key signature of
   the same key measured in the same run ("floor"), for RSA-2048 and EC P-384. Target <= 2.0x.
2. N service calls cost exactly one STS call while the token is valid (token cache + in-process simulator).

Run: .venv/bin/python bench/bench_security.py
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from lxml import etree
from mycarenet_dental.ehealth import saml
from mycarenet_dental.ehealth.keystore import Keystore
from mycarenet_dental.ehealth.saml import SamlToken
from mycarenet_dental.ehealth.sts import StsClient
from mycarenet_dental.ehealth.tokens import TokenCache
from mycarenet_dental.ehealth.transport import SoapReply, envelope_for
from mycarenet_dental.ehealth.wssecurity import HolderOfKeySecurity
from mycarenet_dental.sim.pki import generate_pki
from mycarenet_dental.sim.sts import SimTrust, build_assertion, handle_sts_request
from mycarenet_dental.sim.wss_check import check_service_request
from mycarenet_dental.xmlsafe import parse_xml


def _body() -> etree._Element:
    el = etree.Element("{urn:be:fgov:ehealth:mycarenet:memberdata:protocol:v1}MemberDataConsultationRequest")
    for i in range(20):
        etree.SubElement(el, "{urn:be:fgov:ehealth:mycarenet:memberdata:protocol:v1}Item").text = f"value {i}"
    return el


def _best(fns: dict[str, object], n: int, batch: int = 10) -> dict[str, float]:
    """Per-call CPU time of each function (thread CPU clock, so other processes' load does not count):
    minimum over interleaved batches."""
    best = {name: float("inf") for name in fns}
    for fn in fns.values():
        fn()  # warm-up (caches, lazy imports)
    for _ in range(max(1, n // batch)):
        for name, fn in fns.items():
            t0 = time.thread_time()
            for _ in range(batch):
                fn()  # type: ignore[operator]
            best[name] = min(best[name], (time.thread_time() - t0) / batch)
    return best


def bench_sign_verify(label: str, key_type: str, out: Path, n: int) -> None:
    pki = generate_pki(out / key_type, key_type=key_type)
    trust = SimTrust.load(pki.out_dir)
    ks = Keystore.load(pki.dentist_p12, pki.keystore_password)
    now = datetime.now(timezone.utc)
    raw = build_assertion(
        trust=trust, hok_cert=ks.authentication.certificate, now=now, not_before=now - timedelta(minutes=5),
        not_on_or_after=now + timedelta(hours=24),
        attributes=[(saml.ATTR_CERTHOLDER_SSIN, pki.dentist_ssin), (saml.ATTR_PERSON_SSIN, pki.dentist_ssin),
                    (saml.ATTR_DENTIST_NIHII, pki.dentist_nihii), (saml.ATTR_DENTIST_PROFESSIONAL, "true")],
    )
    token = SamlToken.from_bytes(raw)
    key = ks.authentication.private_key
    data = b"x" * 600  # about the size of a canonical SignedInfo

    if isinstance(key, rsa.RSAPrivateKey):
        def floor() -> None:
            key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)

        def floor() -> None:
            key.sign(data, ec.ECDSA(hashes.SHA256()))

    security = HolderOfKeySecurity(token, ks.authentication)

    def sign_only() -> bytes:
        return security.apply(envelope_for(_body()))

    def sign_and_verify() -> None:
        check_service_request(sign_only(), trust=trust, now=datetime.now(timezone.utc))

    pub = key.public_key()
    raw_sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256()) if isinstance(key, rsa.RSAPrivateKey) \
        else key.sign(data, ec.ECDSA(hashes.SHA256()))

    def raw_verify() -> None:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(raw_sig, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            pub.verify(raw_sig, data, ec.ECDSA(hashes.SHA256()))

    t = _best({"floor": floor, "verify": raw_verify, "sign": sign_only, "both": sign_and_verify}, n)
    floor_s, sign_s, both_s = t["floor"], t["sign"], t["both"]
    crypto_s = t["floor"] + t["verify"]
    print(f"security.sign_verify.{label}: {both_s / floor_s:.2f}x floor (floor {floor_s * 1000:.2f} ms, "
          f"sign+verify {both_s * 1000:.2f} ms, sign only {sign_s * 1000:.2f} ms = {sign_s / floor_s:.2f}x)")
    print(f"security.sign_verify.{label}.vs_raw_sign_plus_verify: {both_s / crypto_s:.2f}x "
          f"(raw sign + raw verify {crypto_s * 1000:.2f} ms; raw verify alone {t['verify'] / floor_s:.2f}x floor)")


class LocalSoap:
    """In-process stand-in for SoapClient that dispatches to the simulator functions (counts calls)."""

    def __init__(self, trust: SimTrust) -> None:
        self.trust = trust
        self.sts_calls = 0
        self.service_calls = 0

    def call(self, url, soap_action, body, *, security=None, idempotent=False, run=None, headers_extra=()):
        data = security.apply(envelope_for(body)) if security else etree.tostring(envelope_for(body))
        now = datetime.now(timezone.utc)
        if "/IAM/" in url:
            self.sts_calls += 1
            raw = handle_sts_request(data, soap_action=soap_action, trust=self.trust, now=now)
        else:
            self.service_calls += 1
            caller = check_service_request(data, trust=self.trust, now=now)
            raw = (b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Body><ok>"
                   + (caller.nihii or "").encode() + b"</ok></s:Body></s:Envelope>")
        env = parse_xml(raw)
        body_el = env.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
        return SoapReply(envelope=env, body_child=body_el[0], raw=raw, status=200)


def bench_token_reuse(out: Path, calls: int) -> None:
    pki = generate_pki(out / "reuse", key_type="rsa")
    trust = SimTrust.load(pki.out_dir)
    soap = LocalSoap(trust)
    ks = Keystore.load(pki.dentist_p12, pki.keystore_password)
    cache = TokenCache(StsClient("https://sim/IAM/SecurityTokenService/v1", ks, soap=soap, trust_anchor=pki.sts_cert))
    t0 = time.perf_counter()
    for _ in range(calls):
        token = cache.get()
        soap.call("https://sim/MyCareNet/MemberData/v1", "urn:test", _body(),
                  security=HolderOfKeySecurity(token, ks.authentication))
    elapsed = time.perf_counter() - t0
    print(f"security.token_reuse: {calls} service calls -> {soap.sts_calls} STS call(s) "
          f"({soap.service_calls} accepted, {elapsed / calls * 1000:.2f} ms per call incl. verify)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        bench_sign_verify("rsa2048", "rsa", out, 300)
        bench_sign_verify("ecp384", "ec", out, 300)
        bench_token_reuse(out, 50)


if __name__ == "__main__":
    main()
