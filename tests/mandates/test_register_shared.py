"""The mandate register on a store shared by several workstations (PostgreSQL): two processes'
connections adding mandates for the same dentist and service at the same moment never leave two
periods in force that overlap (R26) — the register's read-then-write runs under the store's
writers' lock, held by the database, not by one process."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from mycarenet_dental.storage import open_storage
from mycarenet_dental_mandates import MandateRegister
from mycarenet_dental_mandates.register import TABLES

from .conftest import DENTIST_NIHII, DENTIST_SSIN, OFFICE_CBE, OTHER_CBE


def test_two_workstations_adding_mandates_at_once_never_overlap(postgres_url: str) -> None:
    first = open_storage(postgres_url)
    first.migrate([TABLES])
    stores = [first, open_storage(postgres_url)]
    today = dt.date(2026, 3, 2)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def add_many(store: Any, k: int) -> None:
        register = MandateRegister(store, today=lambda: today)
        try:
            barrier.wait(10)
            for i in range(8):
                start = dt.date(2026, 1 + (i * 3 + k) % 12, 1 + (i * 7 + k * 5) % 27)
                register.add(mandator_nihii=DENTIST_NIHII, mandator_ssin=DENTIST_SSIN,
                             mandatary=(OFFICE_CBE, OTHER_CBE)[k], service="assurability", start=start)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add_many, args=(s, k)) for k, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    mandates = [m for m in MandateRegister(first, today=lambda: today).mandates() if not m.is_void()]
    assert len(MandateRegister(first).mandates()) == 16
    periods = sorted((m.start, m.effective_end or dt.date.max) for m in mandates)
    for (_, end), (start, _) in zip(periods, periods[1:], strict=False):
        assert end <= start, periods  # R26: each ends (exclusive end) where the next one starts
    for store in stores:
        store.close()
