"""Signed checkpoints of the audit trail, kept outside the database (issue 15.7).

The hash chain alone is tamper-*evident* only against naive edits: whoever can write the database can
rewrite a row and recompute every later hash, cut the tail and fix the head, or empty it. A
checkpoint is the chain head (sequence number and hash) signed with the practice's eHealth
authentication key, appended as one JSON line to a file beside — not inside — the database
(``[audit] checkpoints``, default ``<storage>.checkpoints``, mode 0600). The file can be backed up or
printed; ``audit verify`` checks the chain against every checkpoint, so rows removed or rewritten
before the latest one are found even with a recomputed chain.

What it cannot do: someone holding the private key (and its password) can sign a forged head, and
someone who deletes the checkpoint file *and* every copy of it leaves only the bare chain to check.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from .audit import VerifyResult, verify_store
from .errors import ConfigError
from .timeutil import parse_datetime, utc_ms

VERSION = 1
SUFFIX = ".checkpoints"
DAILY = timedelta(hours=24)


class CheckpointFileError(Exception):
    """The checkpoint file cannot be read as checkpoints (named in ``audit verify``'s failure)."""


@attrs.frozen
class Checkpoint:
    """One signed chain head."""

    seq: int
    hash: str
    at: str
    reason: str
    cert: str = attrs.field(repr=False)  # base64 DER of the signer's certificate
    sig: str = attrs.field(repr=False)
    line: int = 0  # where it was read (1-based), 0 when new

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(base64.b64decode(self.cert))

    @property
    def signer(self) -> str:
        return self.certificate.subject.rfc4514_string()

    def payload(self) -> bytes:
        """The signed bytes: every field but the signature, canonical JSON."""
        cert_digest = hashlib.sha256(base64.b64decode(self.cert)).hexdigest()
        return json.dumps({"v": VERSION, "seq": self.seq, "hash": self.hash, "at": self.at, "reason": self.reason,
                           "cert_sha256": cert_digest}, sort_keys=True, separators=(",", ":")).encode()

    def to_line(self) -> str:
        return json.dumps({"v": VERSION, "seq": self.seq, "hash": self.hash, "at": self.at, "reason": self.reason,
                           "cert": self.cert, "sig": self.sig}, sort_keys=True, separators=(",", ":"))

    def summary(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "at": self.at, "reason": self.reason, "line": self.line}


def _sign(key: Any, data: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    raise ConfigError("the authentication key is neither RSA nor EC: it cannot sign audit checkpoints")


def _signature_ok(cert: x509.Certificate, data: bytes, signature: bytes) -> bool:
    public = cert.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


@attrs.frozen
class Signer:
    """The practice's key that signs checkpoints, and the certificates that say which keys are ours.

    A checkpoint signed by an earlier certificate of the same subject, issued by a CA of the keystore,
    is still accepted (the eHealth certificate is renewed every few years).
    """

    private_key: Any = attrs.field(repr=False)
    certificate: x509.Certificate
    issuers: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_keystore(cls, keystore: Any) -> Signer:
        entry = keystore.authentication
        return cls(private_key=entry.private_key, certificate=entry.certificate,
                   issuers=tuple(entry.chain) + tuple(keystore.certificates))

    def sign(self, seq: int, head: str, *, reason: str, at: datetime | None = None) -> Checkpoint:
        cert = base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()
        unsigned = Checkpoint(seq=seq, hash=head, at=utc_ms(at), reason=reason, cert=cert, sig="")
        sig = base64.b64encode(_sign(self.private_key, unsigned.payload())).decode()
        return attrs.evolve(unsigned, sig=sig)

    def trusts(self, cert: x509.Certificate) -> bool:
        if _spki(cert) == _spki(self.certificate):
            return True
        if cert.subject != self.certificate.subject:
            return False
        for issuer in self.issuers:
            try:
                cert.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return True
        return False


def check_signature(cp: Checkpoint, signer: Signer | None) -> tuple[str, str] | None:
    """(problem, why) when this checkpoint cannot be trusted, or None. Without a signer only the
    signature is checked, against the certificate the checkpoint carries."""
    try:
        cert = cp.certificate
        signature = base64.b64decode(cp.sig, validate=True)
    except (ValueError, TypeError):
        return "BAD_CHECKPOINT_FILE", f"checkpoint on line {cp.line} carries an unreadable certificate or signature"
    if not _signature_ok(cert, cp.payload(), signature):
        return ("BAD_CHECKPOINT_SIGNATURE",
                f"checkpoint on line {cp.line} (entry {cp.seq}, {cp.at}) has a bad signature: it was altered")
    if signer is not None and not signer.trusts(cert):
        return ("UNKNOWN_SIGNER", f"checkpoint on line {cp.line} (entry {cp.seq}, {cp.at}) was signed by "
                f"{cert.subject.rfc4514_string()}, not with the practice's key")
    return None


def default_path(storage_path: Path | str) -> Path:
    return Path(str(storage_path) + SUFFIX)


def path_from_config(config: Any) -> Path:
    """``[audit] checkpoints`` (relative to the configuration file) or ``<storage path>.checkpoints``."""
    section: Mapping[str, Any] = config.section("audit")
    value = section.get("checkpoints")
    if value is None:
        return default_path(config.storage_path)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("[audit] checkpoints must be a file path", location="[audit] checkpoints")
    path = Path(os.path.expanduser(value))
    if not path.is_absolute() and config.path is not None:
        path = Path(config.path).parent / path
    return path


class CheckpointFile:
    """The append-only JSON-lines file of checkpoints (0600)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> list[Checkpoint]:
        """Every checkpoint in file order; CheckpointFileError names the first line that is not one."""
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise CheckpointFileError(f"cannot read the checkpoint file {self.path}: {exc.strerror}") from None
        try:
            lines = text.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise CheckpointFileError(f"the checkpoint file {self.path} is not text") from None
        out = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                if not isinstance(raw, dict) or raw.get("v") != VERSION:
                    raise ValueError
                cp = Checkpoint(seq=raw["seq"], hash=raw["hash"], at=raw["at"], reason=raw["reason"],
                                cert=raw["cert"], sig=raw["sig"], line=number)
                if not (isinstance(cp.seq, int) and cp.seq >= 0 and isinstance(cp.hash, str)
                        and all(isinstance(v, str) for v in (cp.at, cp.reason, cp.cert, cp.sig))):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                raise CheckpointFileError(f"line {number} of the checkpoint file {self.path} is not a checkpoint "
                                          "(edited or damaged)") from None
            out.append(cp)
        return out

    def latest(self) -> Checkpoint | None:
        """The last checkpoint, read from the end of the file only (called after every exchange)."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 16384))
                tail = fh.read().decode("utf-8", "replace")
        except OSError:
            return None
        lines = [ln for ln in tail.splitlines() if ln.strip()]
        if not lines:
            return None
        try:
            raw = json.loads(lines[-1])
            return Checkpoint(seq=int(raw["seq"]), hash=str(raw["hash"]), at=str(raw["at"]), reason=str(raw["reason"]),
                              cert=str(raw["cert"]), sig=str(raw["sig"]))
        except (ValueError, KeyError, TypeError):
            return None

    def append(self, cp: Checkpoint) -> Checkpoint:
        """Append one checkpoint, flushed to disk; the file is created (and kept) 0600."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (cp.to_line() + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return cp

    def due(self, now: datetime | None = None) -> bool:
        """True when no checkpoint was written in the last 24 hours (the daily checkpoint)."""
        latest = self.latest()
        if latest is None:
            return True
        try:
            at = parse_datetime(latest.at)
        except ValueError:
            return True
        return (now or datetime.now(timezone.utc)) - at >= DAILY


def check_trail(storage_path: Path | str, checkpoints: CheckpointFile, signer: Signer | None, *,
                sign: bool = True, reason: str = "verify", now: datetime | None = None) -> VerifyResult:
    """``audit verify``: the checkpoints' signatures, the store, the chain against every checkpoint;
    then, when all is well and a signer is given, a new checkpoint of the head."""
    warnings: list[str] = []
    try:
        items = checkpoints.read()
    except CheckpointFileError as exc:
        return VerifyResult(False, 0, reason=str(exc), problem="BAD_CHECKPOINT_FILE")
    for cp in items:
        problem = check_signature(cp, signer)
        if problem is not None:
            return VerifyResult(False, 0, reason=problem[1], problem=problem[0])
    result = verify_store(storage_path, items)
    if signer is None:
        warnings.append("no keystore configured: no checkpoint is signed and existing ones are checked only against "
                        "the certificate they carry — the trail is tamper-evident, not tamper-proof")
    elif not items:
        warnings.append(f"no checkpoint in {checkpoints.path} yet: nothing to compare the chain with (if there "
                        "was one, compare with its backup: audit verify --checkpoints BACKUP)"
                        + (" — a first one is written now" if result.ok and sign else ""))
    if not result.ok or signer is None or not sign:
        return attrs.evolve(result, warnings=result.warnings + tuple(warnings))
    cp = checkpoints.append(signer.sign(result.rows, result.head, reason=reason, at=now))
    return attrs.evolve(result, signed=cp.summary() | {"file": str(checkpoints.path)},
                        warnings=result.warnings + tuple(warnings))


def sign_head(storage: Any, checkpoints: CheckpointFile, signer: Signer, *, reason: str,
              now: datetime | None = None) -> Checkpoint | None:
    """Sign the head the database holds now (the daily checkpoint); nothing for an empty trail."""
    head = storage.query_one("SELECT seq, hash FROM audit_head WHERE id = 1")
    if head is None or int(head["seq"]) == 0:
        return None
    return checkpoints.append(signer.sign(int(head["seq"]), str(head["hash"]), reason=reason, at=now))
