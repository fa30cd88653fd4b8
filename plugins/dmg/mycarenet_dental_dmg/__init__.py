"""mycarenet-dental-dmg: who holds the patient's global medical file (DMG), Annex 5 of the 2016 protocol.

Vendors call :func:`consult_dmg` (explicit request of the dentist, open contact, art. 74 purpose);
the answer is a :class:`DmgResult` whose ``holder`` is ``None`` when nobody holds the file. Names
are imported on first use, so that loading the plugin (every CLI start) stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PURPOSE", "DmgHolder", "DmgRefusedError", "DmgResult", "HolderKind", "Route", "consult_dmg"]


def __getattr__(name: str) -> Any:
    if name == "consult_dmg":
        from .client import consult_dmg

        return consult_dmg
    if name in __all__:
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
