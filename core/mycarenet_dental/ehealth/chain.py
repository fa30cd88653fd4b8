"""Certificate chains: one implementation for every trust decision (answers, ETKs, STS, ETEE, XAdES).

A link is checked by its signature (``verify_directly_issued_by``), never by names alone; an
intermediate taken from certificates the peer sent (an ETK's, a signature's) must be a CA, so a
leaf certificate a trusted CA issued to anyone cannot vouch for another identity. Validity dates are
the caller's business (they depend on the moment asked about); signatures do not change with time,
so a path is built once per (leaf, anchors, intermediates) and cached.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

from cryptography import x509

__all__ = ["MAX_DEPTH", "chain_path", "chains_to", "is_ca", "issued_by", "signed_by"]

MAX_DEPTH = 5


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` directly signed ``cert`` (names match and the signature verifies)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # noqa: BLE001 - any failure (bad signature, unsupported key, ...) means "not issued by it"
        return False
    return True


def issued_by(cert: x509.Certificate, anchor: x509.Certificate) -> bool:
    """Whether ``cert`` is ``anchor`` itself or directly signed by it (one step of a chain)."""
    return cert == anchor or signed_by(cert, anchor)


def is_ca(cert: x509.Certificate) -> bool:
    """Whether the certificate's BasicConstraints say it is a CA."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


@functools.lru_cache(maxsize=128)
def _path(leaf: x509.Certificate, anchors: tuple[x509.Certificate, ...],
          intermediates: tuple[x509.Certificate, ...], max_depth: int) -> tuple[x509.Certificate, ...] | None:
    pool = [c for c in intermediates if c != leaf]
    current, path = leaf, [leaf]
    for _ in range(max_depth + 1):
        for anchor in anchors:
            if current == anchor:
                return tuple(path)
            if signed_by(current, anchor):
                return (*path, anchor)
        nxt = next((c for c in pool if is_ca(c) and signed_by(current, c)), None)
        if nxt is None:
            return None
        pool.remove(nxt)
        current = nxt
        path.append(nxt)
    return None


def chain_path(leaf: x509.Certificate, anchors: Sequence[x509.Certificate],
               intermediates: Iterable[x509.Certificate] = (), *,
               max_depth: int = MAX_DEPTH) -> tuple[x509.Certificate, ...] | None:
    """``leaf`` … anchor (each link's signature checked, intermediates CA only), or None when no path."""
    return _path(leaf, tuple(anchors), tuple(intermediates), max_depth)


def chains_to(cert: x509.Certificate, anchors: Sequence[x509.Certificate], *,
              pool: Iterable[x509.Certificate] = (), max_depth: int = MAX_DEPTH) -> bool:
    """Whether ``cert`` is an anchor, is signed by one, or reaches one through CA certificates of ``pool``."""
    return chain_path(cert, anchors, pool, max_depth=max_depth) is not None
