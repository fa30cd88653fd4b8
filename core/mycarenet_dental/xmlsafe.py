"""The one safe XML parser of the project.

Every byte string that comes from outside (a SOAP response, a request received by the simulator, a file
given to ``security verify``) goes through :func:`parse_xml`. It refuses what XML allows but no eHealth
message needs and what an attacker can abuse: a DOCTYPE (and therefore entities, external or not), network
access, documents larger than a bound, and libxml2's "huge tree" mode. Whitespace is kept as is because
signed XML must not be reformatted.
"""

from __future__ import annotations

import threading

from lxml import etree

from .errors import MalformedResponseError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


_local = threading.local()


def _parser() -> etree.XMLParser:
    # One parser per thread: lxml parsers keep state and must not be shared between threads.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _new_parser()
    return parser


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        remove_comments=False,
        remove_pis=False,
        strip_cdata=False,
        collect_ids=False,
    )


def parse_xml_tree(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "message"
) -> etree._ElementTree:
    """Parse ``data`` into an element tree, refusing DTDs, entities, oversize input and non-XML."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("parse_xml expects bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise MalformedResponseError(
            f"{what} is {len(data)} bytes, larger than the configured bound of {max_bytes} bytes",
            code="XML_TOO_LARGE",
            origin="xmlsafe",
            hint="raise the size bound only if the counterpart legitimately sends such large messages",
        )
    if not data.strip():
        raise MalformedResponseError(f"{what} is empty", code="XML_EMPTY", origin="xmlsafe")
    # Cheap early refusal: a DOCTYPE can only appear in the prolog, before the first element.
    head = data[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise _doctype_error(what)
    try:
        tree = etree.ElementTree(etree.fromstring(data, _parser()))
    except etree.XMLSyntaxError as exc:
        raise MalformedResponseError(
            f"{what} is not well-formed XML: {exc.msg}",
            code="XML_MALFORMED",
            origin="xmlsafe",
            location=f"line {exc.lineno}" if getattr(exc, "lineno", None) else None,
            hint="the message was truncated or is not XML; check the endpoint URL and the network path",
        ) from None
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _doctype_error(what)
    # Without a DTD no entity can be declared, so libxml2 already refused any entity reference.
    return tree


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "message") -> etree._Element:
    """Parse ``data`` safely and return the root element (see module docstring)."""
    return parse_xml_tree(data, max_bytes=max_bytes, what=what).getroot()


def _doctype_error(what: str) -> MalformedResponseError:
    return MalformedResponseError(
        f"{what} contains a DOCTYPE or entity declarations, which are refused (never resolved)",
        code="XML_DTD_REFUSED",
        origin="xmlsafe",
        hint="eHealth messages never carry a DTD; the sender is misconfigured or hostile",
    )
