"""No dead code in the shipped packages: a ``vulture`` scan finds nothing but known false positives.

The scan reads the tests and the vendor examples too (code only they use is still used) but reports only core and plugin
modules. Every allowed name says why vulture cannot see its use. Skipped when vulture is absent
(it is in the ``test`` extra).
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: name -> why it is not dead (framework-called, or a data field filled from a message or a file).
ALLOWED = {
    # called by a framework, not by our code
    "format_commands": "click.Group override (lists lazy commands in --help)",
    "ssl_adapter": "cheroot server setting",
    "max_request_header_size": "cheroot server setting",
    "max_request_body_size": "cheroot server setting",
    "keep_alive_conn_limit": "cheroot server setting",
    "expiration_interval": "cheroot server setting",
    "row_factory": "sqlite3 connection setting",
    "__signature__": "read by Litestar: the signature of a gateway route made from a RouteSpec",
    "__annotations__": "read by Litestar: the types of a gateway route made from a RouteSpec",
    "__qualname__": "read by Litestar: the name of a gateway route made from a RouteSpec",
    "notes": "StatusPanel field read by the status page's Jinja2 template",
    "cert_reqs": "urllib3 connection setting",
    "ca_certs": "urllib3 connection setting",
    "ca_cert_dir": "urllib3 connection setting",
    "ca_cert_data": "urllib3 connection setting",
    "assert_hostname": "urllib3 connection setting",
    "assert_fingerprint": "urllib3 connection setting",
    "ConnectionCls": "urllib3 pool class setting",
    "pool_classes_by_scheme": "urllib3 pool manager setting",
    "cert_verify": "requests HTTPAdapter override",
    "trust_env": "requests Session setting",
    "_one_facet": "attrs validator",
    "_kind_default": "attrs default",
    "_end_after_start": "attrs validator",
    "TOO_MANY_ERRORS": "enum member (an eFact answer code)",
    "MYCARENET_DENTAL_API": "a plugin's declared API version, read by name (hookspec.API_ATTRIBUTE) at load",
    # data fields: what a message or a generated file holds, kept on the record for its readers
    "finished_at": "Outcome field passed to the exchange_finished hook",
    "query_id": "MemberData consultation record field",
    "subject_qualifier": "parsed SAML token field",
    "mycarenet_cbe": "test PKI descriptor field",
    "mycarenet_application": "test PKI descriptor field",
    "communication_date": "parsed insurability answer field",
    "direction": "parsed insurability answer field",
    "max_invoiced_years": "parsed insurability answer field",
    "special_social_category": "parsed insurability answer field",
    "total_patient_share": "eFact record 90 total, written to the file",
    "partial_codes": "DMG route A result field (partial answer codes)",
    "kmehr_id": "DMG route B result field (KMEHR message id)",
}
IGNORE_NAMES = ["mycarenet_dental_*", "__getattr__"]  # hook implementations, lazy module exports
IGNORE_DECORATORS = ["@hookimpl", "@hookspec", "@click.command", "@click.group", "@*.command", "@*.group",
                     "@pytest.fixture"]


def test_no_dead_code_in_core_and_plugins() -> None:
    vulture = pytest.importorskip("vulture")
    shipped = [ROOT / "core" / "mycarenet_dental", *sorted((ROOT / "plugins").glob("*/mycarenet_dental_*"))]
    scan = vulture.Vulture(ignore_names=IGNORE_NAMES, ignore_decorators=IGNORE_DECORATORS)
    scan.scavenge([str(p) for p in [*shipped, ROOT / "tests", ROOT / "bench", ROOT / "examples"] if p.exists()])
    roots = tuple(str(p) for p in shipped)
    dead = [f"{Path(item.filename).relative_to(ROOT)}:{item.first_lineno}: {item.typ} {item.name!r}"
            for item in scan.get_unused_code(min_confidence=60)
            if str(item.filename).startswith(roots) and item.name not in ALLOWED]
    assert not dead, "dead code (remove it, or add it to ALLOWED with the reason vulture misses its use):\n" + \
        "\n".join(dead)
