"""GenericAsync answers read their Blobs with the one commons helper (issue 12.7): raw deflate, zlib, gzip,
or labelled deflate and not compressed; bounded; still hash-checked."""

from __future__ import annotations

import base64
import gzip
import zlib

import pytest
from lxml import etree
from mycarenet_dental.errors import MalformedResponseError, SecurityError
from mycarenet_dental_billing import genasync as ga


def _get_response(payload: bytes, content: bytes) -> etree._Element:
    resp = etree.Element(ga.ga("getResponse"), nsmap={"ga": ga.NS_GA, "common": ga.NS_COMMON})
    ret = etree.SubElement(resp, ga.ga("return"), MsgCount="1", TAckCount="0")
    msg = etree.SubElement(ret, ga.ga("MsgResponse"))
    detail = etree.SubElement(msg, ga.ga("Detail"), ContentType="text/plain", ContentEncoding="deflate",
                              MessageName="HCPFAC", HashValue=ga.sha256_b64(content), Reference="m1")
    detail.text = base64.b64encode(payload).decode()
    return resp


CONTENT = b"931000" + b"0" * 221


@pytest.mark.parametrize("packing", [ga.deflate_raw, zlib.compress, gzip.compress, lambda b: b],
                         ids=["raw", "zlib", "gzip", "uncompressed"])
def test_message_blobs_in_every_packing(packing) -> None:
    (message,) = ga.parse_get_response(_get_response(packing(CONTENT), CONTENT)).messages
    assert message.content == CONTENT and message.message_type == "931000"


def test_an_uncompressed_blob_is_still_hash_checked() -> None:
    with pytest.raises(SecurityError) as info:
        ga.parse_get_response(_get_response(CONTENT.replace(b"931000", b"920900"), CONTENT))
    assert info.value.code == "GENASYNC_HASH"


def test_message_blob_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ga, "MAX_INFLATED", 100_000)
    bomb = b"0" * 1_000_000
    with pytest.raises(MalformedResponseError) as info:
        ga.parse_get_response(_get_response(gzip.compress(bomb), bomb))
    assert info.value.code == "BLOB_TOO_LARGE"
