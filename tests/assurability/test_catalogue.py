"""The error catalogue: every MyCareNet / GenIns code of the spec has FR, NL and EN text."""

from __future__ import annotations

from mycarenet_dental.sim.memberdata import ERROR_CODES
from mycarenet_dental_assurability.errors import catalogue, error_for

GENINS_CODES = ("10", "11", "12", "21", "23", "30", "31", "32", "40", "42", "43", "44", "99")


def test_every_code_has_three_languages() -> None:
    data = catalogue()
    assert set(ERROR_CODES) <= set(data["memberdata"])
    assert set(GENINS_CODES) <= set(data["genins"])
    for table in data.values():
        for code, entry in table.items():
            assert entry["kind"] in ("refusal", "remote", "warning"), code
            assert entry["en"] and entry["fr"] and entry["nl"], code


def test_kinds_map_to_exit_codes() -> None:
    assert error_for("memberdata", "UNKNOWN_NISS_ROUTING").exit_code == 1
    assert error_for("memberdata", "SEND_TO_IM_EXCEPTION").exit_code == 3
    assert error_for("genins", "12").messages.nl.startswith("Fout")
    unknown = error_for("memberdata", "SOMETHING_NEW", remote_message="brand new", responder_internal=True)
    assert unknown.code == "SOMETHING_NEW" and unknown.exit_code == 3 and "brand new" in unknown.messages.en
