"""eFact flat-file format (message 920000 and the insurers' responses), part 1 of the billing plugin.

Modules, from the data up:

* :mod:`.records` — every record layout as data (zones: position, length, N/A/S type, label);
* :mod:`.controls` — record control digits, code controls (Σ codes mod 97), signed amounts;
* :mod:`.model` — the typed sending: ``Sending(header, invoices)`` → ``Invoice`` → ``ServiceLine``
  (+ ``Commitment`` record 51, ``IdentityCheck`` record 52);
* :mod:`.writer` — ``write_sending``/``to_bytes`` and the streaming ``EfactWriter``;
* :mod:`.reader` — ``EfactReader``/``iter_records`` (any message), ``read_sending``/``iter_invoices``,
  ``scan_sending`` (counts and totals of a 920000 of any size in flat memory);
* :mod:`.validator` — ``validate``/``assert_sendable``: the insurer's checks, locally;
  ``write_and_validate`` writes and checks a sending in one pass;
* :mod:`.responses` / :mod:`.response_writer` — 931000, 920999, 920099, 920098, 920900;
* :mod:`.catalogue` — the insurers' error codes with FR/NL/EN texts (``data/efact_errors.json``).

The JSON invoice input is :mod:`mycarenet_dental_billing.invoices_json`.
"""
