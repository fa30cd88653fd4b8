"""The pytest plugin vendors use: a running simulator and a configured dentist context."""

from __future__ import annotations


def test_mycarenet_simulator_fixture(mycarenet_simulator) -> None:  # type: ignore[no-untyped-def]
    ctx = mycarenet_simulator.context()
    try:
        token = ctx.security.token()
        assert token.subject and ctx.responsible().nihii == mycarenet_simulator.pki.dentist_nihii
    finally:
        ctx.close()
