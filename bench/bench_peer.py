"""The project against the peer stack a vendor would otherwise use: zeep + python-xmlsec + requests.

Same body, same RSA-2048 key, same SAML assertion; both sides talk HTTPS keep-alive to one echo server
(``echo_server.py``, its own process) answering a recorded simulator answer, so the simulator's cost is
in neither figure. Before timing, each side's verifier must accept the other's envelope and both must
read the same lines and amounts. Figures: client process CPU per call, best of 3 interleaved rounds
of 200 calls each; printed with their ratio and target (``bench_peer.<figure>``).

* ``sign_verify`` — WS-Security HoK sign + verify: ours vs python-xmlsec, in their own interleaved rounds
  (target <= 0.70); ``sign_verify_among_calls`` — the same two interleaved with the calls below (shown);
* ``bare_call`` — ``TariffClient.send`` vs zeep from the official WSDL (target <= 0.70), and vs a lean
  requests + xmlsec client (shown, no target);
* ``full_consultation`` — ``consult_tariff`` with contact, rules, audit and log vs the zeep bare call
  (target <= 0.90). The contacts are opened before each round (opening one is not the consultation).

The peer rows are skipped, with a line saying so, when the ``[bench]`` extra is not installed.
Run: ``.venv/bin/python bench/bench_peer.py [calls]``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVICES = ["301011", "302153:36", "304415:46"]
TARGETS = {"sign_verify": 0.70, "bare_call": 0.70, "full_consultation": 0.90}


def _takes_contact_id() -> bool:
    import inspect

    from mycarenet_dental_tariff.client import consult_tariff

    return "contact_id" in inspect.signature(consult_tariff).parameters


_TAKES_CONTACT_ID = _takes_contact_id()


def peer_missing() -> list[str]:
    return [name for name in ("zeep", "xmlsec") if importlib.util.find_spec(name) is None]


def best_cpu(fns: dict[str, Callable[[], Any]], n: int, *, rounds: int = 3, chunk: int = 10,
             before_round: Callable[[], None] | None = None) -> dict[str, float]:
    """Process CPU seconds per call of each function, best of ``rounds`` rounds of ``n`` calls.

    A round interleaves the functions ``chunk`` calls at a time, so a burst of load from the other
    tenants of the machine falls on every side alike instead of on whichever was running.
    """
    for fn in fns.values():
        for _ in range(3):
            fn()  # warm-up: token, pools, schemas, lazy imports
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        if before_round is not None:
            before_round()
        spent = dict.fromkeys(fns, 0.0)
        for _ in range(max(1, n // chunk)):
            for name, fn in fns.items():
                start = time.process_time()
                for _ in range(chunk):
                    fn()
                spent[name] += time.process_time() - start
        for name in fns:
            best[name] = min(best[name], spent[name] / (max(1, n // chunk) * chunk))
    return best


def _record_answer(env: Any, workdir: Path) -> Path:
    """One real simulator answer to a tariff consultation, kept for the echo server."""
    from mycarenet_dental_tariff.client import TariffClient, make_query

    ctx = env.context(tables={"tariff": {"max_per_minute": 10**9}})
    query = make_query(_patient(), SERVICES, service_date=ctx.now().date())
    recorded: dict[str, bytes] = {}
    real_call = ctx.soap.call

    def call(*args: Any, **kwargs: Any) -> Any:
        reply = real_call(*args, **kwargs)
        recorded["raw"] = reply.raw
        return reply

    ctx.soap.call = call  # type: ignore[method-assign]
    TariffClient(ctx).send(query, ctx.new_exchange("tariff", "TarificationConsultation", patient=query.patient_key))
    ctx.close()
    path = workdir / "recorded-answer.xml"
    path.write_bytes(recorded["raw"])
    return path


def _patient() -> str:
    from mycarenet_dental.sim.population import base_population

    return base_population()[0].ssin


def _start_echo(workdir: Path, answer: Path) -> tuple[subprocess.Popen[str], str]:
    from mycarenet_dental.sim.cli import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "echo_server.py"), str(port), str(workdir / "tls.pem"),
                             str(workdir / "tls-key.pem"), str(answer)], stdout=subprocess.PIPE, text=True)
    if proc.stdout is None or proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("the echo server did not start")
    return proc, f"https://127.0.0.1:{port}/MyCareNet/Tarification/v1"


class Sides:
    """Everything both sides need, built once: our context on the echo server, the peer's keys."""

    def __init__(self, env: Any, echo_url: str, with_peer: bool) -> None:
        from cryptography.hazmat.primitives import serialization
        from mycarenet_dental_tariff.client import TariffClient, make_query

        base = env.context()
        # as in production: Tarification answers carry no XAdES (tariff.md §3), verified when present
        security = {**base.config.section("security"), "answer_xades": {"tariff": "when-present"}}
        base.close()
        self.ctx = env.context(tables={"tariff": {"max_per_minute": 10**9, "tarification_url": echo_url},
                                       "security": security})
        self.client = TariffClient(self.ctx)
        self.query = make_query(_patient(), SERVICES, service_date=self.ctx.now().date())
        self.exchange = self.ctx.new_exchange("tariff", "TarificationConsultation", patient=self.query.patient_key)
        self.hok = self.ctx.security.hok()
        self.body, _, _ = self.client.build(self.query, self.exchange)
        self.echo_url = echo_url
        self.ca_file = self.ctx.config.endpoints.ca_file
        self.contacts: list[Any] = []
        if not with_peer:
            return
        import peer_stack

        entry = self.ctx.security.keystore.authentication
        key_pem = entry.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption())
        cert_pem = entry.certificate.public_bytes(serialization.Encoding.PEM)
        from mycarenet_dental.ehealth.wssecurity import standalone_assertion_bytes

        self.wsse = peer_stack.XmlsecHok(key_pem, cert_pem, standalone_assertion_bytes(self.hok.token.raw),
                                         self.hok.token.assertion_id)

    # -- ours ----------------------------------------------------------------------------------
    def our_sign_verify(self) -> None:
        from mycarenet_dental.ehealth import wss_verify
        from mycarenet_dental.ehealth.transport import envelope_for
        from mycarenet_dental.xmlsafe import parse_xml

        data = self.hok.apply(envelope_for(self.body))
        wss_verify.check(parse_xml(data), policy=wss_verify.WssPolicy.holder_of_key(), now=datetime.now(timezone.utc))

    def our_bare_call(self) -> list[tuple[Any, ...]]:
        result = self.client.send(self.query, self.exchange)
        return [(x.code, x.tooth, x.fee_cents, x.reimbursement_cents, x.patient_share_cents) for x in result.lines]

    def open_contacts(self, n: int) -> None:
        dentist = self.ctx.responsible().id
        self.contacts = [self.ctx.contacts.open(self.query.patient_key, dentist=dentist, user_id=self.ctx.user_id)
                         for _ in range(n)]

    def our_full_consultation(self) -> None:
        from mycarenet_dental_tariff.client import consult_tariff

        if not self.contacts:
            self.open_contacts(1)
        contact = self.contacts.pop()
        if _TAKES_CONTACT_ID:
            result = consult_tariff(self.ctx, self.query.patient_key, SERVICES, contact_id=contact.id)
        else:  # the vendor API that takes the Contact itself
            result = consult_tariff(self.ctx, contact, SERVICES)
        assert len(result.lines) == 3 and all(line.priced for line in result.lines) and not result.from_contact

    # -- the peer --------------------------------------------------------------------------------
    def peer_blob(self) -> tuple[str, bytes]:
        """A fresh InputReference and the KMEHR request naming it (built as ours is, on both sides)."""
        from mycarenet_dental.protocols import commons, kmehr
        from mycarenet_dental_tariff.client import build_kmehr_request

        ref = commons.new_input_reference(digits_only=True)
        nihii = self.ctx.config.require_dentist().nihii
        request = build_kmehr_request(self.query, author=self.client.author(), now=self.ctx.now(),
                                      request_id=kmehr.request_id_for(nihii, ref))
        return ref, kmehr.to_bytes(kmehr.build_request(request))


