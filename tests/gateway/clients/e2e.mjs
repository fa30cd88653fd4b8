// A practice software written in JavaScript drives the gateway with Node's built-in fetch (no npm
// dependency): open a contact, insurability, tariff, build and send an invoice, poll until settled,
// verify the audit trail. Prints one JSON line the Python test checks.
// Usage: GATEWAY_URL=http://127.0.0.1:8741 GATEWAY_TOKEN=mcdg_... node e2e.mjs PATIENT INVOICE_NUMBER
const base = process.env.GATEWAY_URL;
const token = process.env.GATEWAY_TOKEN;
const [patient, invoiceNumber] = process.argv.slice(2);

async function call(method, path, body, extraHeaders = {}) {
  const response = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...extraHeaders },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) {
    throw new Error(`${method} ${path} -> ${response.status} ${JSON.stringify(data)}`);
  }
  return data;
}

const contact = await call("POST", "/contacts", { patient });
const insurability = await call("POST", "/insurability", { patient, contact_id: contact.id });
const tariff = await call("POST", "/tariff", { patient, services: ["301011"], contact_id: contact.id });
const line = tariff.lines[0];
const today = new Date().toISOString().slice(0, 10);
const invoice = {  // the JSON invoice format: the billing model's names (GET /openapi.json, `billing schema`)
  number: Number(invoiceNumber), patient_id: patient, sex: insurability.patient.sex,
  mutuality: tariff.insured.mutuality, ct1: tariff.insured.ct1, ct2: tariff.insured.ct2,
  lines: [{ code: line.code, date: today, reimbursement: line.reimbursement_cents, patient_share: line.patient_share_cents ?? 0 }],
};
const key = `invoice-${invoiceNumber}-${Date.now()}`;
const built = await call("POST", "/billing/sendings", { invoices: [invoice], send: true }, { "Idempotency-Key": key });
const again = await call("POST", "/billing/sendings", { invoices: [invoice], send: true }, { "Idempotency-Key": key });
const sending = built.sendings[0];
let state = sending.state;
let polls = 0;
while (!["settled", "refused"].includes(state) && polls < 20) {
  await call("POST", "/billing/poll");
  state = (await call("GET", `/billing/sendings/${sending.id}`)).state;
  polls += 1;
}
const lines = await call("GET", `/billing/sendings/${sending.id}/lines`);
const audit = await call("GET", "/audit/verify");
console.log(JSON.stringify({
  contact: contact.id, union: insurability.union, priced: line.status, refused_lines: built.refused_lines.length,
  sending: sending.id, replayed_same: JSON.stringify(again) === JSON.stringify(built), state, polls,
  line_states: lines.map((l) => l.state), audit_ok: audit.ok, audit_rows: audit.rows,
}));
