"""Benchmark of the tariff consultation (MyCareNet Tarification, KMEHR).

* ``tariff.consultations_per_s``: complete consultations (contact, rules, audit, WS-Security holder-of-key
  signature, TLS loopback to the simulator, KMEHR parse, log of each line) per second, one after the
  other, with the STS token reused. Each consultation is for a new contact (R35 allows one per contact).
* ``tariff.client_cpu_ratio``: client CPU time per consultation (the calling thread only; the simulator
  answers from other threads) divided by the floor measured in the same run: one signature with the
  dentist's key (what WS-Security costs at least).

The core simulator server (Werkzeug) answers ``Connection: close``, so every call pays a new TLS
handshake on both sides. The script therefore also measures the same simulator application behind a
small HTTP/1.1 keep-alive TLS server (``tariff.keepalive.*``): the figures a keep-alive simulator
server would give (change request for ``simulator/server.py``).

Plain script, nothing asserted. Run: ``.venv/bin/python bench/bench_tariff.py [consultations]``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs

SERVICES = ["301011", "302153:36", "304415:46"]


def _context(env: Any, url: str | None = None) -> Any:
    ctx = env.context()
    raw = dict(ctx.config.raw)
    raw["tariff"] = {"max_per_minute": 10**9}  # a benchmark is systematic by design (R37-burst off)
    if url:
        raw["tariff"]["tarification_url"] = url
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

    sign()
    start = time.thread_time()
    for _ in range(n):
        sign()
    return (time.thread_time() - start) / n


def run(env: Any, n: int, url: str | None = None) -> tuple[float, float, float]:
    from mycarenet_dental.simulator.population import base_population
    from mycarenet_dental_tariff.client import consult_tariff

    patient = base_population()[0].ssin
    ctx = _context(env, url)
    dentist = ctx.responsible().id

    def once() -> None:
        contact = ctx.contacts.open(patient, dentist=dentist, user_id=ctx.user_id).id
        result = consult_tariff(ctx, patient, SERVICES, contact_id=contact)
        assert len(result.lines) == 3 and all(line.priced for line in result.lines)

    for _ in range(3):  # warm-up: token, schemas, TLS session
        once()
    wall = time.perf_counter()
    cpu = time.thread_time()
    for _ in range(n):
        once()
    cpu_per = (time.thread_time() - cpu) / n
    rate = n / (time.perf_counter() - wall)
    floor = signature_floor(ctx)
    ctx.close()
    return rate, cpu_per, floor


class _KeepAliveServer:
    """The simulator's WSGI app behind an HTTP/1.1 keep-alive TLS server on loopback (bench only)."""

    def __init__(self, app: Any, pki_dir: Path) -> None:
        import io
        import ssl
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from werkzeug.wrappers import Request

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stall

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                environ = {"REQUEST_METHOD": "POST", "PATH_INFO": self.path, "QUERY_STRING": "",
                           "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                           "HTTP_SOAPACTION": self.headers.get("SOAPAction", ""), "SERVER_NAME": "127.0.0.1",
                           "SERVER_PORT": "0", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "https",
                           "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr}
                reply = app.dispatch(Request(environ))
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(pki_dir / "tls.pem"), str(pki_dir / "tls-key.pem"))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main() -> None:
    from mycarenet_dental.testing import SimEnv

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory(prefix="bench-tariff-") as tmp:
        env = SimEnv.start(Path(tmp))
        try:
            rate, cpu_per, floor = run(env, n)
            keep = _KeepAliveServer(env.app, Path(tmp))
            try:
                rate_k, cpu_k, floor_k = run(env, n, url=keep.url + "/MyCareNet/Tarification/v1")
            finally:
                keep.stop()
        finally:
            env.stop()
    print(f"tariff.consultations_per_s: {rate:.1f} (target >= 100) — {len(SERVICES)} services per consultation, "
          f"loopback TLS simulator, token reused, {n} sequential")
    print(f"tariff.client_cpu_ratio: {cpu_per / floor:.2f}x floor (target <= 2) — client CPU {cpu_per * 1000:.2f} ms "
          f"per consultation; floor = one signature with the dentist's key = {floor * 1000:.2f} ms")
    print(f"tariff.keepalive.consultations_per_s: {rate_k:.1f} — same app behind an HTTP/1.1 keep-alive TLS server")
    print(f"tariff.keepalive.client_cpu_ratio: {cpu_k / floor_k:.2f}x floor — client CPU {cpu_k * 1000:.2f} ms "
          f"per consultation (no TLS handshake per call)")


if __name__ == "__main__":
    main()
