"""Token cache: half-life reuse, renewal before expiry, failed renewal raises, persistence 0600."""

from __future__ import annotations

import os
import stat
from datetime import timedelta

import pytest
from mycarenet_dental.ehealth.keystore import Keystore
from mycarenet_dental.ehealth.tokens import TokenCache
from mycarenet_dental.errors import TransportError
from mycarenet_dental.sim.pki import load_pem_cert

from tests.security.sec_helpers import issue_token, now


class FakeSts:
    def __init__(self, pki, trust, lifetime=timedelta(hours=2)):
        self.keystore = Keystore.load(pki.dentist_p12, pki.keystore_password)
        self.trust = (load_pem_cert(pki.sts_cert),)
        self.allow_sha1 = False
        self.pki, self.sim_trust, self.lifetime = pki, trust, lifetime
        self.calls = 0
        self.fail = False
        self.start = None

    def request_token(self, *, run=None):
        self.calls += 1
        if self.fail:
            raise TransportError("STS down", code="CONNECTION")
        return issue_token(self.sim_trust, self.keystore, nihii=self.pki.dentist_nihii, ssin=self.pki.dentist_ssin,
                           lifetime=self.lifetime, start=self.start)


def test_reuse_until_half_life_then_renew(pki, trust):
    sts = FakeSts(pki, trust)
    cache = TokenCache(sts)
    t0 = now()
    first = cache.get(t0)
    # token life: NotBefore = t0 - 5 min, NotOnOrAfter = t0 + 2h -> half life at t0 + 57.5 min
    assert cache.get(t0 + timedelta(minutes=30)) is first
    assert cache.get(t0 + timedelta(minutes=57)) is first
    assert sts.calls == 1
    second = cache.get(t0 + timedelta(minutes=58))
    assert second is not first and sts.calls == 2


def test_failed_renewal_raises_never_reuses(pki, trust):
    sts = FakeSts(pki, trust)
    cache = TokenCache(sts)
    t0 = now()
    cache.get(t0)
    sts.fail = True
    with pytest.raises(TransportError):
        cache.get(t0 + timedelta(minutes=90))  # past half life, still valid: renewal failure is an error
    with pytest.raises(TransportError):
        cache.get(t0 + timedelta(hours=3))  # expired: certainly never reused
    assert cache.current is None


def test_persistence_file_0600_without_private_key(pki, trust, tmp_path):
    sts = FakeSts(pki, trust)
    path = tmp_path / "tok" / "token.json"
    cache = TokenCache(sts, persist_path=path)
    token = cache.get()
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600
    text = path.read_bytes()
    assert b"PRIVATE" not in text and pki.keystore_password.encode() not in text
    again = TokenCache(sts, persist_path=path)
    assert again.current is not None and again.current.raw == token.raw
    assert again.get() .assertion_id == token.assertion_id and sts.calls == 1


def test_persisted_token_tampered_is_ignored(pki, trust, tmp_path):
    import base64
    import json

    sts = FakeSts(pki, trust)
    path = tmp_path / "token.json"
    TokenCache(sts, persist_path=path).get()
    payload = json.loads(path.read_text())
    raw = base64.b64decode(payload["assertion"]).replace(pki.dentist_nihii.encode(), b"39999999001")
    payload["assertion"] = base64.b64encode(raw).decode()
    path.write_text(json.dumps(payload))
    assert TokenCache(sts, persist_path=path).current is None
