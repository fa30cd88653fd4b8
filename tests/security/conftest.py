"""Fixtures for the security tests: a fresh test PKI and a loopback TLS simulator (Werkzeug).

The tiny WSGI app here routes to the security package's simulator functions; the lead's real host replaces
it in end-to-end tests.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from mycarenet_dental.sim.etk_depot import handle_etk_request
from mycarenet_dental.sim.pki import PkiPaths, generate_pki
from mycarenet_dental.sim.sts import SimTrust, handle_sts_request
from mycarenet_dental.sim.wss_check import (
    SimSoapFault,
    check_care_provider,
    check_service_request,
    soap_fault,
)
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

SERVICE_PATH = "/MyCareNet/Test/v1"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    return generate_pki(tmp_path_factory.mktemp("pki-rsa"), key_type="rsa")


@pytest.fixture(scope="session")
def pki_ec(tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    return generate_pki(tmp_path_factory.mktemp("pki-ec"), key_type="ec")


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    """A second, unrelated PKI: its CA, STS and keystores are not trusted by the simulator."""
    return generate_pki(tmp_path_factory.mktemp("pki-other"), key_type="rsa")


@pytest.fixture(scope="session")
def trust(pki: PkiPaths) -> SimTrust:
    return SimTrust.load(pki.out_dir)


class SimApp:
    """WSGI app with switchable misbehaviour (``mode``) for transport tests."""

    def __init__(self, trust: SimTrust) -> None:
        self.trust = trust
        self.mode = "normal"
        self.sts_calls = 0
        self.service_calls = 0
        self.last_caller = None

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        request = Request(environ)
        body = request.get_data()
        action = request.headers.get("SOAPAction", "").strip('"')
        now = datetime.now(timezone.utc)
        mode = self.mode
        if mode == "slow":
            time.sleep(1.5)
        elif mode == "truncated":
            return Response(b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'><soa",
                            content_type="text/xml")(environ, start_response)
        elif mode == "html":
            return Response(b"<html><body>Bad gateway</body></html>", status=502,
                            content_type="text/html")(environ, start_response)
        elif mode == "notxml":
            return Response(b"this is not xml at all", content_type="text/plain")(environ, start_response)
        elif mode == "dtd":
            evil = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
                    b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'>"
                    b"<soapenv:Body><x>&lol2;</x></soapenv:Body></soapenv:Envelope>")
            return Response(evil, content_type="text/xml")(environ, start_response)
        elif mode == "big":
            filler = b"<a>" + b"x" * (2 * 1024 * 1024) + b"</a>"
            data = (b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'><soapenv:Body>"
                    + filler + b"</soapenv:Body></soapenv:Envelope>")
            return Response(data, content_type="text/xml")(environ, start_response)
        elif mode == "busy":
            return Response(soap_fault("SOA-02002", "Service temporarily unavailable"), status=500,
                            content_type="text/xml")(environ, start_response)
        try:
            if request.path.startswith("/IAM/"):
                self.sts_calls += 1
                data = handle_sts_request(body, soap_action=action, trust=self.trust, now=now)
            elif request.path == "/EtkDepot/v1":
                data = handle_etk_request(body, trust=self.trust)
            elif request.path == SERVICE_PATH:
                self.service_calls += 1
                caller = check_service_request(body, trust=self.trust, now=now,
                                               timestamp_only=action.endswith(":async"))
                self.last_caller = caller
                if caller.nihii:
                    check_care_provider(caller, caller.nihii)
                data = (b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'><soapenv:Body>"
                        b"<ok xmlns='urn:test'>" + (caller.nihii or caller.cbe or "").encode() +
                        b"</ok></soapenv:Body></soapenv:Envelope>")
            else:
                data = soap_fault("SOA-02001", f"Service not available: {request.path}")
                return Response(data, status=500, content_type="text/xml")(environ, start_response)
        except SimSoapFault as fault:
            return Response(fault.to_response_bytes(), status=fault.http_status,
                            content_type="text/xml")(environ, start_response)
        return Response(data, content_type="text/xml; charset=utf-8")(environ, start_response)


class Sim:
    def __init__(self, app: SimApp, port: int, pki: PkiPaths) -> None:
        self.app = app
        self.port = port
        self.pki = pki
        self.base = f"https://127.0.0.1:{port}"

    @property
    def sts_url(self) -> str:
        return self.base + "/IAM/SecurityTokenService/v1"

    @property
    def legacy_url(self) -> str:
        return self.base + "/IAM/Saml11TokenService/Legacy/v1"

    @property
    def service_url(self) -> str:
        return self.base + SERVICE_PATH

    @property
    def etk_url(self) -> str:
        return self.base + "/EtkDepot/v1"


@pytest.fixture(scope="session")
def sim_server(pki: PkiPaths, trust: SimTrust) -> Iterator[Sim]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki.tls_cert), str(pki.tls_key))
    app = SimApp(trust)
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ctx)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Sim(app, server.server_port, pki)
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture()
def sim(sim_server: Sim) -> Iterator[Sim]:
    sim_server.app.mode = "normal"
    sim_server.app.sts_calls = 0
    sim_server.app.service_calls = 0
    yield sim_server
    sim_server.app.mode = "normal"


class RecordingRun:
    """Stands in for the lead's ExchangeRun: records disturbances and references."""

    def __init__(self) -> None:
        self.disturbances: list[tuple[str, str]] = []
        self.references: list[tuple[str, str]] = []

    def disturbance(self, kind: str, detail: str) -> None:
        self.disturbances.append((kind, detail))

    def reference(self, name: str, value: str) -> None:
        self.references.append((name, value))


@pytest.fixture()
def run() -> RecordingRun:
    return RecordingRun()
