"""The insurer side of eFact in the simulator: MyCareNet GenericAsync ``hcpfac`` (``efact.md`` §5).

``post`` is checked as the real platform does — WS-Security (holder-of-key signature over the
Timestamp), the licence, the care provider against the token, the schema, WS-Addressing, the Blob
(``HCPFAC``, ``text/plain``, deflate), the XAdES over it — and answered with a TAck whose value is
HMAC-SHA256(key = ResultMajor, data = inflated file). The file is then validated record by record
with the format's own validator (the insurers' catalogue codes) and against the simulator's
population (unknown patient, patient of another union, not insured on the service date), and the
insurer's answers are queued in the care provider's mailbox: 931000, then 920999 | 920099 |
920098, then 920900 with the paid amounts and a payment reference per mutuality.

``get`` returns the mailbox in FIFO order without removing anything; ``confirm`` removes by hash,
TAck content or reference (unknown values ignored). Unconfirmed items are delivered again.

Switches (``request.state.switches.extra``), for the outbox tests:

* ``billing.drop``: ``{"post": n, "get": n, "confirm": n}`` — process the next n calls but lose the
  answer (HTTP 504, empty body);
* ``billing.delay_polls``: each answer appears only after that many further ``get`` calls;
* ``billing.answer_twice``: every insurer message is queued twice (same content, two references);
* ``billing.require_xades`` (default: on when the security layer has XAdES);
* ``billing.refusal_threshold_pct`` (default 5): refused lines above it refuse the sending (920099);
* ``billing.throttle``: the next n ``get`` calls are refused with the "Not enough time" fault;
* ``billing.async_tack`` (default on): queue an asynchronous delivery TAck for each post;
* ``billing.mtom``: ``get`` answers in MTOM/XOP (``multipart/related``), each message's Blob a binary
  MIME part referenced by ``xop:Include``, as real deployments do above the connector's XOP threshold;
* ``billing.platform_dedupe`` (default on): the platform recognises a re-post of the same file under
  the same InputReference; off, the insurer sees it and refuses it as a duplicate (920999, 3011 = 40).
* ``billing.journal`` (a file path): the insurer is durable, as the real one is -- every file taken in,
  every post seen again and every confirmation is appended to this JSON-lines journal before the
  answer leaves, and a simulator started on an existing journal replays it (its mailboxes, files and
  counters), so it can be killed with ``kill -9`` and restarted; the journal is also what a test reads
  to count, across restarts, the posts and invoices the insurer took in.

Counters: ``billing.receipts:<input reference>`` and ``billing.invoice_receipts:<third party>:<invoice>``
count files and invoices the insurer took in for processing (a re-post of the same file is
recognised and not counted), so tests can prove exactly-once delivery.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs
from mycarenet_dental.ehealth import mtom
from mycarenet_dental.sim.app import SimRequest, SimResponse
from mycarenet_dental.sim.hookspec import hookimpl as sim_hookimpl
from mycarenet_dental.sim.registrations import DemoStep, SimulatorRoute

from .genasync import (
    ACTION_CONFIRM,
    ACTION_GET,
    ACTION_POST,
    APPLIES_TO_PREFIX,
    DESTINATION_PREFIX,
    MESSAGE_NAME,
    NS_GA,
    NS_WSA,
    TACK_FAILURE,
    TACK_SUCCESS,
    cm,
    ga,
    inflate,
    sha256_b64,
)

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context

DEFAULT_PATH = "/mycarenet-ws/async/generic/hcpfac"
ENV_PATH = "MYCARENET_DENTAL_BILLING_SIM_PATH"


def sim_path() -> str:
    return os.environ.get(ENV_PATH, DEFAULT_PATH)


ISSUER = "urn:nip:issuer:io:mycarenet"  # UNSURE: issuer of the synchronous TAck (efact.md §1.5)
# UNSURE: which of HCPFAC/HCPAFD/HCPVWR carries which answer (efact.md §1.9); configurable mapping.
MESSAGE_NAMES = {"931000": "HCPFAC", "920999": "HCPVWR", "920099": "HCPVWR", "920098": "HCPFAC",
                 "920900": "HCPAFD"}
INSURER_CONTACT = ("HELPDESK ELECFAC SIM", "MYCARENET", "0800123456")


@attrs.define
class MailItem:
    kind: str  # message | tack
    input_reference: str
    reference: str
    visible_from: int
    message_name: str = ""
    content: bytes = b""
    hash_value: str = ""
    tack_value: str = ""
    tack_major: str = TACK_SUCCESS
    nip_reference: str = ""


@attrs.define
class Mailbox:
    items: list[MailItem] = attrs.field(factory=list)
    gets: int = 0


@attrs.define
class BillingSimState:
    """Per-simulator eFact state: mailboxes per care provider, files taken in, posts seen."""

    mailboxes: dict[str, Mailbox] = attrs.field(factory=dict)
    files: dict[tuple[str, int, int], str] = attrs.field(factory=dict)  # (third party, year, number) -> hash
    posts: dict[tuple[str, str], tuple[str, str]] = attrs.field(factory=dict)  # (nihii, input ref) -> (hash, tack)
    counter: int = 0
    journal: str | None = None  # the durable journal (``billing.journal``), None: memory only

    def mailbox(self, nihii: str) -> Mailbox:
        return self.mailboxes.setdefault(nihii, Mailbox())

    def next_reference(self) -> str:
        self.counter += 1
        return f"{self.counter:014d}"


def _state(request: SimRequest) -> BillingSimState:
    return request.state.state_for("billing", lambda: _durable_state(request))


def _durable_state(request: SimRequest) -> BillingSimState:
    """A new state, replayed from the journal when ``billing.journal`` names one (a restarted insurer)."""
    from .simulator_journal import replay

    path = _switch(request, "journal")
    state = BillingSimState(journal=str(path) if path else None)
    if path:
        replay(state, path, request.state.count)
    return state


def _switch(request: SimRequest, name: str, default: Any = None) -> Any:
    return request.state.switches.extra.get(f"billing.{name}", default)


def _drop(request: SimRequest, op: str) -> bool:
    drops = _switch(request, "drop")
    if not isinstance(drops, dict) or not drops.get(op):
        return False
    with request.state.lock:
        drops[op] = int(drops[op]) - 1
    request.state.count(f"billing.dropped:{op}")
    return True


def _lost() -> SimResponse:
    return SimResponse(b"", status=504, content_type="text/plain")


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


# --- the handler ---------------------------------------------------------------------------------


def handle(request: SimRequest) -> SimResponse:
    action = request.soap_action
    caller = request.check_security(timestamp_only=True)
    body = request.body_element
    if body is None:
        return request.fault("SOA-03003", "Message body is empty")
    from mycarenet_dental.sim import schemas

    errors = schemas.validate("genasync", body)
    if errors:
        return request.fault("SOA-03006", "Message must be XSD conformant: " + errors[0])
    wsa_action = _header(request, "Action")
    if wsa_action is not None and wsa_action != action:
        return request.fault("SOA-03005", f"wsa:Action {wsa_action} differs from the SOAPAction {action}")
    origin = body.find(ga("CommonInput") + "/" + cm("Origin")) if action == ACTION_POST else body.find(ga("Origin"))
    if origin is None:
        return request.fault("SOA-03006", "no Origin")
    user = origin.findtext(f"{cm('Package')}/{cm('License')}/{cm('Username')}")
    password = origin.findtext(f"{cm('Package')}/{cm('License')}/{cm('Password')}")
    if not request.state.check_licence(user, password):
        return request.fault("INVALID_LICENSE", "The package licence is not valid")
    nihii = (origin.findtext(f"{cm('CareProvider')}/{cm('Nihii')}/{cm('Value')}") or "").strip()
    if not nihii:
        return request.fault("SOA-03006", "Origin/CareProvider/Nihii/Value is required for eFact")
    from mycarenet_dental.sim.authz import authorize_care_provider

    # The caller is the care provider, or a mandatary with a billing mandate in MyCareNet's register.
    authorize_care_provider(request, care_provider=nihii, service="billing", caller=caller)
    if action == ACTION_POST:
        return _post(request, body, nihii)
    if action == ACTION_GET:
        return _get(request, body, nihii)
    if action == ACTION_CONFIRM:
        return _confirm(request, body, nihii)
    return request.fault("SOA-03005", f"unknown SOAPAction {action!r}")


def _header(request: SimRequest, name: str) -> str | None:
    for child in request.envelope:
        if isinstance(child.tag, str) and child.tag.endswith("}Header"):
            el = child.find(f"{{{NS_WSA}}}{name}")
            if el is not None:
                return (el.text or "").strip()
    return None


def _tack_element(tack: MailItem, *, tag: str) -> Any:
    from lxml import etree

    el = etree.Element(tag, nsmap={"ga": NS_GA})
    el.set("Issuer", ISSUER)
    el.set("AppliesTo", APPLIES_TO_PREFIX + tack.input_reference)
    el.set("ResultMajor", tack.tack_major)
    el.set("Reference", tack.reference)
    el.set("Id", "tack-" + tack.reference)
    el.text = tack.tack_value
    return el


def _tack_value(major: str, content: bytes) -> str:
    return base64.b64encode(hmac.new(major.encode("utf-8"), content, hashlib.sha256).digest()).decode("ascii")


def _post_answer(request: SimRequest, state: BillingSimState, input_reference: str, major: str, content: bytes,
                 message: str | None = None) -> SimResponse:
    from lxml import etree

    tack = MailItem(kind="tack", input_reference=input_reference, reference=state.next_reference(), visible_from=0,
                    tack_value=_tack_value(major, content), tack_major=major)
    response = etree.Element(ga("postResponse"), nsmap={"ga": NS_GA})
    ret = _tack_element(tack, tag=ga("return"))
    if message:
        ret.set("ResultMessage", message)
    response.append(ret)
    return request.soap_response(response)


def _post(request: SimRequest, body: Any, nihii: str) -> SimResponse:
    state = _state(request)
    input_reference = (body.findtext(f"{ga('CommonInput')}/{cm('InputReference')}") or "").strip()
    is_test = (body.findtext(f"{ga('CommonInput')}/{cm('Request')}/{cm('IsTest')}") or "").strip() == "true"
    detail = body.find(ga("Detail"))
    if not input_reference:
        return request.fault("SOA-03006", "CommonInput/InputReference is required for eFact")
    if detail.get("MessageName") != MESSAGE_NAME or detail.get("ContentType") != "text/plain":
        return _post_answer(request, state, input_reference, TACK_FAILURE, b"",
                            "Detail must be a text/plain Blob named HCPFAC")
    try:
        blob = base64.b64decode("".join((detail.text or "").split()))
        content = inflate(blob)
    except Exception:  # noqa: BLE001 - any undecodable Blob is refused the same way
        return _post_answer(request, state, input_reference, TACK_FAILURE, b"", "the Blob cannot be inflated")
    problem = _check_xades(request, body, blob)
    if problem:
        return _post_answer(request, state, input_reference, TACK_FAILURE, content, problem)
    to = _header(request, "To") or ""
    federation = _federation_of(content)
    if not to.startswith(DESTINATION_PREFIX) or (federation and to[len(DESTINATION_PREFIX):] != federation):
        return _post_answer(request, state, input_reference, TACK_FAILURE, content,
                            f"wsa:To {to!r} does not name the union of the file ({federation})")
    digest = hashlib.sha256(content).hexdigest()
    with request.state.lock:
        seen = state.posts.get((nihii, input_reference))
        if seen is not None and seen[0] == digest and _switch(request, "platform_dedupe", True):
            # the same file under the same InputReference: the platform already has it (idempotent)
            request.state.count("billing.duplicate_posts")
            answer = _post_answer(request, state, input_reference, TACK_SUCCESS, content)
            _journal(state, {"op": "again", "nihii": nihii, "ref": input_reference})
        else:
            answer = _post_answer(request, state, input_reference, TACK_SUCCESS, content)
            state.posts[(nihii, input_reference)] = (digest, "")
            box = state.mailbox(nihii)
            before, files = len(box.items), set(state.files)
            counted = _take_in(request, state, nihii, input_reference, content, is_test)
            _journal(state, {"op": "post", "nihii": nihii, "ref": input_reference, "digest": digest,
                             "items": box.items[before:], "files": [k for k in state.files if k not in files],
                             "counts": counted, "counter": state.counter})
    if _drop(request, "post"):
        return _lost()
    return answer


def _check_xades(request: SimRequest, body: Any, blob: bytes) -> str | None:
    """XAdES-BES over the Blob: verifies, chains to the simulator CA, signed by the authenticated caller."""
    xades_el = body.find(ga("Xades-t"))
    try:
        from mycarenet_dental.ehealth import xades
    except ImportError:
        xades = None
    required = _switch(request, "require_xades", xades is not None)
    if xades_el is None or not (xades_el.text or "").strip():
        return "the Xades-t signature over the Blob is missing" if required else None
    if xades is None:
        return None  # stored, not verified (efact.md §1.4: a simulator may skip verification)
    try:
        signature = base64.b64decode("".join(xades_el.text.split()))
        check = xades.verify_blob(blob, signature, trust=[request.state.trust.ca_cert])
    except Exception as exc:  # noqa: BLE001 - any verification failure refuses the post
        return f"the Xades-t signature does not verify: {str(exc)[:160]}"
    caller = request.caller
    if caller is not None and check.signer_certificate != caller.certificate:
        return "the Xades-t is not signed by the authenticated care provider"
    return None


def _federation_of(content: bytes) -> str | None:
    """The union of a 920000 from its record 96 (``x99``) — None when unreadable."""
    text = content.decode("latin-1")
    if len(text) >= 227 + 350 and text[-350:-348] == "96":
        code = text[-350 + 4:-350 + 7]
        if code.isdigit():
            return code[0] + "00"
    return None


def _get(request: SimRequest, body: Any, nihii: str) -> SimResponse:
    from lxml import etree

    state = _state(request)
    msg_query = body.find(ga("MsgQuery"))
    tack_query = body.find(ga("TAckQuery"))

    def query(q: Any) -> tuple[bool, int]:
        if q is None:
            return False, 0
        include = (q.get("Include") or "true").strip() in ("true", "1")
        return include, int(q.findtext(ga("Max")) or 100)

    throttle = _switch(request, "throttle")
    if isinstance(throttle, int) and throttle > 0:
        request.state.switches.extra["billing.throttle"] = throttle - 1
        return request.fault("SOA-02002", "Not enough time between two get calls; try again later")
    msg_include, msg_max = query(msg_query)
    tack_include, tack_max = query(tack_query)
    names = set((msg_query.findtext(ga("MessageNames")) or "").split()) if msg_query is not None else set()
    mtom_on = bool(_switch(request, "mtom", False))
    attachments: dict[str, bytes] = {}
    with request.state.lock:
        box = state.mailbox(nihii)
        box.gets += 1
        visible = [i for i in box.items if i.visible_from <= box.gets]
        messages = [i for i in visible if i.kind == "message" and (not names or i.message_name in names)]
        tacks = [i for i in visible if i.kind == "tack"]
        messages = messages[:msg_max] if msg_include else []
        tacks = tacks[:tack_max] if tack_include else []
    response = etree.Element(ga("getResponse"), nsmap={"ga": NS_GA, "common": "urn:be:cin:mycarenet:esb:common:v2"})
    ret = etree.SubElement(response, ga("return"))
    ret.set("MsgCount", str(len(messages)))
    ret.set("TAckCount", str(len(tacks)))
    for item in messages:
        m = etree.SubElement(ret, ga("MsgResponse"))
        out = etree.SubElement(m, ga("CommonOutput"))
        etree.SubElement(out, cm("InputReference")).text = item.input_reference
        etree.SubElement(out, cm("NIPReference")).text = item.nip_reference
        etree.SubElement(out, cm("OutputReference")).text = item.reference
        detail = etree.SubElement(m, ga("Detail"))
        detail.set("ContentEncoding", "deflate")
        detail.set("ContentType", "text/plain")
        detail.set("MessageName", item.message_name)
        detail.set("HashValue", item.hash_value)
        detail.set("Reference", item.reference)
        detail.set("Id", "msg-" + item.reference)
        from .genasync import deflate_raw

        payload = deflate_raw(item.content)
        if mtom_on:
            cid = f"msg-{item.reference}@mycarenet.sim"
            attachments[cid] = payload
            etree.SubElement(detail, f"{{{mtom.NS_XOP}}}Include", nsmap={"xop": mtom.NS_XOP}).set("href", f"cid:{cid}")
        else:
            detail.text = base64.b64encode(payload).decode("ascii")
        etree.SubElement(m, ga("Xades-t")).text = _xades(request, payload, "msg-" + item.reference)
    for item in tacks:
        t = etree.SubElement(ret, ga("TAckResponse"))
        tack_el = _tack_element(item, tag=ga("TAck"))
        t.append(tack_el)
        etree.SubElement(t, ga("Xades-t")).text = _xades(request, "".join((tack_el.text or "").split()).encode("ascii"),
                                                         tack_el.get("Id") or "tack")
    request.state.count("billing.gets")
    if _drop(request, "get"):
        return _lost()
    answer = request.soap_response(response)
    if not mtom_on:
        return answer
    request.state.count("billing.gets_mtom")
    content_type, body = mtom.pack(answer.body, attachments)
    return SimResponse(body, content_type=content_type)


def _xades(request: SimRequest, signed: bytes, blob_id: str) -> str:
    """The Xades-t of a get answer part, signed with MyCareNet's key (UNSURE: XAdES-BES; the real insurers add
    a RFC 3161 timestamp — XAdES-T — from a TSA the simulator does not run)."""
    from mycarenet_dental.ehealth import xades

    signature = xades.sign_blob(signed, key=request.state.trust.answer_signer(), blob_id=blob_id,
                                content_type="text/plain", now=request.state.now())
    return base64.b64encode(signature).decode("ascii")


def _confirm(request: SimRequest, body: Any, nihii: str) -> SimResponse:
    from lxml import etree

    state = _state(request)

    def values(tag: str) -> set[str]:
        return set((body.findtext(ga(tag)) or "").split())

    hashes, msg_refs = values("MsgHashValues"), values("MsgRefValues")
    tack_contents, tack_refs = values("TAckContents"), values("TAckReferences")
    with request.state.lock:
        box = state.mailbox(nihii)
        before = len(box.items)
        kept = [i for i in box.items if not (
            (i.kind == "message" and (i.hash_value in hashes or i.reference in msg_refs))
            or (i.kind == "tack" and (i.tack_value in tack_contents or i.reference in tack_refs)))]
        if len(kept) < before:
            gone = {i.reference for i in kept}
            _journal(state, {"op": "confirm", "nihii": nihii,
                             "refs": [i.reference for i in box.items if i.reference not in gone]})
        box.items = kept
        request.state.count("billing.confirmed", before - len(box.items))
    if _drop(request, "confirm"):
        return _lost()
    return request.soap_response(etree.Element(ga("confirmResponse"), nsmap={"ga": NS_GA}))


# --- taking a file in: validation and the insurer's answers ----------------------------------------


@attrs.frozen
class _Problem:
    letter: str
    code: str
    index: int  # record index in the file (0 = S200, 1 = S300, 2… records)
    comment: str = ""


def _journal(state: BillingSimState, event: dict[str, Any]) -> None:
    if state.journal:
        from .simulator_journal import append

        append(state.journal, event)


def _take_in(request: SimRequest, state: BillingSimState, nihii: str, input_reference: str, content: bytes,
             is_test: bool) -> list[str]:
    """Validate the file and queue the insurer's answers in the care provider's mailbox.

    Long because: the insurer's checks of a received file in the order efact.md gives them, each leading to
    its own answer (920999, 920099, 931000 + 920098); the order decides which answer the care provider gets
    and is easiest to check read straight through. Returns the counters it counted (for the journal).
    """
    from .efact import response_writer as rw
    from .efact.reader import EfactFormatError, EfactReader
    from .efact.responses import Rejection

    box = state.mailbox(nihii)
    delay = int(_switch(request, "delay_polls", 0) or 0)
    visible = box.gets + 1 + delay
    if _switch(request, "async_tack", True):  # the asynchronous TAck: delivery to the insurer succeeded
        box.items.append(MailItem(kind="tack", input_reference=input_reference, reference=state.next_reference(),
                                  visible_from=box.gets + 1,
                                  tack_value=_tack_value(TACK_SUCCESS, content + f"#{state.counter}".encode()),
                                  tack_major=TACK_SUCCESS))
    try:
        records = [(r.kind, r.text) for r in EfactReader(content)]
    except EfactFormatError:
        records = []
    answers: list[bytes] = []
    counted: list[str] = []
    today = request.state.now().date()
    insurer_ref = int(state.next_reference())
    if len(records) < 4:
        # UNSURE: an unreadable file has no segments to echo; the platform answers a failure TAck instead.
        box.items.append(MailItem(kind="tack", input_reference=input_reference, reference=state.next_reference(),
                                  visible_from=box.gets + 1, tack_value=_tack_value(TACK_FAILURE, content),
                                  tack_major=TACK_FAILURE))
        return []
    answers.append(rw.response_to_bytes(rw.acknowledge(content, insurer_ref)))
    key = _duplicate_key(records)
    digest = hashlib.sha256(content).hexdigest()
    file_test = records[0][1][12:14]
    if (is_test and file_test == "12") or (not is_test and file_test == "92"):
        # IsTest and S200 zone 202 disagree: 30 test message in production, 31 production message in test
        answers.append(rw.response_to_bytes(rw.refuse_file(content, insurer_ref + 1,
                                                           header_errors={"2021": "31" if is_test else "30"})))
    elif key in state.files:
        # a second file with the same (third party, year, sending number): 100721 / 3011 = 40
        answers.append(rw.response_to_bytes(rw.refuse_file(content, insurer_ref + 1, segment300_errors={"3011": "40"})))
    else:
        state.files[key] = digest
        counted += [f"billing.receipts:{input_reference}"]
        counted += [f"billing.invoice_receipts:{key[0]}:{int(t[114:126])}" for k, t in records if k == "20"]
        for name in counted:
            request.state.count(name)
        problems = _problems(request, records, content, today)
        header = [p for p in problems if p.letter == "B" and records[p.index][0] in ("200", "300", "95", "96")]
        blocking = [p for p in problems if p.letter == "B"]
        threshold = float(_switch(request, "refusal_threshold_pct", 5))
        refused_idx = _refused_lines(records, problems)
        lines = sum(1 for k, _ in records if k == "50")
        pct = 100.0 * len(refused_idx) / lines if lines else 0.0
        rejections: dict[int, list[Rejection]] = {}
        for p in problems:
            kind, text = records[p.index]
            if kind in ("200", "300", "95", "96") or len(p.code) != 6:
                continue
            seq = int(text[2:8]) if text[2:8].isdigit() else 0
            rejections.setdefault(seq, [])
            if len(rejections[seq]) < 3:
                rejections[seq].append(Rejection(p.letter, p.code))
        if header:
            seg = {p.code.split("/")[0]: p.code.split("/")[1] for p in header
                   if "/" in p.code and records[p.index][0] == "300"}
            answers.append(rw.response_to_bytes(rw.refuse_file(content, insurer_ref + 1, segment300_errors=seg)))
        elif blocking or pct > threshold:
            answers.append(rw.response_to_bytes(rw.preliminary(
                content, insurer_ref + 1, rejections, refused=True, refusal_type="01" if blocking else "02",
                error_percentage=int(round(pct * 100)), contact_last_name=INSURER_CONTACT[0])))
        else:
            answers.append(rw.response_to_bytes(rw.preliminary(
                content, insurer_ref + 1, rejections, refused=False, error_percentage=int(round(pct * 100)),
                contact_last_name=INSURER_CONTACT[0])))
            refused_seqs = {int(records[i][1][2:8]): _line_rejections(records, rejections, i) for i in refused_idx}
            answers.append(rw.response_to_bytes(rw.settle(
                content, insurer_ref + 2, refused=refused_seqs, created=today,
                payment_reference=_structured_communication(int(digest[:12], 16)),
                contact_last_name=INSURER_CONTACT[0])))
    copies = 2 if _switch(request, "answer_twice", False) else 1
    for n, text in enumerate(answers):
        for _ in range(copies):
            box.items.append(MailItem(kind="message", input_reference=input_reference,
                                      reference=state.next_reference(), visible_from=visible + n * delay,
                                      message_name=MESSAGE_NAMES.get(text[:6].decode("ascii"), "HCPFAC"),
                                      content=text, hash_value=sha256_b64(text),
                                      nip_reference=state.next_reference()))
    return counted


def _line_rejections(records: list[tuple[str, str]], rejections: dict[int, list[Any]], index: int) -> list[Any]:
    """The codes refusing the ET50 at ``index``: its own, else those of its invoice (ET20/ET80)."""
    def seq(i: int) -> int:
        return int(records[i][1][2:8])

    own = rejections.get(seq(index))
    if own:
        return own
    start = next(i for i in range(index, -1, -1) if records[i][0] == "20")
    end = next((i for i in range(index, len(records)) if records[i][0] == "80"), start)
    return rejections.get(seq(start)) or rejections.get(seq(end)) or []


def _refused_lines(records: list[tuple[str, str]], problems: list[_Problem]) -> set[int]:
    """Record indexes of the ET50 lines refused (R on the line or its 51/52, F/B on its invoice)."""
    by_index: dict[int, list[_Problem]] = {}
    for p in problems:
        by_index.setdefault(p.index, []).append(p)
    refused: set[int] = set()
    invoice: list[int] = []
    invoice_refused = False
    for index, (kind, _) in enumerate(records):
        letters = {p.letter for p in by_index.get(index, [])}
        if kind == "20":
            invoice, invoice_refused = [], bool(letters & {"F", "B"})
        elif kind == "50":
            invoice.append(index)
            if letters & {"R", "F", "B"}:
                refused.add(index)
        elif kind in ("51", "52") and invoice and letters & {"R", "F"}:
            refused.add(invoice[-1])
        elif kind == "80" and (invoice_refused or letters & {"F", "B"}):
            refused.update(invoice)
    return refused


def _duplicate_key(records: list[tuple[str, str]]) -> tuple[str, int, int]:
    r10 = next(text for kind, text in records if kind == "10")
    return r10[56:67], int(r10[107:112] or 0), int(r10[32:35] or 0)


def _problems(request: SimRequest, records: list[tuple[str, str]], content: bytes,
              today: dt.date) -> list[_Problem]:
    """The preliminary control (the format's validator) and the insurer's business checks."""
    from .efact.validator import ValidationOptions, validate

    out = [_Problem(f.letter, f.code, f.record_index, _ascii(f.messages.fr or f.messages.en))
           for f in validate(content, ValidationOptions(today=today))]
    population = request.state.population
    federation = None
    for kind, text in records:
        if kind == "96":
            federation = text[4] + "00"
    invoice_index = None
    patient = None
    for index, (kind, text) in enumerate(records):
        if kind == "20":
            invoice_index = index
            ssin = text[35:48][-11:]
            patient = population.get(ssin)
            if patient is None:
                out.append(_Problem("F", "200820", index, "beneficiaire inconnu / rechthebbende onbekend"))
            elif federation and patient.periods and not any(p.mutuality[0] == federation[0] for p in patient.periods):
                out.append(_Problem("F", "200742", index, "beneficiaire affilie a une autre mutualite"))
        elif kind == "50" and patient is not None and invoice_index is not None:
            day = dt.date(int(text[16:20]), int(text[20:22]), int(text[22:24]))
            if patient.periods and not patient.periods_on(day):
                out.append(_Problem("R", "500540", index, "pas en ordre d'assurabilite a la date de prestation"))
            if patient.deceased and day > patient.deceased:
                out.append(_Problem("R", "500549", index, "prestation apres la date de deces"))
    return out


def _structured_communication(seed: int) -> str:
    base = seed % 10**10
    check = base % 97 or 97
    digits = f"{base:010d}{check:02d}"
    return f"+++{digits[:3]}/{digits[3:7]}/{digits[7:]}+++"


# -- simulator hooks (entry-point group ``mycarenet_dental.simulator``) -----------------------------


@sim_hookimpl
def mycarenet_dental_simulator_routes() -> Iterator[SimulatorRoute]:
    from .plugin import ACTIONS

    yield SimulatorRoute(path=sim_path(), handler=handle, soap_actions=ACTIONS, name="MyCareNet GenericAsync eFact")


def _demo(context: Context, demo: Any) -> None:
    from .demo import run_demo_step

    run_demo_step(context, demo)


@sim_hookimpl
def mycarenet_dental_demo_steps() -> Iterator[DemoStep]:
    yield DemoStep(name="eFact: the day's visits billed through to settlement", run=_demo, order=80)
