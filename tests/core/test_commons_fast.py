"""The shortcuts of ``protocols/commons.py`` against the general code: ``b64decode_strict`` (pybase64 first) gives what
``base64.b64decode(..., validate=True)`` gives (same bytes or same error); a request body built from a cached
CommonInput template is byte for byte the one built from scratch."""

from __future__ import annotations

import base64
import datetime as dt
import os

import attrs
import pytest
from lxml import etree
from mycarenet_dental.protocols import commons
from mycarenet_dental.protocols.commons import b64decode_strict

_WRAPPED = base64.encodebytes(os.urandom(300)).decode("ascii")  # MIME style: a line break every 76 characters
CASES = ["", "QQ==", "QUI=", "QUJD", "QQ", "QQ=", "QQ===", "=QQ==", "QQ==QQ==", "QU JD", "QUJD\n", "\r\nQUJD",
         "Q\x0bUJD", "QU\x1cJD", "QUJ\u00e9", "QUJD\u2003", "Q-_D", "QUJD!", "QR==", "QUI", "QUJ=", "A", "AB=", "ABC=",
         "ABCD=", "ABCD==", "====", "\n", " ", _WRAPPED, _WRAPPED.replace("\n", ""), _WRAPPED[:-3]]


def _outcome(fn, *args):  # noqa: ANN001, ANN202 - a tiny comparison helper
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # noqa: BLE001 - which error is the point
        return ("error", type(exc), str(exc))


@pytest.mark.parametrize("strip", [True, False])
def test_same_bytes_or_same_error_as_the_stdlib(strip: bool) -> None:
    for text in CASES:
        expected = _outcome(lambda t: base64.b64decode("".join(t.split()) if strip else t, validate=True), text)
        assert _outcome(lambda t: b64decode_strict(t, strip_whitespace=strip), text) == expected, repr(text)


_CP = commons.CareProvider(nihii="31234592001", physical_person=commons.Party(
    name="Anne Simulaar", nihii="31234592001", nihii_quality="dentist", ssin="85073003328"))
_CI = commons.CommonInput(is_test=True, input_reference="12345678901234", origin=commons.Origin(
    package_name="pkg", licence_username="user", licence_password="secret", care_provider=_CP))
COMMON_INPUTS = [
    _CI, attrs.evolve(_CI, nip_reference="NIP1"), attrs.evolve(_CI, input_reference=None),
    attrs.evolve(_CI, is_test=False, input_reference="R2"),
    attrs.evolve(_CI, origin=attrs.evolve(_CI.origin, site_id="S1", package_name=None,
                                          sender_person=commons.Party(name="Mandatary", ssin="85073003328"),
                                          sender_organization=commons.Party(name="Office", cbe="0123456789")))]


def _body(flavour: commons.CommonsFlavour, ci: commons.CommonInput) -> bytes:
    blob = commons.make_blob(b"<x/>", id="blob")
    return etree.tostring(commons.build_request(
        flavour, "{urn:example:svc}Request", common_input=ci, blob=blob, request_id="_1",
        issue_instant=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), nsmap={"svc": "urn:example:svc"}))


@pytest.mark.parametrize("flavour", [commons.V2, commons.V3, commons.GMF], ids=lambda f: f.name)
def test_cached_common_input_gives_the_same_body(flavour: commons.CommonsFlavour,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    cached = []
    for ci in COMMON_INPUTS + COMMON_INPUTS:  # the second round comes from the templates
        cached.append(_body(flavour, ci))
    monkeypatch.setattr(commons, "common_input_xml", commons._common_input_tree)  # the tree written from scratch
    assert cached == [_body(flavour, ci) for ci in COMMON_INPUTS + COMMON_INPUTS]
    assert len(set(cached)) == len(COMMON_INPUTS)


def test_blob_text_is_the_stdlib_base64() -> None:
    for size in (0, 1, 2, 3, 57, 1000, 8478):
        payload = os.urandom(size)
        blob = commons.make_blob(payload, id="b", with_hash=True)
        el = commons.blob_element(commons.V2, blob)
        assert el.text == base64.b64encode(payload).decode("ascii")
        assert el.get("HashValue") == base64.b64encode(blob.hash_value or b"").decode("ascii")
        assert commons.parse_blob(el).content == payload
