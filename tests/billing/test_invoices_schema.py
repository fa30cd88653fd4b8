"""The published JSON Schema of the invoice file is the Python model: generated from it, it accepts the
README sample and the test invoices, refuses the old names, and follows a change of the model."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from mycarenet_dental_billing.efact.model import Commitment
from mycarenet_dental_billing.invoices_json import load_invoices, load_sending, sending_to_json
from mycarenet_dental_billing.invoices_schema import CLASSES, invoices_schema, object_schema

from tests.billing.billing_factories import DENTIST, rich_sending
from tests.billing.test_invoices_json import EXAMPLE

jsonschema = pytest.importorskip("jsonschema")
README = Path(__file__).resolve().parents[2] / "plugins" / "billing" / "README.md"


def _validator() -> Any:
    schema = invoices_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _readme_sample() -> dict[str, Any]:
    """The invoice file the billing README writes (``cat > invoices.json <<EOF ... EOF``), dated today."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"cat > invoices\.json <<EOF\n(.*?)\nEOF\n", text, re.S)
    assert block, "the billing README writes a JSON invoice file"
    return json.loads(block.group(1).replace("$(date +%F)", dt.date.today().isoformat()))  # type: ignore[no-any-return]


def test_the_readme_sample_and_the_test_invoices_are_valid() -> None:
    validator = _validator()
    sample = _readme_sample()
    for doc in (sample, EXAMPLE, sending_to_json(rich_sending())):
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
        assert errors == []
    assert load_invoices(sample, default_provider=DENTIST)[0].mutuality == "306"  # and the loader agrees
    assert load_sending(EXAMPLE).invoices


@pytest.mark.parametrize(("change", "path"), [
    (lambda inv: inv.update(affiliation=inv.pop("mutuality")), "affiliation"),  # the old names are refused
    (lambda inv: inv.update(patient={"ssin": inv.pop("patient_id")}), "patient"),
    (lambda inv: inv.update(sex="M"), "sex"),
    (lambda inv: inv.update(sex=1), "sex"),
    (lambda inv: inv["lines"][0].update(reimbursement="25.00"), "reimbursement"),
])
def test_schema_and_loader_refuse_the_same_documents(change: Any, path: str) -> None:
    doc = json.loads(json.dumps(_readme_sample()))
    change(doc["invoices"][0])
    assert list(_validator().iter_errors(doc)), "the schema accepted it"
    with pytest.raises(Exception, match=path):
        load_invoices(doc, default_provider=DENTIST)


def test_every_model_field_is_in_the_schema_with_its_default() -> None:
    defs = invoices_schema()["$defs"]
    for cls in CLASSES:
        assert list(defs[cls.__name__]["properties"]) == [a.name for a in attrs.fields(cls)]
    assert defs["ServiceLine"]["properties"]["units"]["default"] == 1
    assert defs["Invoice"]["properties"]["sex"] == {"enum": ["male", "female"]}
    assert "provider" not in defs["ServiceLine"]["required"]  # the file's default: the dentist


def test_a_model_change_shows_in_the_schema() -> None:
    @attrs.frozen
    class Extended(Commitment):
        """A commitment with one more field."""

        channel: str = "mycarenet"

    schema = object_schema(Extended)
    assert schema["properties"]["channel"] == {"type": "string", "default": "mycarenet"}
    assert schema["required"] == ["number", "communicated"]


def test_the_cli_prints_the_schema() -> None:
    from mycarenet_dental.cli.main import build_cli
    from mycarenet_dental.plugins import make_plugin_manager

    result = CliRunner().invoke(build_cli(make_plugin_manager()), ["billing", "schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == invoices_schema()
