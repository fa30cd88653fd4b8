"""The insurers' eFact error catalogue, as data (``data/efact_errors.json``).

Two families of codes (``efact.md`` §3.4):

* six-character ``RRZZNN`` codes for records 10…90 (record type, zone, specific error), shown in
  responses with a severity letter (``B`` blocking, ``F`` invoice, ``R`` line, ``E``/``S`` signal);
* two-digit codes in the error zone following each data zone of segments 200/300 and records
  91/92/95/96 — keyed here as ``"<error zone>/<code>"``, e.g. ``"3011/40"``.

Codes missing from the file are still described, from the generic endings (``01`` not numeric,
``02`` check digit, ``05`` sign …), so every code a response carries gets a FR/NL/EN text.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import attrs
from mycarenet_dental.errors import Messages

SEVERITY_LETTERS = "BFRES"


@attrs.frozen
class CatalogueEntry:
    """One error code with its severity letter and its text in the three languages."""

    code: str
    letter: str  # B, F, R, E, S ('' for two-digit segment codes)
    messages: Messages
    known: bool = True  # False when synthesised from the generic endings

    @property
    def record_type(self) -> str | None:
        return self.code[:2] if len(self.code) == 6 else None

    @property
    def zone(self) -> str | None:
        return self.code[2:4] if len(self.code) == 6 else self.code.split("/")[0]

    @property
    def blocking(self) -> bool:
        return self.letter == "B"


def _load_json(name: str) -> dict[str, Any]:
    return json.loads(resources.files("mycarenet_dental_billing").joinpath("data", name).read_text("utf-8"))


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    return _load_json("efact_errors.json")


@lru_cache(maxsize=1)
def routing_table() -> dict[str, str]:
    """Affiliation mutuality → destination mutuality table (``data/efact_routing.json``)."""
    return {k: v for k, v in _load_json("efact_routing.json").items() if not k.startswith("_")}


def codes() -> dict[str, dict[str, str]]:
    """The explicit six-character codes of the catalogue."""
    return dict(_data()["codes"])


def describe(code: str, letter: str = "") -> CatalogueEntry:
    """Catalogue entry of a 6-character record code (``"502940"``) or a segment code (``"3011/40"``)."""
    data = _data()
    if "/" in code:
        entry = data["segment_codes"].get(code)
        if entry is not None:
            return CatalogueEntry(code, letter, Messages(entry["en"], entry["fr"], entry["nl"]))
        zone, _, two = code.partition("/")
        g = data["segment_generic"].get(two)
        if g is not None:
            return CatalogueEntry(code, letter, Messages(f"zone {zone[:-1]}: {g['en']}", f"zone {zone[:-1]} : {g['fr']}",
                                                         f"zone {zone[:-1]}: {g['nl']}"), known=False)
        return CatalogueEntry(code, letter, Messages(f"zone {zone[:-1]}: error {two}", f"zone {zone[:-1]} : erreur {two}",
                                                     f"zone {zone[:-1]}: fout {two}"), known=False)
    entry = data["codes"].get(code)
    if entry is not None:
        return CatalogueEntry(code, letter or entry["letter"], Messages(entry["en"], entry["fr"], entry["nl"]))
    rec, zone, end = code[:2], code[2:4], code[4:6]
    g = data["generic_endings"].get(end)
    where_en, where_fr, where_nl = f"record {rec} zone {zone}", f"enregistrement {rec} zone {zone}", f"record {rec} zone {zone}"
    if g is not None:
        return CatalogueEntry(code, letter or g["letter"],
                              Messages(f"{where_en}: {g['en']}", f"{where_fr} : {g['fr']}", f"{where_nl}: {g['nl']}"),
                              known=False)
    return CatalogueEntry(code, letter or "R", Messages(f"{where_en}: error {end}", f"{where_fr} : erreur {end}",
                                                        f"{where_nl}: fout {end}"), known=False)


def severity_text(letter: str) -> Messages:
    """What a severity letter means (inferred from the catalogue content — UNSURE as to official wording)."""
    e = _data()["letters"].get(letter)
    if e is None:
        return Messages(f"severity {letter!r}")
    return Messages(e["en"], e["fr"], e["nl"])
