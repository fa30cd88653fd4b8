"""``security verify``: the real WSS4J samples of ../shared/conformance/wssecurity and our own messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from mycarenet_dental.cli.security_cmds import security_group
from mycarenet_dental.ehealth import etee
from mycarenet_dental.ehealth.etk import Etk
from mycarenet_dental.shared_folder import shared_path
from mycarenet_dental.sim.sts import SimTrust

from tests.security.sec_helpers import load_keystore, signed_envelope

SAMPLES = shared_path("conformance", "wssecurity")
FULL = {
    "mycarenet-ehealth-saml-sts.as-signed.xml": "2023-12-12T06:58:30Z",
    "mycarenet-ws.as-signed.xml": "2023-12-12T07:24:00Z",
}
DIGESTS = {"mycarenet-ehealth-common.as-signed.xml": "2023-12-12T06:28:50Z"}


def _samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip("../shared/conformance/wssecurity is not present")
    return SAMPLES


def _run(path: Path, *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(security_group, ["verify", str(path), "--json", *args])
    return result.exit_code, json.loads(result.output)


@pytest.mark.parametrize("name", sorted(FULL))
def test_fully_checkable_samples_accepted_with_at(name):
    code, report = _run(_samples() / name, "--at", FULL[name])
    assert code == 0 and report["verdict"] == "valid", report["problems"]
    sig = report["signatures"][0]
    assert sig["signature_value"] == "valid" and sig["weak"] is True
    assert all(r["ok"] for r in sig["references"]) and len(sig["references"]) == 3
    assert any("SHA-1" in w for w in report["warnings"])


@pytest.mark.parametrize("name", sorted(FULL) + sorted(DIGESTS))
def test_old_timestamp_refused_without_at(name):
    code, report = _run(_samples() / name)
    assert code == 1 and any("Timestamp not fresh" in p for p in report["problems"])


def test_third_sample_digests_checked_key_unresolvable_is_a_failure():
    """Issue 15.4: an unresolvable key used to give exit 0 ("digests-only"); it is a refusal now."""
    name = "mycarenet-ehealth-common.as-signed.xml"
    code, report = _run(_samples() / name, "--at", DIGESTS[name])
    assert report["verdict"] == "invalid" and code == 1
    assert any("not resolvable" in p for p in report["problems"])
    sig = report["signatures"][0]
    assert [r["ok"] for r in sig["references"]] == [True, True]
    expected = {"#id-66197DF9AAF0E2089617023625241464", "#TS-66197DF9AAF0E2089617023625241371"}
    assert {r["uri"] for r in sig["references"]} == expected
    assert sig["signature_value"] == "not checkable" and sig["key"]["resolved"] is False


def test_originals_rejected():
    for name in ("mycarenet-ehealth-saml-sts.xml", "mycarenet-ws.xml", "mycarenet-ehealth-common.xml"):
        code, report = _run(_samples() / name, "--at", "2023-12-12T06:58:30Z")
        assert code == 1 and report["verdict"] == "invalid", name


def _one_byte_changes(data: bytes, *, signature_value: bool) -> list[bytes]:
    """Variants differing by one byte inside signed parts (and in the SignatureValue when checkable)."""
    variants = []
    patterns = [rb"<wsu:Created>(\d)", rb"www\.(e)xample\.com", rb"<ds:DigestValue>(.)"]
    if signature_value:
        patterns.append(rb"<ds:SignatureValue>(.)")
    for pattern in patterns:
        m = re.search(pattern, data)
        assert m, pattern
        pos = m.start(1)
        new = b"1" if data[pos : pos + 1] != b"1" else b"2"
        if pattern.startswith(rb"www"):
            new = b"f"
        variants.append(data[:pos] + new + data[pos + 1 :])
    return variants


@pytest.mark.parametrize("name", sorted(FULL) + sorted(DIGESTS))
def test_each_sample_rejected_after_one_byte_change(name, tmp_path):
    data = (_samples() / name).read_bytes()
    at = FULL.get(name) or DIGESTS[name]
    for i, variant in enumerate(_one_byte_changes(data, signature_value=name in FULL)):
        path = tmp_path / f"v{i}.xml"
        path.write_bytes(variant)
        code, report = _run(path, "--at", at)
        assert code == 1 and report["verdict"] == "invalid", (i, report)


def test_verify_our_hok_envelope_with_trust(pki, trust, tmp_path):
    data, token, _ = signed_envelope(pki, trust)
    path = tmp_path / "env.xml"
    path.write_bytes(data)
    code, report = _run(path, "--trust", str(pki.ca))
    assert code == 0 and report["verdict"] == "valid", report["problems"]
    assert report["signatures"][0]["signed_parts"] == ["Body", "Timestamp"]
    assert report["assertions"][0]["assertion_id"] == token.assertion_id
    assert report["assertions"][0]["signature"]["key"]["trusted"] is True
    code, report = _run(path, "--trust", str(pki.sts_cert))
    assert code == 1  # the HoK key is not the STS certificate and not under it
    path.write_bytes(data.replace(b">hello<", b">hellO<"))
    code, report = _run(path)
    assert code == 1 and any("digest mismatch" in p for p in report["problems"])


def test_verify_saml_assertion_alone(pki, trust, tmp_path):
    _, token, _ = signed_envelope(pki, trust)
    path = tmp_path / "a.xml"
    path.write_bytes(token.raw)
    code, report = _run(path, "--trust", str(pki.sts_cert))
    assert code == 0 and report["kind"] == "saml-assertion"
    path.write_bytes(token.raw.replace(pki.dentist_nihii.encode(), b"39999999001"))
    code, report = _run(path)
    assert code == 1


def test_verify_sealed_cms_and_etk(pki, tmp_path):
    dentist = load_keystore(pki.dentist_p12, pki.keystore_password)
    sealed = etee.seal(b"x", sender=dentist.authentication, recipients=[Etk.parse(pki.mycarenet_etk.read_bytes())])
    path = tmp_path / "s.der"
    path.write_bytes(sealed)
    code, report = _run(path, "--trust", str(pki.ca))
    assert code == 0 and report["kind"] == "etee-sealed" and len(report["recipients"]) == 1
    broken = bytearray(sealed)
    broken[-5] ^= 0xFF  # inside the outer SignatureValue
    path.write_bytes(bytes(broken))
    code, report = _run(path)
    assert code == 1
    code, report = _run(pki.mycarenet_etk)
    assert code == 0 and report["kind"] == "etk"


def test_verify_garbage(tmp_path):
    path = tmp_path / "g.bin"
    path.write_bytes(b"\x00\x01garbage")
    code, report = _run(path)
    assert code == 1 and report["verdict"] == "invalid"


def test_sim_trust_repr_has_no_key(trust: SimTrust):
    assert "PRIVATE" not in repr(trust) and "sts_key" not in repr(trust)
