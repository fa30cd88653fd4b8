"""Fixtures of the insurability tests: the dentist on the module's simulator (``sim``, tests/conftest.py),
fresh contacts."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from mycarenet_dental.shared_folder import shared_path

CONFORMANCE = shared_path("conformance", "memberdata")


@pytest.fixture(scope="module")
def ctx(sim: object) -> Iterator[object]:
    """The dentist's context (one per module: the STS token is reused)."""
    context = sim.context()  # type: ignore[attr-defined]
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def contact_for(ctx: object) -> Callable[[str], str]:
    """Open a fresh contact for a patient and return its id (closes any open one first)."""

    def open_(patient: str) -> str:
        for old in ctx.contacts.list(open_only=True, patient=patient):  # type: ignore[attr-defined]
            ctx.contacts.close(old.id)  # type: ignore[attr-defined]
        contact = ctx.open_contact(patient)  # type: ignore[attr-defined]
        return str(contact.id)

    return open_
