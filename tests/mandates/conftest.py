"""Fixtures of the mandates tests: a register with a movable clock, contexts for a dentist and an office."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import attrs
import pytest
from mycarenet_dental.context import Context
from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.plugins import make_plugin_manager
from mycarenet_dental.registrations import ServiceSpec
from mycarenet_dental_mandates import MandateRegister

DENTIST_NIHII = "31234592001"
DENTIST_SSIN = "85073003328"
OFFICE_CBE = "0412345614"
OTHER_CBE = "0200065765"  # 02000657 + 97 - (2000657 mod 97)
SECRETARY_SSIN = "90010100123"
OTHER_DENTIST_NIHII = "30000120001"


@attrs.define
class Clock:
    """A settable 'today' for the register."""

    day: dt.date = dt.date(2026, 3, 2)

    def __call__(self) -> dt.date:
        return self.day


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def register(clock: Clock) -> MandateRegister:
    return MandateRegister.in_memory(today=clock)


def _services_module() -> ModuleType:
    """Stand-in service declarations, so that R2 knows the services without the real plugins."""
    module = ModuleType("mandates_test_services")

    @hookimpl
    def mycarenet_dental_services():  # type: ignore[no-untyped-def]
        for name in ("assurability", "tariff", "billing", "dmg"):
            yield ServiceSpec(name=name, title=name, annex="Annex", mandatable=name != "dmg")

    module.mycarenet_dental_services = mycarenet_dental_services  # type: ignore[attr-defined]
    return module


@pytest.fixture
def isolated_pm():  # type: ignore[no-untyped-def]
    """Core rules + this plugin + stand-in services; no other installed plugin."""
    import mycarenet_dental.rules.builtin as builtin
    import mycarenet_dental_mandates.plugin as plugin

    return make_plugin_manager(entrypoints=False, extra=[("builtin-rules", builtin), ("mandates", plugin),
                                                        ("services", _services_module())])


def write_config(path: Path, *, mandatary: bool, extra: str = "") -> Path:
    executor = (f'[executor]\nkind = "mandatary"\nid = "{OFFICE_CBE}"\ncbe = "{OFFICE_CBE}"\nname = "Office"\n'
                if mandatary else "")
    path.write_text(f'profile = "simulator"\n[dentist]\nnihii = "{DENTIST_NIHII}"\nssin = "{DENTIST_SSIN}"\n'
                    f'name = "Anne"\n{executor}[storage]\npath = "{path.stem}.sqlite"\n{extra}', encoding="utf-8")
    return path


def _context(tmp_path: Path, pm, *, mandatary: bool) -> Iterator[Context]:  # type: ignore[no-untyped-def]
    """A context on the stand-in plugin set, its own config and store, the register's day at 10:00 UTC."""
    name = "office.toml" if mandatary else "dentist.toml"
    ctx = Context.from_config(write_config(tmp_path / name, mandatary=mandatary), pm=pm, check_credentials=False,
                              clock=lambda: dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc))
    yield ctx
    ctx.close()


@pytest.fixture
def office(tmp_path: Path, isolated_pm) -> Iterator[Context]:  # type: ignore[no-untyped-def]
    yield from _context(tmp_path, isolated_pm, mandatary=True)


@pytest.fixture
def dentist_ctx(tmp_path: Path, isolated_pm) -> Iterator[Context]:  # type: ignore[no-untyped-def]
    yield from _context(tmp_path, isolated_pm, mandatary=False)
