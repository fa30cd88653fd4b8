"""The safe XML parser refuses DTDs and entities (never resolved), oversize and broken input."""

from __future__ import annotations

import pytest
from mycarenet_dental.errors import MalformedResponseError
from mycarenet_dental.xmlsafe import parse_xml

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]><lolz>&lol2;</lolz>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://example.invalid/x.dtd"><r/>"""


@pytest.mark.parametrize("data", [LAUGHS, XXE, EXTERNAL_DTD, b"<!doctype r><r/>"])
def test_dtd_refused(data):
    with pytest.raises(MalformedResponseError) as info:
        parse_xml(data)
    assert info.value.code == "XML_DTD_REFUSED"
    assert b"root:" not in str(info.value).encode()


def test_late_doctype_after_long_comment_refused():
    data = b"<!--" + b"x" * 5000 + b"-->" + XXE.split(b"?>", 1)[1]
    with pytest.raises(MalformedResponseError) as info:
        parse_xml(data)
    assert info.value.code in ("XML_DTD_REFUSED", "XML_MALFORMED")


@pytest.mark.parametrize("data", [b"<a><b></a>", b"not xml", b"<a>", b""])
def test_malformed(data):
    with pytest.raises(MalformedResponseError):
        parse_xml(data)


def test_too_large():
    with pytest.raises(MalformedResponseError) as info:
        parse_xml(b"<a>" + b"x" * 2000 + b"</a>", max_bytes=1000)
    assert info.value.code == "XML_TOO_LARGE"


def test_whitespace_kept():
    root = parse_xml(b"<a>\n  <b> x </b>\n</a>")
    assert root.text == "\n  " and root[0].text == " x "
