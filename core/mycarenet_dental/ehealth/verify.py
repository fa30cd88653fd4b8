"""Diagnostic verifier behind ``mycarenet-dental security verify`` (for helpdesk questions).

Given a SOAP envelope with WS-Security, a SAML 1.1 assertion (alone or inside a message), or a CMS message
(sealed ETEE message, ETK), it checks every signature, reports each reference and says *why* one fails.
Unlike the run-time checks it verifies SHA-1 signatures (reporting them as weak), judges timestamps and
validity at ``at`` (default now), and evaluates trust only against the certificates given with ``--trust``.
WS-Security envelopes go through the same checker as the simulator (:mod:`.wss_verify`) and SAML assertions
through the same signature check as the client (:func:`.saml.assertion_signature`); a signature whose key
cannot be resolved is a failure, not a partial success.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from lxml import etree

from ..errors import MalformedResponseError, SecurityError
from ..timeutil import parse_utc, utc_ms
from ..xmlsafe import parse_xml
from . import cmsutil, saml, wss_verify, wssecurity, xmldsig
from .cmsutil import issued_by

VALID, INVALID = "valid", "invalid"


def _iso(dt: datetime | None) -> str | None:
    return utc_ms(dt) if dt else None


def _cert_info(cert: x509.Certificate | None, at: datetime, trust: Sequence[x509.Certificate]) -> dict[str, Any]:
    if cert is None:
        return {"resolved": False}
    return {
        "resolved": True,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": str(cert.serial_number),
        "not_before": _iso(cert.not_valid_before_utc),
        "not_after": _iso(cert.not_valid_after_utc),
        "valid_at": cert.not_valid_before_utc <= at < cert.not_valid_after_utc,
        "trusted": (any(issued_by(cert, a) for a in trust) if trust else None),
    }


def _refs(report: xmldsig.SignatureReport) -> list[dict[str, Any]]:
    return [
        {"uri": r.uri, "target": r.target, "digest_method": r.digest_method, "ok": r.ok, "reason": r.reason,
         "weak": r.weak}
        for r in report.references
    ]


def _signature_entry(where: str, report: xmldsig.SignatureReport, key: dict[str, Any],
                     key_source: str | None) -> dict[str, Any]:
    value = {True: "valid", False: "invalid", None: "not checkable"}[report.value_ok]
    return {
        "where": where,
        "signature_method": report.signature_method,
        "canonicalization": report.canonicalization,
        "weak": report.weak,
        "key_source": key_source,
        "key": key,
        "references": _refs(report),
        "signature_value": value,
        "reason": report.reason,
    }


def _judge(sig: dict[str, Any], problems: list[str], warnings: list[str], *, checked: bool = False) -> str:
    """Verdict of one signature entry; ``checked``: its references/value were already judged (wss_verify)."""
    bad_refs = [r for r in sig["references"] if not r["ok"]]
    if not checked:
        for r in bad_refs:
            problems.append(f"{sig['where']}: reference {r['uri']} ({r['target'] or '?'}): {r['reason']}")
        if sig["signature_value"] == "invalid":
            problems.append(f"{sig['where']}: {sig['reason']}")
        elif sig["signature_value"] == "not checkable":
            problems.append(f"{sig['where']}: SignatureValue not checked: "
                            f"{sig['reason'] or 'signing key not resolvable'} (an unresolved key is a failure)")
    if sig["weak"]:
        warnings.append(f"{sig['where']}: uses SHA-1 (weak; refused by the run-time checks unless configured)")
    key = sig["key"]
    if key.get("resolved"):
        if key.get("valid_at") is False:
            problems.append(f"{sig['where']}: signing certificate not valid at the verification time")
        if key.get("trusted") is False:
            problems.append(f"{sig['where']}: signing certificate is not trusted by the given --trust certificates")
        if key.get("trusted") is None:
            warnings.append(f"{sig['where']}: trust not evaluated (no --trust given)")
    if bad_refs or sig["signature_value"] != "valid":
        return INVALID
    return VALID


def _saml_entry(assertion: etree._Element, at: datetime, trust: Sequence[x509.Certificate],
                problems: list[str], warnings: list[str]) -> tuple[dict[str, Any], str]:
    aid = assertion.get("AssertionID", "")
    sig = assertion.find(xmldsig.ds("Signature"))
    info: dict[str, Any] = {"assertion_id": aid, "issuer": assertion.get("Issuer")}
    cond = assertion.find(f"{{{saml.NS_SAML}}}Conditions")
    if cond is not None:
        info["not_before"], info["not_on_or_after"] = cond.get("NotBefore"), cond.get("NotOnOrAfter")
        try:
            nb, na = parse_utc(cond.get("NotBefore")), parse_utc(cond.get("NotOnOrAfter"))
            info["valid_at"] = nb <= at < na
            if not info["valid_at"]:
                problems.append(f"assertion {aid}: not valid at {_iso(at)} (NotBefore {cond.get('NotBefore')}, "
                                f"NotOnOrAfter {cond.get('NotOnOrAfter')})")
        except ValueError:
            problems.append(f"assertion {aid}: bad Conditions times")
    try:
        token = saml.parse_assertion(assertion, raw=b"")  # read as the client reads it (15.8 text rule)
        info["subject"] = token.subject
        info["attributes"] = {a.name: list(a.values) for a in token.attributes}
    except SecurityError as exc:
        problems.append(f"assertion {aid}: {exc.message}")
    if sig is None:
        problems.append(f"assertion {aid}: not signed")
        return info, INVALID
    try:
        cert, report = saml.assertion_signature(assertion, allow_sha1=True)
    except SecurityError as exc:
        problems.append(f"assertion {aid}: {exc.message}")
        return info, INVALID
    entry = _signature_entry(f"saml:Assertion {aid}", report, _cert_info(cert, at, trust),
                             "X509Data" if cert else None)
    verdict = _judge(entry, problems, warnings)
    info["signature"] = entry
    return info, verdict


def _worst(verdicts: Sequence[str]) -> str:
    return VALID if verdicts and all(v == VALID for v in verdicts) else INVALID


def verify_xml(data: bytes, *, trust: Sequence[x509.Certificate] = (), at: datetime | None = None,
               timestamp_only: bool = False) -> dict[str, Any]:
    """Verify an XML file; ``timestamp_only``: an envelope whose Body is deliberately unsigned (GenericAsync)."""
    at = at or datetime.now(timezone.utc)
    root = parse_xml(data, what="file")
    problems: list[str] = []
    warnings: list[str] = []
    verdicts: list[str] = []
    result: dict[str, Any] = {"at": _iso(at), "signatures": [], "assertions": []}
    key_assertion = None
    if root.tag == f"{{{wssecurity.NS_SOAP}}}Envelope":
        required = {"Timestamp"} if timestamp_only else {"Body", "Timestamp"}
        policy = wss_verify.WssPolicy(required=frozenset(required), allow_sha1=True)
        report = wss_verify.inspect(root, policy=policy, now=at)
        key_assertion = report.assertion
        result["kind"] = "soap-ws-security" if report.security is not None else "soap"
        for p in report.problems:
            stale = p.code in ("WSS_TIMESTAMP_EXPIRED", "WSS_TIMESTAMP_FUTURE")
            problems.append(p.message + ("; use --at to judge an old message" if stale else ""))
        if report.timestamp is not None:
            ts: dict[str, Any] = {"created": _iso(report.created), "expires": _iso(report.expires)}
            if report.created and report.expires:
                ts["fresh_at"] = report.created <= at < report.expires
            result["timestamp"] = ts
        if report.signature_report is not None:
            entry = _signature_entry("wsse:Security", report.signature_report,
                                     _cert_info(report.signer_certificate, at, trust), report.key_source)
            entry["signed_parts"] = sorted(report.signed)
            result["signatures"].append(entry)
            verdicts.append(_judge(entry, problems, warnings, checked=True))
        if timestamp_only and "Body" not in report.signed:
            warnings.append("the Body is not signed (--timestamp-only): its content is not authenticated")
    elif root.tag == xmldsig.ds("Signature"):
        result["kind"] = "xml-signature"
        cert_el = root.find(f".//{xmldsig.ds('X509Certificate')}")
        cert = saml.certificate_from_b64(cert_el.text) if cert_el is not None and cert_el.text else None
        report = xmldsig.verify(root, public_key=cert.public_key() if cert else None, allow_sha1=True)
        entry = _signature_entry("ds:Signature", report, _cert_info(cert, at, trust), "X509Data")
        result["signatures"].append(entry)
        verdicts.append(_judge(entry, problems, warnings))
    else:
        result["kind"] = "saml-assertion" if root.tag == f"{{{saml.NS_SAML}}}Assertion" else "xml"
    for assertion in root.iter(f"{{{saml.NS_SAML}}}Assertion"):
        if assertion.getparent() is not None and assertion.getparent().tag == f"{{{saml.NS_SAML}}}SubjectConfirmationData":
            continue  # the self-asserted, unsigned inner assertion of a legacy STS request
        if (assertion.find(xmldsig.ds("Signature")) is None and result["kind"].startswith("soap")
                and assertion is not key_assertion):
            warnings.append(f"assertion {assertion.get('AssertionID')}: unsigned (not an STS token)")
            continue
        info, verdict = _saml_entry(assertion, at, trust, problems, warnings)
        result["assertions"].append(info)
        verdicts.append(verdict)
    if not verdicts:
        problems.append("nothing to verify: no WS-Security signature, SAML assertion or ds:Signature found")
    result["verdict"] = INVALID if problems else _worst(verdicts)
    result["problems"] = problems
    result["warnings"] = warnings
    return result


def _der_from(data: bytes) -> bytes:
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        body = re.sub(rb"-----[^-]+-----", b"", text)
        return base64.b64decode(b"".join(body.split()))
    if re.fullmatch(rb"[A-Za-z0-9+/=\s]+", text or b"-"):
        try:
            return base64.b64decode(b"".join(text.split()), validate=True)
        except ValueError:
            return data
    return data


def verify_cms(data: bytes, *, trust: Sequence[x509.Certificate] = (), at: datetime | None = None) -> dict[str, Any]:
    at = at or datetime.now(timezone.utc)
    from asn1crypto import cms

    der = _der_from(data)
    problems: list[str] = []
    warnings: list[str] = []
    signed, content = cmsutil.signed_data(der, what="CMS message")
    result: dict[str, Any] = {"at": _iso(at), "kind": "cms-signed", "signatures": []}
    entry: dict[str, Any] = {"where": "outer SignedData"}
    try:
        check = cmsutil.verify_signer(signed, content, allow_sha1=True, what="outer signature")
        entry.update(signature_value="valid", digest_method=check.digest_algorithm,
                     signature_method=check.signature_algorithm, signed_attributes=check.signed_attributes,
                     weak=check.weak, key=_cert_info(check.certificate, at, trust))
        if check.weak:
            warnings.append("outer signature uses SHA-1 (weak; older ETEE form)")
        key = entry["key"]
        if key.get("valid_at") is False:
            problems.append("outer signer certificate not valid at the verification time")
        if key.get("trusted") is False:
            problems.append("outer signer certificate is not trusted by the given --trust certificates")
        if key.get("trusted") is None:
            warnings.append("trust not evaluated (no --trust given)")
    except SecurityError as exc:
        entry.update(signature_value="invalid", reason=exc.message)
        problems.append(exc.message)
    result["signatures"].append(entry)
    try:
        inner = cms.ContentInfo.load(content)
        inner_type = inner["content_type"].native
    except (ValueError, TypeError):
        inner_type = None
    if inner_type == "enveloped_data":
        result["kind"] = "etee-sealed"
        recips = []
        for info in inner["content"]["recipient_infos"]:
            if info.name == "ktri" and info.chosen["rid"].name == "issuer_and_serial_number":
                rid = info.chosen["rid"].chosen
                recips.append({"issuer": rid["issuer"].human_friendly, "serial": str(rid["serial_number"].native)})
            else:
                recips.append({"type": info.name})
        result["recipients"] = recips
        warnings.append("inner signature is encrypted: unseal with a recipient key to check it")
    else:
        try:
            enc = x509.load_der_x509_certificate(content)
            result["kind"] = "etk"
            result["encryption_certificate"] = _cert_info(enc, at, ())
            if not result["encryption_certificate"]["valid_at"]:
                problems.append("ETK encryption certificate not valid at the verification time")
        except ValueError:
            pass
    result["verdict"] = INVALID if problems else VALID
    result["problems"] = problems
    result["warnings"] = warnings
    return result


def verify_bytes(data: bytes, *, trust: Sequence[x509.Certificate] = (), at: datetime | None = None,
                 timestamp_only: bool = False) -> dict[str, Any]:
    """Detect the kind of ``data`` and verify it; returns a JSON-friendly report with a ``verdict``."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    try:
        if head == b"<":
            return verify_xml(data, trust=trust, at=at, timestamp_only=timestamp_only)
        return verify_cms(data, trust=trust, at=at)
    except (MalformedResponseError, SecurityError) as exc:
        return {"kind": "unknown", "verdict": INVALID, "problems": [exc.message], "warnings": [],
                "signatures": [], "at": _iso(at or datetime.now(timezone.utc))}


