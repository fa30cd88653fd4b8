"""The plugin's wiring: hooks, light import, rules listed with their article."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_plugin_stays_light() -> None:
    code = ("import sys, mycarenet_dental_mandates.plugin as p; "
            "print(sorted(m for m in ('lxml', 'cryptography', 'requests', 'sqlite3', "
            "'mycarenet_dental_mandates.register') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_hooks(isolated_pm) -> None:  # type: ignore[no-untyped-def]
    rules = {r.id: r for name, r in isolated_pm.collect("mycarenet_dental_rules") if name == "mandates"}
    assert sorted(rules) == ["R21", "R22", "R23", "R24", "R25", "R26", "R27"]
    assert all(r.article == "Annex 1 §4" for r in rules.values())
    assert rules["R21"].check is not None and not rules["R21"].services
    tables = [t for name, t in isolated_pm.collect("mycarenet_dental_tables") if name == "mandates"]
    assert tables[0].name == "mandates"
    commands = [c.name for name, c in isolated_pm.collect("mycarenet_dental_commands") if name == "mandates"]
    assert commands == ["mandates"]
    from mycarenet_dental.sim.plugins import make_sim_plugin_manager

    assert not hasattr(isolated_pm.hook, "mycarenet_dental_demo_steps")  # a simulator hook, not production's
    sim_pm = make_sim_plugin_manager(isolated_pm)
    steps = [s for name, s in sim_pm.collect("mycarenet_dental_demo_steps") if name == "mandates"]
    assert steps[0].order == 60


def test_the_package_exports_resolve() -> None:
    import mycarenet_dental_mandates as pkg

    for name in pkg.__all__:
        assert getattr(pkg, name) is not None
