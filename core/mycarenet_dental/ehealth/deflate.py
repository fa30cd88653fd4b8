"""Bounded inflation of blobs: one helper for every place that inflates bytes a peer sent.

MyCareNet blobs (commons, GenericAsync) and the XAdES "nippin" transform over them are all inflated
here, always with an output cap, so a small hostile blob can never become gigabytes in memory.
"""

from __future__ import annotations

import zlib

from ..errors import MalformedResponseError

__all__ = ["ANY_DEFLATE", "RAW_DEFLATE", "inflate_blob"]

RAW_DEFLATE = (-15,)
ANY_DEFLATE = (-15, 15, 31)  # raw deflate (the spec), zlib, gzip (what some senders produce)


def inflate_blob(data: bytes, *, max_bytes: int, uncompressed_ok: bool = True,
                 formats: tuple[int, ...] = ANY_DEFLATE) -> tuple[bytes, bool]:
    """(content, was it compressed) of a Blob labelled ``deflate``: raw deflate (what the spec says), zlib
    or gzip (what some senders produce), each accepted only when the stream ends exactly at the end of
    the data; the output is capped at ``max_bytes`` (no decompression bomb).

    UNSURE: bytes that are none of the three are taken as they are (``uncompressed_ok``), as the eHealth
    connector tolerates a Blob labelled deflate that was never compressed; the Blob's ``HashValue``, when
    given, still has to match. ``formats`` are zlib ``wbits`` values (-15 raw, 15 zlib, 31 gzip).
    """
    for wbits in formats:
        dec = zlib.decompressobj(wbits)
        try:
            out = dec.decompress(data, max_bytes + 1)
        except zlib.error:
            continue
        if len(out) > max_bytes:
            raise MalformedResponseError(f"blob inflates beyond {max_bytes} bytes", code="BLOB_TOO_LARGE",
                                         origin="mycarenet.commons")
        if dec.eof and not dec.unused_data:
            return out, True
    if uncompressed_ok:
        return data, False
    raise MalformedResponseError("blob says deflate but is not deflate, zlib or gzip data", code="BLOB_ENCODING",
                                 origin="mycarenet.commons", location="Detail")
