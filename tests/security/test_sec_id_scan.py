"""The WS-Security Id scan (``wss_verify.scan_ids``, with its per-name cache) against the plain reading of the
rule, on hostile documents: it must find exactly the same Ids, the same duplicates and the same attribute names.

The reference below is the scan as first written (every attribute of every element, ID-like by local name in
any namespace); a difference in the index, the duplicates or the names used would change what the checker
accepts as signed.
"""

from __future__ import annotations

from lxml import etree
from mycarenet_dental.ehealth import wss_verify, xmldsig
from mycarenet_dental.xmlsafe import parse_xml

from tests.security import wrapping_corpus as corpus
from tests.security.sec_helpers import load_keystore, signed_envelope

_IDS = frozenset(xmldsig.ID_ATTRIBUTES)


def _reference_scan(root: etree._Element) -> tuple[dict, dict]:
    index: dict = {}
    seen: dict = {}
    for el in root.iter(etree.Element):
        for name in el.keys():
            if name in _IDS or (name[0] == "{" and name[name.rfind("}") + 1:] in _IDS):
                value = el.get(name)
                seen.setdefault(value, []).append(name)
                index[value] = None if value in index else el
    return index, {v: sorted(names) for v, names in seen.items() if len(names) > 1}


def _same(root: etree._Element) -> None:
    index, duplicates = wss_verify.scan_ids(root)
    ref_index, ref_duplicates = _reference_scan(root)
    assert index == ref_index  # same values, same element (or None for a duplicate) for each
    assert {v: sorted(names) for v, names in duplicates.items()} == ref_duplicates


HOSTILE = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
 xmlns:x="urn:x" xmlns:y="urn:y"><soapenv:Header><Assertion AssertionID="A1" ID="A1"/>
 <x:Wrap x:Id="B1" x:ID="plain" y:id="weak" x:AssertionID="A2" Idx="no" xId="no" x:IdX="no"/>
 <e xml:id="X1" id="X1" wsu:Id="T1"/><f wsu:Id="T1" Id="solo" x:Id=""/><g id="" ID=""/></soapenv:Header>
 <soapenv:Body wsu:Id="B1"><p Id="B1" xml:id="B2">t</p><q id="weak"/></soapenv:Body></soapenv:Envelope>"""


def test_the_scan_matches_the_plain_rule_on_a_hostile_document() -> None:
    root = parse_xml(HOSTILE)
    _same(root)
    index, duplicates = wss_verify.scan_ids(root)
    assert index["B1"] is None and index["T1"] is None and index["A1"] is None  # duplicated -> ambiguous
    assert index["A2"].tag == "{urn:x}Wrap" and index["solo"].tag == "f" and index["B2"].tag == "p"
    assert "Idx" not in {n for names in duplicates.values() for n in names} and "no" not in index
    assert sorted(duplicates["weak"]) == ["id", "{urn:y}id"]
    assert sorted(duplicates["X1"]) == ["id", "{http://www.w3.org/XML/1998/namespace}id"]


def test_the_scan_matches_when_the_name_cache_is_full() -> None:
    names = "".join(f' xmlns:n{i}="urn:n{i}" n{i}:Id="v{i % 7}" n{i}:other="v{i}"' for i in range(1200))
    root = parse_xml(f"<r{names}><c Id='v1'/><d AssertionID='z'/></r>".encode())
    _same(root)
    _same(parse_xml(HOSTILE))  # names already cached and names beyond the bound give the same answers


def test_the_scan_matches_on_every_wrapping_attack(pki, trust) -> None:
    ks = load_keystore(pki.dentist_p12, pki.keystore_password)
    signed, _, _ = signed_envelope(pki, trust, keystore=ks)
    _same(parse_xml(signed))
    for attack in corpus.soap_attacks(lambda: ks.authentication.private_key):
        _same(parse_xml(attack.mutate(signed)))
