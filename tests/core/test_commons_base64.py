"""``commons.b64decode_strict`` (pybase64 first) gives what ``base64.b64decode(..., validate=True)`` gives: the same
bytes or the same error, on good, padded, wrapped, non-ASCII and broken inputs."""

from __future__ import annotations

import base64
import os

import pytest
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
