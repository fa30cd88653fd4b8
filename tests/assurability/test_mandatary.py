"""A billing office consults as mandatary (Annex 1 §4): CareProvider stays the dentist, Sender = the office."""

from __future__ import annotations

import pytest
from mycarenet_dental.sim.population import base_population
from mycarenet_dental_assurability import consult_insurability

pytest.importorskip("mycarenet_dental_mandates", reason="the mandates plugin registers mandates")


def test_mandatary_consultation(sim) -> None:
    from datetime import date

    from mycarenet_dental.cli.main import main

    office = sim.context(mandatary=True)
    dentist = office.responsible()
    for args in (["add", "--mandator", dentist.nihii, "--mandatary", "cbe:" + office.executor().cbe,
                  "--service", "assurability", "--start", date.today().isoformat()],
                 ["export", str(sim.pki_dir / "mandates.json")]):  # the simulated MyCareNet's register
        try:
            main(["--config", str(sim.mandatary_config_path), "mandates", *args])
        except SystemExit as done:
            assert not done.code
    patient = base_population()[1].ssin
    result = consult_insurability(office, office.open_contact(patient))
    assert (result.ct1, result.union) == ("131", "300")
    rows = office.storage.query("SELECT executor, responsible FROM audit WHERE kind = 'outcome' AND service = ?",
                                ("assurability",))
    assert rows and rows[-1]["executor"].startswith("mandatary:") and rows[-1]["responsible"].startswith("dentist:")
    office.close()
