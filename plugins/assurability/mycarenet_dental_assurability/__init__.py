"""mycarenet-dental-assurability: insurability consultation at the chair (annex 2 of the 2016 protocol).

Public API (vendors)::

    from mycarenet_dental_assurability import consult_insurability, InsurabilityResult

The package root stays light: names are imported on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "consult_insurability": ".client",
    "kept_result": ".client",
    "result_from_mda": ".client",
    "InsurabilityResult": ".model",
    "CoveragePeriod": ".model",
    "PatientData": ".model",
    "Payment": ".model",
    "GeneralSituation": ".model",
    "Hospitalisation": ".model",
    "MedicalHouse": ".model",
    "Notice": ".model",
    "Period": ".model",
    "RequestType": ".model",
    "ContactType": ".model",
    "Source": ".model",
    "InsurabilityRefused": ".errors",
    "InsurerUnavailable": ".errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(module, __name__), name)
