"""Keystore: RSA-2048 and EC P-384, every key kept, clear errors before any network call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from mycarenet_dental.ehealth.keystore import Keystore, KeystoreError
from mycarenet_dental.sim.p12 import P12Entry, build_pkcs12
from mycarenet_dental.sim.pki import issue, load_pem_cert, load_pem_key, new_key, person_subject

from tests.security.sec_helpers import now


@pytest.mark.parametrize("which", ["pki", "pki_ec"])
def test_load_rsa_and_ec(request, which):
    pki = request.getfixturevalue(which)
    ks = Keystore.load(pki.dentist_p12, pki.keystore_password)
    assert ks.authentication.alias == "authentication"
    assert ks.authentication.key_type == ("ec" if which == "pki_ec" else "rsa")
    if which == "pki_ec":
        assert ks.authentication.private_key.curve.name == "secp384r1"
    else:
        assert ks.authentication.private_key.key_size == 2048
    assert len(ks.encryption_keys) == 1
    enc = ks.encryption_keys[0]
    assert enc.alias == str(enc.certificate.serial_number)  # decimal serial
    assert ks.authentication.chain[0] == load_pem_cert(pki.ca)
    assert ks.expiry_warning(now()) is None
    assert "password" not in repr(ks).lower() and "PRIVATE" not in repr(ks)


def _store(pki, *entries, password="pw-123"):
    return build_pkcs12(list(entries), password), password


def _entries(pki, *, auth_days=365, start=None, n_enc=2):
    ca, ca_key = load_pem_cert(pki.ca), load_pem_key(pki.ca_key)
    subject = person_subject("85073003328", "Test PERSON")
    auth_key = new_key("ec")
    auth = issue(subject, auth_key.public_key(), issuer=ca, issuer_key=ca_key, now=now(), days=auth_days,
                 not_before=start)
    out = [P12Entry("authentication", auth_key, auth, (ca,))]
    for _ in range(n_enc):
        k = new_key("rsa")
        c = issue(subject, k.public_key(), issuer=auth, issuer_key=auth_key, now=now(), days=400, key_usage="enc")
        out.append(P12Entry(str(c.serial_number), k, c, (auth, ca)))
    return out


def test_every_key_kept(pki):
    entries = _entries(pki, n_enc=3)
    data, pw = _store(pki, *entries)
    ks = Keystore.from_bytes(data, pw)
    assert len(ks.encryption_keys) == 3
    assert {e.alias for e in ks.encryption_keys} == {e.alias for e in entries[1:]}
    for entry in entries[1:]:
        assert ks.encryption_key_for(entry.certificate).alias == entry.alias


def test_wrong_password_no_secret_in_message(pki):
    with pytest.raises(KeystoreError) as info:
        Keystore.load(pki.dentist_p12, "not-the-password-xyz")
    assert info.value.code == "KEYSTORE_PASSWORD"
    assert info.value.exit_code == 2
    assert "not-the-password-xyz" not in str(info.value)
    assert pki.keystore_password not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(KeystoreError):
        Keystore.load(tmp_path / "nope.p12", "x")


def test_missing_authentication_alias(pki):
    entries = _entries(pki, n_enc=1)
    data, pw = _store(pki, entries[1])  # only an encryption key (self-issued, no digitalSignature)
    with pytest.raises(KeystoreError) as info:
        Keystore.from_bytes(data, pw)
    assert info.value.code == "KEYSTORE_ALIAS"


def test_expired_and_not_yet_valid(pki):
    data, pw = _store(pki, *_entries(pki, auth_days=10, start=now() - timedelta(days=20), n_enc=0))
    with pytest.raises(KeystoreError) as info:
        Keystore.from_bytes(data, pw)
    assert info.value.code == "KEYSTORE_EXPIRED"
    data, pw = _store(pki, *_entries(pki, auth_days=10, start=now() + timedelta(days=2), n_enc=0))
    with pytest.raises(KeystoreError) as info:
        Keystore.from_bytes(data, pw)
    assert info.value.code == "KEYSTORE_NOT_YET_VALID"


def test_expiry_warning_30_days(pki):
    data, pw = _store(pki, *_entries(pki, auth_days=40, start=now() - timedelta(days=20), n_enc=0))
    ks = Keystore.from_bytes(data, pw)
    warning = ks.expiry_warning(now())
    assert warning and "expires in 19 day" in warning
    assert ks.expiry_warning(now() - timedelta(days=15)) is None


def test_openssl_reads_our_p12(pki, tmp_path):
    import shutil
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl missing")
    out = subprocess.run(["openssl", "pkcs12", "-in", str(pki.dentist_p12), "-passin", "env:PW", "-nodes",
                          "-info"], capture_output=True, env={"PW": pki.keystore_password}, timeout=30)
    assert out.returncode == 0
    assert out.stdout.count(b"BEGIN PRIVATE KEY") == 2


def test_legacy_3des_store_from_openssl(pki, tmp_path):
    """A keystore in the older PBE-SHA1-3DES format (as keytool -legacy writes) loads too."""
    import shutil
    import subprocess

    from cryptography.hazmat.primitives import serialization

    if not shutil.which("openssl"):
        pytest.skip("openssl missing")
    entries = _entries(pki, n_enc=0)
    auth = entries[0]
    (tmp_path / "k.pem").write_bytes(auth.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "c.pem").write_bytes(auth.certificate.public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(
        ["openssl", "pkcs12", "-export", "-inkey", str(tmp_path / "k.pem"), "-in", str(tmp_path / "c.pem"),
         "-name", "authentication", "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1",
         "-passout", "pass:legacy-pw", "-out", str(tmp_path / "legacy.p12")],
        capture_output=True, timeout=30)
    if out.returncode != 0:
        pytest.skip(f"openssl cannot write a legacy store here: {out.stderr[:200]!r}")
    ks = Keystore.load(tmp_path / "legacy.p12", "legacy-pw")
    assert ks.authentication.certificate == auth.certificate
