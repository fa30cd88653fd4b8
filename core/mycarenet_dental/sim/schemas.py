"""The official MyCareNet/eHealth XML schemas: where they are, compiled once, used to validate.

The schemas are not shipped inside the package (they are third-party files); they are looked up
in ``$MYCARENET_DENTAL_XSD``, then in the ``xsd`` folder of the shared folder (:mod:`.shared_folder`). The
tests validate every message the project builds against them; the simulator validates what it
receives (SOA-03006 on failure) whenever they are available, and says so at start-up when not.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from lxml import etree

from ..shared_folder import shared_candidates

ENV_XSD = "MYCARENET_DENTAL_XSD"

# name -> root schema (relative to the xsd folder); see shared/xsd/README.md
ROOTS: dict[str, str] = {
    "memberdata": "econtract/mycarenet-memberdata/mycarenet-memberdata-protocol-1_0.xsd",
    "memberdata-blob": "freehealth-cin-saml/Extensions.xsd",
    "memberdata-blob-simplified": "freehealth/mycarenet-memberdata/XSD/Extensions-simplified.xsd",
    "tarification": "econtract/mycarenet-ehealth-tarification/mycarenet-tarification-protocol-1_0.xsd",
    "kmehr-messageservices": "freehealth/ehealth-messageservices/XSD/messageservices_protocol-1_2.xsd",
    "genins": "econtract/mycarenet-ehealth-gen-ins/gen_ins_services_protocol-1_0.xsd",
    "genins-1.1": "freehealth/ehealth-mycarenet-genins/XSD/ehealth-genins-protocol-1_1.xsd",
    "gmf": "freehealth/ehealth-gmf/XSD/gmf_services_protocol-1_1.xsd",
    "genasync": "econtract/mycarenet-genasync/GenericAsync-V3.xsd",
    "genasync-v1": "econtract/mycarenet-genasync/GenericAsync.xsd",
    "encrypted-content": "freehealth/encryption/XSD/businessContent.xsd",
    "xades": "freehealth/external/XSD/XAdES.xsd",
    "saml11-protocol": "econtract/mycarenet-ehealth-saml-sts/oasis-sstc-saml-schema-protocol-1.1.xsd",
    "saml11-assertion": "econtract/mycarenet-ehealth-saml-sts/oasis-sstc-saml-schema-assertion-1.1.xsd",
    "ws-trust": "econtract/mycarenet-ehealth-ws-trust-sts/ws-trust-1.3.xsd",
    "wsse": "econtract/mycarenet-ehealth-ws-trust-sts/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "econtract/mycarenet-ehealth-ws-trust-sts/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "soa-errors": "freehealth/ehealth-errors/XSD/ehealth-errors-schema-soa-1_1.xsd",
    "soa-errors-1.0": "econtract/mycarenet-ehealth-gen-ins/ehealth-errors-schema-soa-1_0.xsd",
    # The ETK depot schema (imports eHealth commons 1.0 as ../../ehealth-commons/XSD/…, freehealth's layout).
    # Not in every copy of shared/xsd: schema("etkdepot") is None where the file is absent.
    "etkdepot": "freehealth/ehealth-etee/XSD/ehealth-etkdepot-schema-protocol-1_0.xsd",
}


def xsd_dir() -> Path | None:
    """The schema folder, or None when the schemas are not available on this machine."""
    candidates = []
    if os.environ.get(ENV_XSD):
        candidates.append(Path(os.environ[ENV_XSD]))
    candidates += [p / "xsd" for p in shared_candidates()]
    for path in candidates:
        if (path / ROOTS["memberdata"]).exists():
            return path
    return None


def available() -> bool:
    return xsd_dir() is not None


@functools.cache
def schema(name: str) -> etree.XMLSchema | None:
    """The compiled schema ``name`` (see ROOTS), compiled once per process; None when unavailable."""
    base = xsd_dir()
    if base is None or not (base / ROOTS[name]).exists():
        return None
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(base / ROOTS[name]), parser))


def validate(name: str, element: Any) -> list[str]:
    """Validation errors of ``element`` against schema ``name`` ([] when valid or schemas absent)."""
    compiled = schema(name)
    if compiled is None:
        return []
    if compiled.validate(element):
        return []
    return [f"line {e.line}: {e.message}" for e in compiled.error_log]  # type: ignore[attr-defined]
