"""Client <-> simulator over a real loopback TLS server: login, then a signed call accepted."""

from __future__ import annotations

from lxml import etree
from mycarenet_dental.ehealth import saml
from mycarenet_dental.ehealth.keystore import Keystore
from mycarenet_dental.ehealth.sts import StsClient
from mycarenet_dental.ehealth.tokens import TokenCache
from mycarenet_dental.ehealth.transport import SoapClient
from mycarenet_dental.ehealth.wssecurity import HolderOfKeySecurity


def _body() -> etree._Element:
    el = etree.Element("{urn:test}Ping")
    el.text = "hello"
    return el


def _client(sim, *, legacy=False, keystore_path=None):
    pki = sim.pki
    soap = SoapClient(ca_file=pki.ca, timeout=5, connect_timeout=2)
    ks = Keystore.load(keystore_path or pki.dentist_p12, pki.keystore_password)
    url = sim.legacy_url if legacy else sim.sts_url
    return soap, ks, StsClient(url, ks, soap=soap, trust_anchor=pki.sts_cert, legacy=legacy)


def test_login_then_signed_call_accepted(sim, run):
    soap, ks, sts = _client(sim)
    token = TokenCache(sts).get(run=run)
    assert token.attribute(saml.ATTR_DENTIST_NIHII) == sim.pki.dentist_nihii
    assert token.attribute(saml.ATTR_DENTIST_PROFESSIONAL) == "true"
    assert token.attribute(saml.ATTR_PERSON_SSIN) == sim.pki.dentist_ssin
    reply = soap.call(sim.service_url, "urn:test:ping", _body(),
                      security=HolderOfKeySecurity(token, ks.authentication), idempotent=False, run=run)
    assert reply.body_child.text == sim.pki.dentist_nihii
    names = {n for n, _ in run.references}
    assert {"wsu:Timestamp", "soap:Body", "saml:AssertionID"} <= names


def test_legacy_samlp_login(sim):
    soap, ks, sts = _client(sim, legacy=True)
    token = sts.request_token()
    assert token.attribute(saml.ATTR_DENTIST_NIHII) == sim.pki.dentist_nihii
    reply = soap.call(sim.service_url, "urn:test:ping", _body(),
                      security=HolderOfKeySecurity(token, ks.authentication), idempotent=False)
    assert reply.body_child is not None


def test_generic_async_timestamp_only(sim):
    soap, ks, sts = _client(sim)
    token = sts.request_token()
    reply = soap.call(sim.service_url, "urn:test:async", _body(),
                      security=HolderOfKeySecurity(token, ks.authentication, timestamp_only=True), idempotent=False)
    assert reply.body_child.text == sim.pki.dentist_nihii


def test_mandatary_gets_its_own_identity(sim):
    soap, ks, sts = _client(sim, keystore_path=sim.pki.mandatary_p12)
    token = sts.request_token()
    assert token.attribute(saml.ATTR_CERTHOLDER_CBE) == sim.pki.mandatary_cbe
    assert token.attribute(saml.ATTR_DENTIST_NIHII) is None
    reply = soap.call(sim.service_url, "urn:test:ping", _body(),
                      security=HolderOfKeySecurity(token, ks.authentication), idempotent=False)
    assert reply.body_child.text == sim.pki.mandatary_cbe
    assert sim.app.last_caller.quality == "billing_office"


def test_n_calls_cost_one_sts_call(sim):
    soap, ks, sts = _client(sim)
    cache = TokenCache(sts)
    for _ in range(5):
        token = cache.get()
        soap.call(sim.service_url, "urn:test:ping", _body(),
                  security=HolderOfKeySecurity(token, ks.authentication), idempotent=False)
    assert sim.app.sts_calls == 1
    assert sim.app.service_calls == 5


def test_login_command_json(sim, tmp_path):
    import json

    from click.testing import CliRunner
    from mycarenet_dental.cli.security_cmds import login_command
    from mycarenet_dental.ehealth.session import SecuritySession

    class Ctx:
        pass

    ctx = Ctx()
    ctx.security = SecuritySession(
        keystore_path=sim.pki.dentist_p12, password=sim.pki.keystore_password, sts_url=sim.sts_url,
        soap=SoapClient(ca_file=sim.pki.ca, timeout=5), trust_anchor=sim.pki.sts_cert,
        token_cache_path=tmp_path / "token.json", etk_depot_url=sim.etk_url, etk_trust_anchor=sim.pki.ca,
    )
    result = CliRunner().invoke(login_command, ["--json"], obj=ctx)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["subject"].startswith("CN=SSIN=")
    names = {a["name"]: a["values"] for a in data["attributes"]}
    assert names[saml.ATTR_DENTIST_NIHII] == [sim.pki.dentist_nihii]
    assert data["not_on_or_after"] > data["not_before"]
    result = CliRunner().invoke(login_command, [], obj=ctx)
    assert result.exit_code == 0 and sim.pki.dentist_nihii in result.output
    assert sim.app.sts_calls == 1  # second login reused the cached token


def test_wstrust_sign_challenge(sim, pki, tmp_path):
    """STS configured to always challenge: the client signs the challenge back and gets the token."""
    import attrs
    from mycarenet_dental.sim.sts import handle_sts_request

    trust = attrs.evolve(sim.app.trust, challenge="always")

    class LocalSoap:
        def __init__(self):
            self.actions = []
            self.inner = SoapClient(ca_file=pki.ca)

        def call(self, url, action, body, *, security=None, idempotent=False, run=None, headers_extra=()):
            from datetime import datetime, timezone

            from mycarenet_dental.ehealth.transport import envelope_for
            from mycarenet_dental.xmlsafe import parse_xml

            self.actions.append(action)
            data = security.apply(envelope_for(body))
            raw = handle_sts_request(data, soap_action=action, trust=trust, now=datetime.now(timezone.utc))
            env = parse_xml(raw)
            from mycarenet_dental.ehealth.transport import SoapReply

            child = env.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]
            return SoapReply(envelope=env, body_child=child, raw=raw, status=200)

    soap = LocalSoap()
    ks = Keystore.load(pki.dentist_p12, pki.keystore_password)
    token = StsClient(sim.sts_url, ks, soap=soap, trust_anchor=pki.sts_cert).request_token()
    assert token.attribute(saml.ATTR_DENTIST_NIHII) == pki.dentist_nihii
    assert [a.rsplit(":", 1)[-1] for a in soap.actions] == ["RequestSecurityToken", "Challenge"]
