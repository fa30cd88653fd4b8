"""Transport and STS faults over a real TLS loopback server: each gives a typed error and a disturbance."""

from __future__ import annotations

import socket
import ssl
import threading
from datetime import timedelta

import pytest
from mycarenet_dental.ehealth.keystore import Keystore
from mycarenet_dental.ehealth.sts import StsClient
from mycarenet_dental.ehealth.transport import SoapClient
from mycarenet_dental.errors import (
    MalformedResponseError,
    RemoteTimeoutError,
    SecurityError,
    SoapFaultError,
    TransportError,
)
from mycarenet_dental.sim.pki import issue, load_pem_cert, load_pem_key, new_key
from werkzeug.serving import make_server

from tests.security.sec_helpers import body, now


def _sts(sim, soap=None, **kw):
    soap = soap or SoapClient(ca_file=sim.pki.ca, timeout=5, connect_timeout=2, retries=1, backoff=0.01)
    ks = Keystore.load(sim.pki.dentist_p12, sim.pki.keystore_password)
    return StsClient(kw.pop("url", sim.sts_url), ks, soap=soap, trust_anchor=sim.pki.sts_cert, **kw)


@pytest.mark.parametrize(
    ("mode", "code"),
    [("truncated", "XML_MALFORMED"), ("notxml", "XML_MALFORMED"), ("dtd", "XML_DTD_REFUSED")],
)
def test_bad_responses(sim, run, mode, code):
    sim.app.mode = mode
    with pytest.raises(MalformedResponseError) as info:
        _sts(sim).request_token(run=run)
    assert info.value.code == code
    assert info.value.exit_code == 3
    assert any(k == "bad_response" for k, _ in run.disturbances)


def test_html_502_is_transport_error_and_retried(sim, run):
    sim.app.mode = "html"
    with pytest.raises(TransportError) as info:
        _sts(sim).request_token(run=run)
    assert info.value.code == "HTTP_502"
    kinds = [k for k, _ in run.disturbances]
    assert "retry" in kinds


def test_oversized_response(sim, run):
    sim.app.mode = "big"
    soap = SoapClient(ca_file=sim.pki.ca, timeout=5, max_response_bytes=1024 * 1024)
    with pytest.raises(MalformedResponseError) as info:
        _sts(sim, soap=soap).request_token(run=run)
    assert info.value.code == "XML_TOO_LARGE"


def test_slow_sts_times_out(sim, run):
    sim.app.mode = "slow"
    soap = SoapClient(ca_file=sim.pki.ca, timeout=0.5, connect_timeout=1, retries=0)
    with pytest.raises(RemoteTimeoutError) as info:
        _sts(sim, soap=soap).request_token(run=run)
    assert "0.5" in info.value.message
    assert [k for k, _ in run.disturbances] == ["timeout"]


def test_sts_down(sim, run):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    soap = SoapClient(ca_file=sim.pki.ca, timeout=1, connect_timeout=1, retries=2, backoff=0.01)
    with pytest.raises(TransportError) as info:
        _sts(sim, soap=soap, url=f"https://127.0.0.1:{port}/IAM/SecurityTokenService/v1").request_token(run=run)
    assert info.value.code == "CONNECTION"
    kinds = [k for k, _ in run.disturbances]
    assert kinds.count("connection") == 3 and kinds.count("retry") == 2


def test_non_idempotent_is_not_retried(sim, run):
    sim.app.mode = "busy"
    soap = SoapClient(ca_file=sim.pki.ca, timeout=2, retries=3, backoff=0.01)
    with pytest.raises(SoapFaultError) as info:
        soap.call(sim.service_url, "urn:test:ping", body(), idempotent=False, run=run)
    assert info.value.code == "SOA-02002"
    assert [k for k, _ in run.disturbances] == ["fault"]
    run.disturbances.clear()
    with pytest.raises(SoapFaultError):
        soap.call(sim.service_url, "urn:test:ping", body(), idempotent=True, run=run)
    assert [k for k, _ in run.disturbances].count("retry") == 3


