"""The WS-Security Id scan (``wss_verify.scan_ids``) on hostile documents: exactly which Ids it indexes and which
it reports as duplicated, and agreement with ``xmldsig.id_index`` (the index ``xmldsig.verify`` builds itself
when no scan is given): a difference would change what a signature is taken to cover.
"""

from __future__ import annotations

from lxml import etree
from mycarenet_dental.ehealth import wss_verify, xmldsig
from mycarenet_dental.xmlsafe import parse_xml

from tests.security import wrapping_corpus as corpus
from tests.security.sec_helpers import load_keystore, signed_envelope


def _same(root: etree._Element) -> None:
    index, duplicates = wss_verify.scan_ids(root)
    assert index == xmldsig.id_index(root)  # same values, same element (or None for a duplicate) for each
    assert set(duplicates) == {value for value, el in index.items() if el is None}


HOSTILE = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
 xmlns:x="urn:x" xmlns:y="urn:y"><soapenv:Header><Assertion AssertionID="A1" ID="A1"/>
 <x:Wrap x:Id="B1" x:ID="plain" y:id="weak" x:AssertionID="A2" Idx="no" xId="no" x:IdX="no"/>
 <e xml:id="X1" id="X1" wsu:Id="T1"/><f wsu:Id="T1" Id="solo" x:Id=""/><g id="" ID=""/></soapenv:Header>
 <soapenv:Body wsu:Id="B1"><p Id="B1" xml:id="B2">t</p><q id="weak"/></soapenv:Body></soapenv:Envelope>"""


def test_the_scan_on_a_hostile_document() -> None:
    root = parse_xml(HOSTILE)
    _same(root)
    index, duplicates = wss_verify.scan_ids(root)
    assert set(index) == {"A1", "B1", "plain", "weak", "A2", "X1", "T1", "solo", "", "B2"}
    assert set(duplicates) == {"A1", "B1", "weak", "X1", "T1", ""} and len(duplicates["B1"]) == 3
    assert index["B1"] is None and index["T1"] is None and index["A1"] is None  # duplicated -> ambiguous
    assert index["A2"].tag == "{urn:x}Wrap" and index["solo"].tag == "f" and index["B2"].tag == "p"
    assert "Idx" not in {n for names in duplicates.values() for n in names} and "no" not in index
    assert sorted(duplicates["weak"]) == ["id", "{urn:y}id"]
    assert sorted(duplicates["X1"]) == ["id", "{http://www.w3.org/XML/1998/namespace}id"]


def test_both_scans_agree_on_every_wrapping_attack(pki, trust) -> None:
    ks = load_keystore(pki.dentist_p12, pki.keystore_password)
    signed, _, _ = signed_envelope(pki, trust, keystore=ks)
    _same(parse_xml(signed))
    for attack in corpus.soap_attacks(lambda: ks.authentication.private_key):
        _same(parse_xml(attack.mutate(signed)))