def _zeep_values(body: Any) -> dict[str, Any]:
    """The request's values as zeep takes them (read from our body once: the same licence, dentist, patient)."""
    def text(path: str) -> str:
        found = body.findtext(path)
        assert found is not None, path
        return found

    return {
        "common_input": {
            "Request": {"IsTest": text(".//{*}Request/{*}IsTest") == "true"},
            "Origin": {
                "Package": {"Name": text(".//{*}Package/{*}Name"),
                            "License": {"Username": text(".//{*}License/{*}Username"),
                                        "Password": text(".//{*}License/{*}Password")}},
                "CareProvider": {
                    "Nihii": {"Quality": "dentist", "Value": text(".//{*}CareProvider/{*}Nihii/{*}Value")},
                    "PhysicalPerson": {"Name": text(".//{*}PhysicalPerson/{*}Name"),
                                       "Nihii": {"Quality": "dentist",
                                                 "Value": text(".//{*}PhysicalPerson/{*}Nihii/{*}Value")},
                                       "Ssin": text(".//{*}PhysicalPerson/{*}Ssin")}},
            },
            "InputReference": None,
        },
        "routing": {"CareReceiver": {"Ssin": text(".//{*}Routing/{*}CareReceiver/{*}Ssin")},
                    "ReferenceDate": text(".//{*}Routing/{*}ReferenceDate")},
    }


def _lean_body(template: Any, ref: str, blob: bytes) -> Any:
    import base64
    import copy
    import uuid

    body = copy.deepcopy(template)
    body.set("Id", "_" + uuid.uuid4().hex)
    body.find(".//{*}CommonInput/{*}InputReference").text = ref
    body.find("{*}Detail").text = base64.b64encode(blob).decode()
    return body