def test_tls_name_mismatch(sim, run, tmp_path):
    ca_key = load_pem_key(sim.pki.ca_key)
    ca = load_pem_cert(sim.pki.ca)
    key = new_key("ec256")
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    cert = issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wrong.example")]), key.public_key(),
                 issuer=ca, issuer_key=ca_key, now=now(), days=2, key_usage="tls",
                 san=[x509.DNSName("wrong.example")])
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
    server = make_server("127.0.0.1", 0, sim.app, threaded=True, ssl_context=ctx)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = f"https://127.0.0.1:{server.server_port}/IAM/SecurityTokenService/v1"
        with pytest.raises(TransportError) as info:
            _sts(sim, url=url).request_token(run=run)
        assert info.value.code == "TLS"
        assert [k for k, _ in run.disturbances] == ["tls"]  # never retried
    finally:
        server.shutdown()
        t.join(5)


def test_tls_untrusted_server(sim, run):
    soap = SoapClient(ca_file=None, timeout=2)  # system CAs only: the simulator CA is not trusted
    with pytest.raises(TransportError) as info:
        _sts(sim, soap=soap).request_token(run=run)
    assert info.value.code == "TLS"


def test_untrusted_client_ca_refused_by_sts(sim, run, other_pki):
    other = other_pki
    soap = SoapClient(ca_file=sim.pki.ca, timeout=5)
    ks = Keystore.load(other.dentist_p12, other.keystore_password)
    client = StsClient(sim.sts_url, ks, soap=soap, trust_anchor=sim.pki.sts_cert)
    with pytest.raises(SoapFaultError) as info:
        client.request_token(run=run)
    assert info.value.code == "SOA-01001"
    assert "trusted" in info.value.message


def test_sts_refuses_expired_timestamp(sim, run):
    client = _sts(sim, clock=lambda: now() - timedelta(minutes=20))
    with pytest.raises(SoapFaultError) as info:
        client.request_token(run=run)
    assert info.value.code == "SOA-01001"


def test_sts_refuses_tampered_request(sim, run):
    class Tamper:
        def __init__(self, inner):
            self.inner = inner

        def apply(self, envelope, *, run=None):
            return self.inner.apply(envelope, run=run).replace(b"PublicKey<", b"PublicKey <")

    client = _sts(sim)
    orig = client.soap.call

    def call(url, action, body, *, security=None, **kw):
        return orig(url, action, body, security=Tamper(security), **kw)

    client.soap.call = call  # type: ignore[method-assign]
    with pytest.raises(SoapFaultError) as info:
        client.request_token(run=run)
    assert info.value.code == "SOA-01001"
    assert "digest" in info.value.message


def test_client_refuses_untrusted_sts_signature(sim, other_pki):
    other = other_pki
    client = _sts(sim)
    client.trust = (load_pem_cert(other.sts_cert),)
    with pytest.raises(SecurityError) as info:
        client.request_token()
    assert info.value.code == "SAML_UNTRUSTED"


def test_fault_unknown_code_surfaces_verbatim():
    from lxml import etree
    from mycarenet_dental.ehealth.transport import SoapClient as SC
    from mycarenet_dental.sim.wss_check import soap_fault

    fault = etree.fromstring(soap_fault("XYZ-123", "weird")).find(".//{*}Fault")
    err = SC()._fault(fault, "https://x", None)
    assert err.code == "XYZ-123" and err.messages.en == "weird"


def test_business_error_detail_maps_to_business_error():
    from lxml import etree
    from mycarenet_dental.errors import BusinessError
    from mycarenet_dental.sim.wss_check import soap_fault

    fault = etree.fromstring(soap_fault("INVALID_LICENSE", "bad licence", kind="BusinessError",
                                        origin="MyCareNet")).find(".//{*}Fault")
    err = SoapClient()._fault(fault, "https://x", None)
    assert isinstance(err, BusinessError) and err.exit_code == 1
    assert err.code == "INVALID_LICENSE" and err.origin == "MyCareNet"
    assert err.messages.fr and err.messages.nl and err.messages.en == "bad licence"
    assert "licence" in (err.hint or "")


def test_trace_files_per_attempt(sim, run, tmp_path):
    sim.app.mode = "busy"
    soap = SoapClient(ca_file=sim.pki.ca, timeout=2, retries=2, backoff=0.01, trace_dir=tmp_path)
    with pytest.raises(SoapFaultError):
        soap.call(sim.service_url, "urn:test:ping", body(), idempotent=True, run=run)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 6 and sum("-try3-" in n for n in names) == 2
