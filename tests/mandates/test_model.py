"""Identifiers of the parties and the explicit object of a mandate (R21, R24, R25)."""

from __future__ import annotations

import datetime as dt

import pytest
from mycarenet_dental.errors import InvalidIdentifierError
from mycarenet_dental_mandates import Mandate, MandateRefusal, PartyId, PartyKind, Service, parse_service

from .conftest import DENTIST_NIHII, DENTIST_SSIN, OFFICE_CBE


@pytest.mark.parametrize(("text", "kind", "value"), [
    ("0412345614", PartyKind.CBE, OFFICE_CBE),
    ("BE 0412.345.614", PartyKind.CBE, OFFICE_CBE),
    ("412345614", PartyKind.CBE, OFFICE_CBE),
    ("cbe:0412345614", PartyKind.CBE, OFFICE_CBE),
    ("85.07.30-033.28", PartyKind.SSIN, DENTIST_SSIN),
    ("3-12345-92-001", PartyKind.NIHII, DENTIST_NIHII),
    ("31234592", PartyKind.NIHII, "31234592"),
    ("nihii:31234592001", PartyKind.NIHII, DENTIST_NIHII),
    ("ssin:85073003328", PartyKind.SSIN, DENTIST_SSIN),
])
def test_party_ids_are_recognised_and_canonical(text: str, kind: PartyKind, value: str) -> None:
    party = PartyId.parse(text)
    assert (party.kind, party.value) == (kind, value)


@pytest.mark.parametrize("text", ["0412345615", "85073003329", "31234593001", "12", "", "cbe:85073003328"])
def test_invalid_party_ids_are_refused_with_the_field(text: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        PartyId.parse(text, field="--mandatary")
    assert info.value.field == "--mandatary"
    assert info.value.exit_code == 2


def test_nihii_key_ignores_the_qualification() -> None:
    assert PartyId.parse("nihii:31234592001").key == PartyId.parse("nihii:31234592007").key


@pytest.mark.parametrize(("text", "service"), [("assurability", Service.ASSURABILITY),
                                               ("Insurability", Service.ASSURABILITY),
                                               ("tarification", Service.TARIFF), ("eFact", Service.BILLING)])
def test_the_three_services_and_their_aliases(text: str, service: Service) -> None:
    assert parse_service(text) is service


@pytest.mark.parametrize(("text", "rule"), [("dmg", "R21"), ("DMG-right", "R21"), ("", "R24"), (None, "R24"),
                                            ("everything", "R24"), ("payment", "R25"), ("bank account", "R25"),
                                            ("paiement", "R25"), ("betaling", "R25")])
def test_other_objects_are_refused_naming_the_rule(text: object, rule: str) -> None:
    with pytest.raises(MandateRefusal) as info:
        parse_service(text)
    assert info.value.rule_id == rule
    assert info.value.article == "Annex 1 §4"
    assert rule in str(info.value)


def test_a_mandate_has_no_payment_attribute_and_a_valid_period() -> None:
    names = {a.name for a in Mandate.__attrs_attrs__}  # type: ignore[attr-defined]
    assert not {n for n in names if any(w in n for w in ("pay", "iban", "bank", "account"))}
    with pytest.raises(MandateRefusal):
        Mandate(id="M-1", mandator_nihii=DENTIST_NIHII, mandatary=PartyId.parse(OFFICE_CBE), service="tariff",
                start="2026-02-01", end="2026-01-01")
    m = Mandate(id="M-1", mandator_nihii=DENTIST_NIHII, mandatary=PartyId.parse(OFFICE_CBE), service="tariff",
                start="2026-02-01", end="2026-02-28")
    assert m.covers(dt.date(2026, 2, 28)) and not m.covers(dt.date(2026, 3, 1))
    assert not m.covers(dt.date(2026, 1, 31))
