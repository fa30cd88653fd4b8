"""XML-DSig on lxml exclusive c14n + cryptography, written in the project (engineering-notes §0).

Signing always uses exclusive c14n and SHA-256 (RSA-SHA256, or ECDSA-SHA256 with the raw ``r||s``
signature value XML-DSig requires). Verification reports every reference and why it fails, honours
``InclusiveNamespaces`` prefix lists (WSS4J emits them), and accepts SHA-1 only when the caller allows it
(run-time checks refuse it; the diagnostic verifier accepts it and flags it as weak).
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Sequence

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from lxml import etree

from ..errors import SecurityError

NS_DS = "http://www.w3.org/2000/09/xmldsig#"
C14N_EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N_EXC_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
C14N_INC = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_INC_COMMENTS = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
ECDSA_SHA1 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
ECDSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
DIGEST_SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
DIGEST_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
DIGEST_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
DIGEST_SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"

_DIGESTS = {DIGEST_SHA1: "sha1", DIGEST_SHA256: "sha256", DIGEST_SHA384: "sha384", DIGEST_SHA512: "sha512"}
_SIGS: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    RSA_SHA1: ("rsa", hashes.SHA1),
    RSA_SHA256: ("rsa", hashes.SHA256),
    RSA_SHA384: ("rsa", hashes.SHA384),
    RSA_SHA512: ("rsa", hashes.SHA512),
    ECDSA_SHA1: ("ec", hashes.SHA1),
    ECDSA_SHA256: ("ec", hashes.SHA256),
    ECDSA_SHA384: ("ec", hashes.SHA384),
}
WEAK = {RSA_SHA1, ECDSA_SHA1, DIGEST_SHA1}
ID_ATTRIBUTES = ("Id", "ID", "id", "AssertionID")


def ds(tag: str) -> str:
    return f"{{{NS_DS}}}{tag}"


def c14n(element: etree._Element, *, exclusive: bool = True, prefixes: Sequence[str] | None = None,
         with_comments: bool = False) -> bytes:
    """Canonical bytes of ``element`` (exclusive by default, honouring an InclusiveNamespaces list)."""
    return etree.tostring(
        element, method="c14n", exclusive=exclusive, with_comments=with_comments,
        inclusive_ns_prefixes=list(prefixes) if (prefixes and exclusive) else None,
    )


def signature_method_for(key: PrivateKeyTypes | PublicKeyTypes) -> str:
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return ECDSA_SHA256
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return RSA_SHA256
    raise SecurityError("unsupported key type for XML signatures", code="XMLDSIG_KEY")


def sign_value(key: PrivateKeyTypes, data: bytes, method: str) -> bytes:
    """Raw XML-DSig SignatureValue bytes (ECDSA as fixed-width ``r||s``)."""
    kind, hash_cls = _SIGS[method]
    if kind == "rsa" and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hash_cls())
    if kind == "ec" and isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.sign(data, ec.ECDSA(hash_cls()))
        r, s = decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise SecurityError("signature method does not match the key type", code="XMLDSIG_KEY")


def verify_value(public_key: PublicKeyTypes, data: bytes, signature: bytes, method: str) -> None:
    """Raise InvalidSignature when ``signature`` is not valid over ``data``."""
    kind, hash_cls = _SIGS[method]
    if kind == "rsa" and isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, data, padding.PKCS1v15(), hash_cls())
        return
    if kind == "ec" and isinstance(public_key, ec.EllipticCurvePublicKey):
        size = (public_key.curve.key_size + 7) // 8
        if len(signature) != 2 * size:
            raise InvalidSignature("ECDSA SignatureValue has the wrong length for the curve")
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hash_cls()))
        return
    raise InvalidSignature("signature method does not match the key type")


_DIGEST_FN = {DIGEST_SHA1: hashlib.sha1, DIGEST_SHA256: hashlib.sha256, DIGEST_SHA384: hashlib.sha384,
              DIGEST_SHA512: hashlib.sha512}


def digest(data: bytes, method: str = DIGEST_SHA256) -> bytes:
    return _DIGEST_FN[method](data).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@attrs.frozen
class Ref:
    """One reference to sign: ``uri`` (``#id``) pointing at ``element``; ``enveloped`` for an enclosing one."""

    uri: str
    element: etree._Element
    enveloped: bool = False


def sign(
    refs: Sequence[Ref],
    key: PrivateKeyTypes,
    *,
    parent: etree._Element,
    key_info: etree._Element | None = None,
    index: int | None = None,
    signature_id: str | None = None,
    digest_method: str = DIGEST_SHA256,
    signature_method: str | None = None,
    extra_nsmap: dict[str, str] | None = None,
) -> etree._Element:
    """Create a ``ds:Signature`` over ``refs`` inside ``parent`` (at ``index``, default last) and return it.

    Digests are computed before the Signature exists, so an enclosing (enveloped) reference is digested
    exactly as the enveloped-signature transform will see it.
    """
    method = signature_method or signature_method_for(key)
    nsmap = {"ds": NS_DS, **(extra_nsmap or {})}
    sig = etree.Element(ds("Signature"), nsmap=nsmap)
    if signature_id:
        sig.set("Id", signature_id)
    info = etree.SubElement(sig, ds("SignedInfo"))
    etree.SubElement(info, ds("CanonicalizationMethod")).set("Algorithm", C14N_EXC)
    etree.SubElement(info, ds("SignatureMethod")).set("Algorithm", method)
    for ref in refs:
        value = digest(c14n(ref.element), digest_method)
        reference = etree.SubElement(info, ds("Reference"))
        reference.set("URI", ref.uri)
        transforms = etree.SubElement(reference, ds("Transforms"))
        if ref.enveloped:
            etree.SubElement(transforms, ds("Transform")).set("Algorithm", ENVELOPED)
        etree.SubElement(transforms, ds("Transform")).set("Algorithm", C14N_EXC)
        etree.SubElement(reference, ds("DigestMethod")).set("Algorithm", digest_method)
        etree.SubElement(reference, ds("DigestValue")).text = b64(value)
    value_el = etree.SubElement(sig, ds("SignatureValue"))
    if key_info is not None:
        sig.append(key_info)
    if index is None:
        parent.append(sig)
    else:
        parent.insert(index, sig)
    signed_info = sig.find(ds("SignedInfo"))
    assert signed_info is not None
    value_el.text = b64(sign_value(key, c14n(signed_info), method))
    return sig


# --- verification --------------------------------------------------------------------------------------


@attrs.frozen
class ReferenceResult:
    """What happened to one ``ds:Reference``."""

    uri: str
    target: str | None  # local name of the referenced element
    digest_method: str
    transforms: tuple[str, ...]
    ok: bool
    reason: str | None = None
    weak: bool = False


@attrs.frozen
class SignatureReport:
    """Result of checking one ``ds:Signature``: each reference, then the SignatureValue."""

    signature_method: str
    canonicalization: str
    references: tuple[ReferenceResult, ...]
    value_ok: bool | None  # None: no key to check it with
    reason: str | None
    weak: bool

    @property
    def ok(self) -> bool:
        return self.value_ok is True and all(r.ok for r in self.references)



_ID_LOCAL_NAMES = frozenset(ID_ATTRIBUTES)  # xml:id has the local name "id" too


def id_index(root: etree._Element) -> dict[str, etree._Element | None]:
    """Map every ID-like attribute value to its element; a duplicated ID maps to None (wrapping defence)."""
    index: dict[str, etree._Element | None] = {}
    ids = _ID_LOCAL_NAMES
    for el in root.iter(etree.Element):
        keys = el.keys()
        if not keys:
            continue
        for name in keys:
            if name in ids or (name[0] == "{" and name[name.rfind("}") + 1 :] in ids):
                value = el.get(name)
                index[value] = None if value in index else el
    return index


def _local(el: etree._Element) -> str:
    tag = el.tag
    if isinstance(tag, str):
        return tag.rpartition("}")[2]  # what etree.QName(el).localname gives, without building a QName
    return etree.QName(el).localname


def _canonical_for_reference(
    target: etree._Element, signature: etree._Element, transforms: list[etree._Element]
) -> tuple[bytes, tuple[str, ...]]:
    algos = tuple(t.get("Algorithm", "") for t in transforms)
    node = target
    if ENVELOPED in algos:
        node = _without(target, signature)
    canon_algo = None
    prefixes: list[str] | None = None
    for t in transforms:
        algo = t.get("Algorithm", "")
        if algo in (C14N_EXC, C14N_EXC_COMMENTS, C14N_INC, C14N_INC_COMMENTS):
            canon_algo = algo
            inc = t.find("{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces")
            if inc is not None:
                prefixes = [p if p != "#default" else "" for p in inc.get("PrefixList", "").split()]
        elif algo != ENVELOPED:
            raise _Unsupported(f"unsupported transform {algo}")
    exclusive = canon_algo in (C14N_EXC, C14N_EXC_COMMENTS)
    comments = canon_algo in (C14N_EXC_COMMENTS, C14N_INC_COMMENTS)
    if canon_algo is None:
        exclusive = False  # node-set to octets: inclusive c14n (XML-DSig §4.3.3.2)
    return c14n(node, exclusive=exclusive, prefixes=prefixes, with_comments=comments), algos


class _Unsupported(Exception):
    pass


def _without(target: etree._Element, signature: etree._Element) -> etree._Element:
    """A copy of ``target`` minus ``signature`` (its tail text stays, as the transform requires)."""
    path: list[int] = []
    node = signature
    while node is not target:
        parent = node.getparent()
        if parent is None:
            return target  # signature is not inside the target: transform is a no-op
        path.append(parent.index(node))
        node = parent
    clone = copy.deepcopy(target)
    sig_copy = clone
    for i in reversed(path):
        sig_copy = sig_copy[i]
    parent = sig_copy.getparent()
    assert parent is not None
    tail = sig_copy.tail
    prev = sig_copy.getprevious()
    parent.remove(sig_copy)
    if tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    return clone


_TRANSFORM_PATH = f"{ds('Transforms')}/{ds('Transform')}"
_DS_SIGNED_INFO, _DS_C14N_METHOD, _DS_SIGNATURE_METHOD, _DS_REFERENCE = (
    ds(n) for n in ("SignedInfo", "CanonicalizationMethod", "SignatureMethod", "Reference"))
_DS_DIGEST_METHOD, _DS_DIGEST_VALUE, _DS_SIGNATURE_VALUE = (
    ds(n) for n in ("DigestMethod", "DigestValue", "SignatureValue"))


def verify(
    signature: etree._Element,
    *,
    public_key: PublicKeyTypes | None,
    ids: dict[str, etree._Element | None] | None = None,
    allow_sha1: bool = False,
) -> SignatureReport:
    """Check every reference of ``signature`` and (when ``public_key`` is given) its SignatureValue.

    Long because: the XML-DSig checks in their security order (SignedInfo canonicalisation and algorithms,
    every reference resolved, transformed and digested, then the SignatureValue); one function keeps that
    order visible to a reviewer of attacker-facing code.
    """
    root = signature.getroottree().getroot()
    if ids is None:
        ids = id_index(root)
    info = signature.find(_DS_SIGNED_INFO)
    if info is None:
        raise SecurityError("ds:Signature has no SignedInfo", code="XMLDSIG_MALFORMED")
    cm = info.find(_DS_C14N_METHOD)
    sm = info.find(_DS_SIGNATURE_METHOD)
    c14n_method = cm.get("Algorithm", "") if cm is not None else ""
    sig_method = sm.get("Algorithm", "") if sm is not None else ""
    weak = sig_method in WEAK
    results: list[ReferenceResult] = []
    for ref in info.findall(_DS_REFERENCE):
        uri = ref.get("URI", "")
        dm_el = ref.find(_DS_DIGEST_METHOD)
        dm = dm_el.get("Algorithm", "") if dm_el is not None else ""
        dv_el = ref.find(_DS_DIGEST_VALUE)
        transforms = ref.findall(_TRANSFORM_PATH)
        algos = tuple(t.get("Algorithm", "") for t in transforms)
        ref_weak = dm in WEAK
        weak = weak or ref_weak

        def fail(reason: str, target: str | None = None, *, _uri: str = uri, _dm: str = dm,
                 _algos: tuple[str, ...] = algos, _weak: bool = ref_weak) -> None:
            results.append(ReferenceResult(_uri, target, _dm, _algos, False, reason, _weak))

        if dm not in _DIGESTS:
            fail(f"unsupported digest method {dm or '(none)'}")
            continue
        if ref_weak and not allow_sha1:
            fail("SHA-1 digest refused (weak algorithm)")
            continue
        if uri == "":
            target = root
        elif uri.startswith("#"):
            key = uri[1:]
            if key not in ids:
                fail(f"reference {uri} does not resolve to any element")
                continue
            found = ids[key]
            if found is None:
                fail(f"reference {uri} is ambiguous: the ID appears more than once")
                continue
            target = found
        else:
            fail(f"external reference {uri} is not supported")
            continue
        try:
            data, _ = _canonical_for_reference(target, signature, transforms)
        except _Unsupported as exc:
            fail(str(exc), _local(target))
            continue
        try:
            expected = base64.b64decode("".join((dv_el.text or "").split()) if dv_el is not None else "")
        except ValueError:
            fail("DigestValue is not base64", _local(target))
            continue
        if digest(data, dm) != expected:
            fail("digest mismatch: the referenced element was changed after signing", _local(target))
            continue
        results.append(ReferenceResult(uri, _local(target), dm, algos, True, None, ref_weak))
    value_ok: bool | None = None
    reason: str | None = None
    if sig_method not in _SIGS:
        value_ok, reason = False, f"unsupported signature method {sig_method or '(none)'}"
    elif sig_method in WEAK and not allow_sha1:
        value_ok, reason = False, "SHA-1 signature method refused (weak algorithm)"
    elif c14n_method not in (C14N_EXC, C14N_EXC_COMMENTS, C14N_INC, C14N_INC_COMMENTS):
        value_ok, reason = False, f"unsupported canonicalization {c14n_method or '(none)'}"
    elif public_key is None:
        value_ok, reason = None, "no key to check the SignatureValue with"
    else:
        prefixes = None
        inc = cm.find("{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces") if cm is not None else None
        if inc is not None:
            prefixes = [p if p != "#default" else "" for p in inc.get("PrefixList", "").split()]
        data = c14n(
            info,
            exclusive=c14n_method in (C14N_EXC, C14N_EXC_COMMENTS),
            prefixes=prefixes,
            with_comments=c14n_method in (C14N_EXC_COMMENTS, C14N_INC_COMMENTS),
        )
        value_el = signature.find(_DS_SIGNATURE_VALUE)
        try:
            value = base64.b64decode("".join((value_el.text or "").split()) if value_el is not None else "")
            verify_value(public_key, data, value, sig_method)
            value_ok = True
        except (InvalidSignature, ValueError):
            value_ok, reason = False, "SignatureValue does not verify with the signer's key"
    if not results:
        reason = reason or "the signature has no reference"
    return SignatureReport(
        signature_method=sig_method,
        canonicalization=c14n_method,
        references=tuple(results),
        value_ok=value_ok,
        reason=reason,
        weak=weak,
    )


