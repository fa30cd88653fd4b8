"""A vendor's day at the chair in a dozen calls: insurability, tariff, then the invoice built and sent.

Run it against the simulator (``mycarenet-dental simulator pki --out sim/``, ``source sim/keystore.env``,
``mycarenet-dental simulator serve --pki sim/ &``)::

    python examples/vendor_script.py sim/config.toml 85073003328

``tests/core/test_vendor_api.py`` runs it against the simulator fixture. Every call has one shape:
``verb_noun(ctx, contact_or_subject, ...)`` returning a frozen result (field names: ``docs/glossary.md``).
"""

from __future__ import annotations

import sys

from mycarenet_dental import Context, Sex
from mycarenet_dental_assurability import consult_insurability
from mycarenet_dental_billing import Invoice, ServiceLine, build_sendings, send_sending, sending_status
from mycarenet_dental_tariff import consult_tariff


def main(config: str, patient: str, services: tuple[str, ...] = ("301011", "304415:36")) -> dict[str, object]:
    """One visit of ``patient``: consult, price, bill; returns what a vendor would show."""
    with Context.from_config(config) as ctx:  # keystore and licence checked here: ConfigError, exit 2
        contact = ctx.open_contact(patient)  # R29: the patient is being treated
        insurability = consult_insurability(ctx, contact)
        period = insurability.current_period
        if not insurability.insured or period is None:
            return {"insured": False}
        tariff = consult_tariff(ctx, contact, list(services))
        dentist = ctx.config.require_dentist().nihii
        invoice = Invoice(  # destination: by default the mutuality's union
            number=int(contact.opened_at[:10].replace("-", "")) * 10_000 + 1,
            patient_id=patient, sex=insurability.patient.sex if insurability.patient else Sex.UNKNOWN,
            mutuality=period.mutuality, ct1=period.ct1, ct2=period.ct2,
            lines=[ServiceLine(code=line.code, date=tariff.service_date, tooth=line.tooth, provider=dentist,
                               reimbursement=line.reimbursement_cents or 0,
                               patient_share=line.patient_share_cents or 0)
                   for line in tariff.lines if line.priced])
        built = build_sendings(ctx, [invoice])  # R36: every line was just consulted
        sent = [send_sending(ctx, sending) for sending in built.sendings]
        return {
            "insured": True, "union": insurability.union, "mutuality": period.mutuality,
            "ct1": period.ct1, "ct2": period.ct2, "third_party_payment": insurability.third_party_payment,
            "lines": [(line.code, line.tooth, line.reimbursement_cents, line.patient_share_cents)
                      for line in tariff.lines],
            "refused_before_sending": [r.reason for r in built.refused_lines],
            "sendings": [(s.oa, s.sending_number, sending_status(ctx, s).state.value) for s in sent],
        }


if __name__ == "__main__":
    print(main(sys.argv[1], sys.argv[2], tuple(sys.argv[3:]) or ("301011", "304415:36")))
