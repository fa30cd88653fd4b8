"""Issue 12.4: the STS KeyType is the eHealth spelling (``…/ws-sx/wstrust/200512/PublicKey``, no hyphen).

The simulated STS accepts that spelling only; the WS-Trust 1.3 one (``…/ws-trust/…``) only behind the
``accept_oasis_key_type`` switch, as the real STS is only known to accept the former.
"""

from __future__ import annotations

import attrs
import pytest
from mycarenet_dental.ehealth import sts as sts_module
from mycarenet_dental.ehealth.keystore import Keystore
from mycarenet_dental.ehealth.sts import NS_WST, StsClient
from mycarenet_dental.ehealth.transport import SoapClient
from mycarenet_dental.errors import SoapFaultError

EHEALTH_KEY_TYPE = "http://docs.oasis-open.org/ws-sx/wstrust/200512/PublicKey"
OASIS_KEY_TYPE = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey"


def _client(sim) -> StsClient:
    soap = SoapClient(ca_file=sim.pki.ca, timeout=5, connect_timeout=2)
    ks = Keystore.load(sim.pki.dentist_p12, sim.pki.keystore_password)
    return StsClient(sim.sts_url, ks, soap=soap, trust_anchor=sim.pki.sts_cert)


def test_client_sends_the_ehealth_key_type(sim):
    from datetime import datetime, timezone

    rst = _client(sim).wstrust_request(datetime.now(timezone.utc))
    assert rst.findtext(f"{{{NS_WST}}}KeyType") == EHEALTH_KEY_TYPE
    token = _client(sim).request_token()  # and the simulated STS takes it
    assert token.assertion_id


def test_simulated_sts_refuses_the_hyphenated_key_type(sim, monkeypatch):
    monkeypatch.setattr(sts_module, "KEY_TYPE_PUBLIC", OASIS_KEY_TYPE)  # what the old client sent
    with pytest.raises(SoapFaultError) as info:
        _client(sim).request_token()
    assert info.value.code == "SOA-03007"
    assert "KeyType" in info.value.messages.en


def test_hyphenated_key_type_only_behind_the_switch(sim, monkeypatch):
    monkeypatch.setattr(sts_module, "KEY_TYPE_PUBLIC", OASIS_KEY_TYPE)
    original = sim.app.trust
    sim.app.trust = attrs.evolve(original, accept_oasis_key_type=True)
    try:
        assert _client(sim).request_token().assertion_id
    finally:
        sim.app.trust = original


def test_hosted_simulator_switch(mycarenet_simulator, monkeypatch):
    """The hosted simulator reads ``[simulator] switches`` ``sts.accept_oasis_key_type``."""
    from mycarenet_dental.sim.app import SWITCH_STS_OASIS_KEY_TYPE

    env = mycarenet_simulator
    ctx = env.context()
    monkeypatch.setattr(sts_module, "KEY_TYPE_PUBLIC", OASIS_KEY_TYPE)
    with pytest.raises(SoapFaultError) as info:
        ctx.security.sts.request_token()
    assert info.value.code == "SOA-03007"
    env.state.switches.extra[SWITCH_STS_OASIS_KEY_TYPE] = True
    assert ctx.security.sts.request_token().assertion_id
