"""The offline twin of eHealth and MyCareNet: host, population, STS, ETK depot, test PKI, the insurer
side of commons/MemberData, ``SimEnv`` and the pytest plugin.

Production code never imports this package (``tests/core/test_architecture.py``); it needs the
``simulator`` extra (Werkzeug): ``pip install 'mycarenet-dental[simulator]'``.
"""

from __future__ import annotations

import importlib.util

EXTRA_HINT = "pip install 'mycarenet-dental[simulator]'"


def require_extra() -> None:
    """Refuse, with the install command, when the ``simulator`` extra is not installed."""
    if importlib.util.find_spec("werkzeug") is None:
        from ..errors import ConfigError

        raise ConfigError("the simulator is not installed (it needs the 'simulator' extra)", hint=EXTRA_HINT)
