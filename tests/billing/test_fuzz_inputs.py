"""Fuzz: the invoice JSON loader and the eFact reader give a result or a typed error, never another exception.

The eFact side goes through the public reading API only (``iter_records``, ``read_sending``,
``read_response``, ``validate``) on random bytes and on a real 920000 with bytes changed, cut or
inserted, so that it keeps holding whatever the reader's internals become.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mycarenet_dental.errors import MyCareNetDentalError, UsageError
from mycarenet_dental_billing.efact import response_writer as rw
from mycarenet_dental_billing.efact.model import Invoice
from mycarenet_dental_billing.efact.reader import iter_records, read_sending
from mycarenet_dental_billing.efact.responses import read_response
from mycarenet_dental_billing.efact.validator import validate
from mycarenet_dental_billing.efact.writer import to_bytes
from mycarenet_dental_billing.invoices_json import load_invoices, sending_to_json

from tests.billing.billing_factories import DENTIST, rich_sending

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GOOD = sending_to_json(rich_sending())
SENDING_BYTES = to_bytes(rich_sending())
RESPONSES = [rw.response_to_bytes(rw.settle(SENDING_BYTES, 77, payment_reference="PAY1")),
             rw.response_to_bytes(rw.acknowledge(SENDING_BYTES, 77)),
             rw.response_to_bytes(rw.refuse_file(SENDING_BYTES, 77, header_errors={})),
             rw.response_to_bytes(rw.preliminary(SENDING_BYTES, 77, {}, refused=False))]

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["²", "١٢٣", "0", "-1", "999", "301011", "102771", "2026-02-30", "2026-10-03", "M", "F", ""]),
)
json_values = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                              st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                           max_leaves=6)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(GOOD)[1:]


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def _check_invoices(result: list[Invoice]) -> None:
    assert result and all(isinstance(i, Invoice) for i in result)
    assert len({i.number for i in result}) == len(result)
    assert all(line.units != 0 for i in result for line in i.lines)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), json_values), min_size=1, max_size=3))
def test_invoice_json_mutations_typed_error_or_success(changes: list[tuple[tuple[Any, ...], Any]]) -> None:
    doc: Any = GOOD
    for path, value in changes:
        try:
            doc = _set(doc, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed the path
    text = json.dumps(doc, allow_nan=True)
    try:
        result = load_invoices(text, default_provider=DENTIST)
    except UsageError:
        return
    _check_invoices(result)


@FUZZ
@given(st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
                 st.integers(1, 300_000).map(lambda n: b"[" * n + b"]" * n)))
def test_invoice_json_bytes_typed_error_or_success(raw: bytes) -> None:
    try:
        result = load_invoices(raw, default_provider=DENTIST)
    except UsageError:
        return
    _check_invoices(result)


def _mutate(data: bytes, ops: list[tuple[str, int, bytes]]) -> bytes:
    for op, at, chunk in ops:
        at = at % (len(data) + 1)
        if op == "replace":
            data = data[:at] + chunk + data[at + len(chunk):]
        elif op == "insert":
            data = data[:at] + chunk + data[at:]
        elif op == "cut":
            data = data[:at]
        else:  # delete
            data = data[:at] + data[at + len(chunk):]
    return data


_ops = st.lists(st.tuples(st.sampled_from(["replace", "insert", "cut", "delete"]), st.integers(0, 10**6),
                          st.binary(min_size=1, max_size=8) | st.sampled_from([b"\xff", b"\r\n", b"-", b"\x00", b"9"])),
                min_size=1, max_size=4)
efact_inputs = st.one_of(
    st.binary(max_size=400),
    st.builds(_mutate, st.sampled_from([SENDING_BYTES, *RESPONSES]), _ops),
    st.sampled_from(RESPONSES),  # a valid answer given where a 920000 is expected
)


@FUZZ
@given(efact_inputs)
def test_efact_reader_typed_error_or_success(raw: bytes) -> None:
    for read in (lambda b: list(iter_records(b)), read_sending, read_response):
        try:
            read(raw)
        except MyCareNetDentalError:
            pass
    findings = validate(raw)  # the insurer's checks report findings, they do not raise
    assert isinstance(findings, list)
