"""mycarenet-dental-dmg: who holds the patient's global medical file (DMG), Annex 5 of the 2016 protocol.

Vendors call :func:`consult_dmg` (explicit request of the dentist, open contact, art. 74 purpose);
the answer is a :class:`DmgResult` whose ``holder`` is ``None`` when nobody holds the file.
"""

from __future__ import annotations

from typing import Any

from .model import PURPOSE, DmgHolder, DmgRefusedError, DmgResult, HolderKind, Route

__all__ = ["PURPOSE", "DmgHolder", "DmgRefusedError", "DmgResult", "HolderKind", "Route", "consult_dmg"]


def consult_dmg(*args: Any, **kwargs: Any) -> DmgResult:
    """See :func:`mycarenet_dental_dmg.client.consult_dmg` (imported lazily: it needs lxml)."""
    from .client import consult_dmg as _consult

    return _consult(*args, **kwargs)
