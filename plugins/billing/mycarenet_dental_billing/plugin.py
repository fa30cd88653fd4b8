"""Plugin entry point of the eFact billing service (hooks are filled in by the transport/outbox work).

The file format lives in :mod:`mycarenet_dental_billing.efact`; this module only wires it into the
core through ``@hookimpl`` functions.
"""

from __future__ import annotations

from mycarenet_dental.hookspec import hookimpl  # noqa: F401  (used once the hooks are added)