def cross_check(sides: Sides, zeep_call: Callable[[], Any], lean_call: Callable[[], Any]) -> None:
    """Each side's verifier accepts the other's envelope; all three read the same lines and amounts."""
    from mycarenet_dental.ehealth import wss_verify
    from mycarenet_dental.ehealth.transport import envelope_for
    from mycarenet_dental.sim.sts import SimTrust
    from mycarenet_dental.sim.wss_check import check_service_request
    from mycarenet_dental.xmlsafe import parse_xml

    theirs = sides.wsse.sign_bytes(sides.body)
    now = datetime.now(timezone.utc)
    wss_verify.check(parse_xml(theirs), policy=wss_verify.WssPolicy.holder_of_key(), now=now)
    check_service_request(theirs, trust=SimTrust.load(sides.ctx.config.endpoints.ca_file.parent), now=now)
    sides.wsse.verify_bytes(sides.hok.apply(envelope_for(sides.body)))
    ours, by_zeep, by_lean = sides.our_bare_call(), zeep_call(), lean_call()
    if not (ours == by_zeep == by_lean) or len(ours) != len(SERVICES):
        raise SystemExit(f"the sides read different answers: ours {ours}, zeep {by_zeep}, lean {by_lean}")
    print(f"bench_peer.cross_check: ok — each verifier accepts the other's envelope (ours also runs the insurer's "
          f"full check on xmlsec's); all read {len(ours)} lines with the same amounts", flush=True)


def _row(name: str, ours: float, peer: float | None, peer_name: str, target: float | None) -> str:
    if peer is None:
        return f"bench_peer.{name}: ours {ours * 1000:.2f} ms CPU per call (peer skipped)"
    ratio = ours / peer
    verdict = "" if target is None else f" (target <= {target:.2f}: {'met' if ratio <= target else 'NOT met'})"
    return (f"bench_peer.{name}: {ratio:.2f}x{verdict} — ours {ours * 1000:.2f} ms, {peer_name} {peer * 1000:.2f} ms "
            "CPU per call")


def run(env: Any, workdir: Path, n: int) -> None:
    missing = peer_missing()
    if missing:
        print(f"bench_peer: peer rows SKIPPED — {', '.join(missing)} not installed (the [bench] extra: "
              "pip install -e '.[bench]', or `make bench`, which installs it)", flush=True)
    answer = _record_answer(env, workdir)
    echo, url = _start_echo(workdir, answer)
    try:
        sides = Sides(env, url, with_peer=not missing)
        fns: dict[str, Callable[[], Any]] = {"our_sign_verify": sides.our_sign_verify,
                                             "our_bare_call": sides.our_bare_call,
                                             "our_full": sides.our_full_consultation}
        if not missing:
            import peer_stack

            service = peer_stack.zeep_client(_shared_xsd(), url, sides.ca_file, sides.wsse)
            values = _zeep_values(sides.body)
            lean = peer_stack.LeanClient(url, sides.ca_file, sides.wsse,
                                         "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult")

            def zeep_call() -> Any:
                ref, blob = sides.peer_blob()
                values["common_input"]["InputReference"] = ref
                return peer_stack.zeep_call(service, values, blob)

            def lean_call() -> Any:
                ref, blob = sides.peer_blob()
                return lean.call(_lean_body(sides.body, ref, blob))

            def xmlsec_sign_verify() -> None:
                sides.wsse.verify_bytes(sides.wsse.sign_bytes(sides.body))

            cross_check(sides, zeep_call, lean_call)
            fns.update({"xmlsec_sign_verify": xmlsec_sign_verify, "zeep_call": zeep_call, "lean_call": lean_call})
        # (a) in its own interleaved rounds, ours against xmlsec only: what the two signature stacks cost. Also shown
        # interleaved with the whole calls (informative): there each chunk starts with caches the calls evicted.
        signing = {name: fn for name, fn in fns.items() if name.endswith("sign_verify")}
        t_sign = best_cpu(signing, n)
        t = best_cpu(fns, n, before_round=lambda: sides.open_contacts(n + 3))
        sides.ctx.close()
    finally:
        echo.terminate()
        echo.wait(10)
    get = t.get
    print(_row("sign_verify", t_sign["our_sign_verify"], t_sign.get("xmlsec_sign_verify"), "xmlsec",
               TARGETS["sign_verify"]))
    print(_row("sign_verify_among_calls", t["our_sign_verify"], get("xmlsec_sign_verify"), "xmlsec", None))
    print(_row("bare_call", t["our_bare_call"], get("zeep_call"), "zeep", TARGETS["bare_call"]))
    print(_row("bare_call_vs_lean", t["our_bare_call"], get("lean_call"), "requests+xmlsec", None))
    print(_row("full_consultation", t["our_full"], get("zeep_call"), "zeep bare call", TARGETS["full_consultation"]))


def _shared_xsd() -> Path:
    from mycarenet_dental.shared_folder import shared_dir

    found = shared_dir()
    if found is None:
        raise SystemExit("bench_peer: ../shared/xsd (the official Tarification WSDL) is not present")
    return found / "xsd"


def main() -> None:
    from mycarenet_dental.sim.testing import SimEnv

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        env = SimEnv.start_process(Path(tmp))  # STS and ETK depot; the tariff calls go to the echo server
        try:
            run(env, Path(tmp), n)
        finally:
            env.stop()


if __name__ == "__main__":
    main()