def format_report(report: dict[str, Any]) -> str:
    """A plain-text rendering for people."""
    lines = [f"kind: {report.get('kind')}    verdict: {report['verdict'].upper()}    at: {report.get('at')}"]
    ts = report.get("timestamp")
    if ts:
        lines.append(f"timestamp: created {ts.get('created')} expires {ts.get('expires')} "
                     f"fresh: {ts.get('fresh_at')}")
    sigs = list(report.get("signatures", []))
    sigs += [a["signature"] for a in report.get("assertions", []) if "signature" in a]
    for sig in sigs:
        key = sig.get("key", {})
        lines.append(f"signature [{sig['where']}] method {sig.get('signature_method')} "
                     f"value: {sig.get('signature_value')}" + (" (WEAK SHA-1)" if sig.get("weak") else ""))
        if key.get("resolved"):
            lines.append(f"  key: {sig.get('key_source') or ''} {key['subject']} valid_at={key['valid_at']} "
                         f"trusted={key['trusted']}")
        for ref in sig.get("references", []):
            status = "ok" if ref["ok"] else f"FAIL: {ref['reason']}"
            lines.append(f"  reference {ref['uri']} -> {ref['target']} [{ref['digest_method'].rsplit('#', 1)[-1]}] "
                         f"{status}")
        if sig.get("reason") and sig.get("signature_value") != "valid":
            lines.append(f"  reason: {sig['reason']}")
    for rec in report.get("recipients", []):
        lines.append(f"recipient: {rec}")
    for p in report.get("problems", []):
        lines.append(f"problem: {p}")
    for w in report.get("warnings", []):
        lines.append(f"warning: {w}")
    return "\n".join(lines)
