"""The MemberData answer is read with lxml child iterators instead of ElementPath ``find`` paths (issue 18):
the helpers must pick exactly what the paths picked, including on odd trees (repeated or empty parents)."""

from __future__ import annotations

from lxml import etree
from mycarenet_dental.protocols import memberdata
from mycarenet_dental.protocols.memberdata import NS_SAML, NS_SAMLP, _first, _text

S = f"{{{NS_SAML}}}"

ODD = f"""<r xmlns:saml="{NS_SAML}" xmlns:samlp="{NS_SAMLP}">
  <saml:Subject><saml:Other/></saml:Subject>
  <!-- a comment -->
  <saml:Subject><saml:NameID>second</saml:NameID><saml:NameID>third</saml:NameID></saml:Subject>
  <saml:Subject><saml:SubjectConfirmation/><saml:SubjectConfirmation>
    <saml:SubjectConfirmationData NotBefore="x"/></saml:SubjectConfirmation></saml:Subject>
  <saml:Issuer>  </saml:Issuer><saml:Issuer>later</saml:Issuer>
</r>""".encode()


def test_first_is_elementpath_find() -> None:
    root = etree.fromstring(ODD)
    for path in [(S + "Subject", S + "NameID"), (S + "Subject", S + "SubjectConfirmation", S + "SubjectConfirmationData"),
                 (S + "Subject", S + "Missing"), (S + "Missing", S + "NameID"), (S + "Issuer",)]:
        assert _first(root, *path) is root.find("/".join(path)), path


def test_text_is_stripped_findtext() -> None:
    root = etree.fromstring(ODD)
    for tag in (S + "Issuer", S + "Missing", S + "Subject"):
        assert _text(root, tag) == ((root.findtext(tag) or "").strip() or None)


def test_assertion_with_repeated_subject_reads_the_first_nameid_found() -> None:
    # An assertion whose first Subject has no NameID: the patient check sees the same NameID as before.
    xml = ODD.replace(b"<r ", b"<saml:Assertion ID='_a' ").replace(b"</r>", b"</saml:Assertion>")
    a = memberdata._assertion(etree.fromstring(xml))
    assert a.name_id == "second" and a.issuer is None and a.not_before is None
