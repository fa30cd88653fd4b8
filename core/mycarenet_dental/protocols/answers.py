"""Authenticate an insurer's answer before anything of it is shown or kept (issue 15, item 1).

One place for the checks every client applies at its answer-handling point:

* **signer** — the certificate that signed an answer (outer ETEE signer, XAdES signer) must chain to
  the configured eHealth trust anchors *and* carry an accepted identity (a CBE number among
  ``[security] answer_signers``; by default MyCareNet's). A certificate from another CA with
  MyCareNet's subject fails the chain; a certificate of the right CA for someone else fails the identity.
* **XAdES** on a commons answer (``XadesT`` / GenericAsync ``Xades-t``): verified when present; required
  when the service's policy says so (:data:`XADES_POLICY`, ``[security] answer_xades``).
* **correlation** — ``InResponseTo`` / echoed request ids must be ours; the patient (SSIN or
  registration number) and the period in the answer must be the ones asked about.

Every failure is an :class:`AnswerRejected` (a :class:`~mycarenet_dental.errors.SecurityError`: exit 3),
raised inside the running exchange before ``run.keep``: the exchange's outcome row audits it and nothing
is kept. Trust anchors: ``[security] ehealth_ca`` (PEM, one or more CA certificates); in the simulator
profile it defaults to ``[endpoints] ca_file`` (the test PKI's CA).
"""

from __future__ import annotations

import base64
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from cryptography import x509
from cryptography.x509.oid import NameOID

from ..ehealth import chain
from ..errors import ConfigError, MyCareNetDentalError, SecurityError

if TYPE_CHECKING:  # pragma: no cover
    from ..context import Context
    from ..exchange import ExchangeRun

__all__ = [
    "MYCARENET_CBE", "AnswerRejected", "AnswerTrust", "answer_trust", "cbe_of", "check_in_response_to",
    "check_patient", "check_period", "check_signer", "preflight", "require_pin", "require_sealed", "tls_only", "verify_chain", "verify_xades",
    "xades_policy",
]

MYCARENET_CBE = "0820563481"

# Whether the real service signs its answers with XAdES is each plugin's fact: ServiceSpec.answer_xades
# (FH ``mycarenet.<project>.response.neededxadeslevel``). Answers without a XAdES element at all
# (GenericInsurability, clear MemberData) rely on TLS (README).
# UNSURE: the real Tarification/GMF services do not sign; the simulator signs every commons answer, so its
# profile requires the signature for every service, and exercises the whole verification.
SIMULATOR_XADES = "required"


class AnswerRejected(SecurityError):
    """An insurer's answer failed authentication or correlation: not shown, not kept (exit 3)."""

    def __init__(self, message: str, *, code: str, service: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, code=code, origin=service or "insurer",
                         hint=hint or "the answer was discarded; retry later and tell the helpdesk if it repeats")


# ---------------------------------------------------------------------------------------------
# trust
# ---------------------------------------------------------------------------------------------


@attrs.frozen
class AnswerTrust:
    """The configured anchors, accepted signer identities (CBE) and XAdES policy per service."""

    anchors: tuple[x509.Certificate, ...] = attrs.field(converter=tuple)
    signers: tuple[str, ...] = attrs.field(converter=tuple)
    xades: Mapping[str, str] = attrs.field(factory=dict)


_TRUST: weakref.WeakKeyDictionary[Any, AnswerTrust] = weakref.WeakKeyDictionary()


def answer_trust(context: Context) -> AnswerTrust:
    """``[security] ehealth_ca`` / ``answer_signers`` / ``answer_xades``, validated, cached on the context."""
    cached = _TRUST.get(context)
    if cached is not None:
        return cached
    sec = context.config.section("security")
    profile = context.config.profile
    path = context.config.ehealth_ca  # checked as a PEM file when the configuration was loaded
    if path is None and profile == "simulator":
        path = context.config.endpoints.ca_file  # the test PKI's CA signs every simulated certificate
    anchors: tuple[x509.Certificate, ...] = ()
    if path is not None:
        try:
            anchors = tuple(x509.load_pem_x509_certificates(Path(path).read_bytes()))
        except (OSError, ValueError):
            raise ConfigError(f"the eHealth CA file {path} cannot be read as PEM certificates",
                              location="[security] ehealth_ca") from None
    # UNSURE: who signs XAdES answers (MyCareNet, or the answering insurer for eFact/GMF); MyCareNet by default,
    # the insurers' CBEs can be added. The connectors verify the signature and validity only.
    signers = sec.get("answer_signers", [MYCARENET_CBE])
    if not isinstance(signers, list) or not all(isinstance(s, str) and s.isdigit() for s in signers):
        raise ConfigError("[security] answer_signers must be a list of CBE numbers", location="[security] answer_signers")
    xades = {name: SIMULATOR_XADES if profile == "simulator" else spec.answer_xades
             for name, spec in context.services.items()}
    override = sec.get("answer_xades", {})
    if not isinstance(override, Mapping) or not all(v in ("required", "when-present") for v in override.values()):
        raise ConfigError('[security] answer_xades maps a service to "required" or "when-present"',
                          location="[security] answer_xades")
    xades.update({str(k): str(v) for k, v in override.items()})
    trust = AnswerTrust(anchors, [s.zfill(10) for s in signers], xades)
    _TRUST[context] = trust
    return trust


def _anchors(trust: AnswerTrust) -> tuple[x509.Certificate, ...]:
    if not trust.anchors:
        raise ConfigError("no eHealth trust anchor is configured to authenticate the insurers' answers",
                          location="[security] ehealth_ca",
                          hint="set [security] ehealth_ca to a PEM file with the eHealth issuing CA certificates")
    return trust.anchors


def xades_policy(context: Context, service: str) -> str:
    return answer_trust(context).xades.get(service, "when-present")


# ---------------------------------------------------------------------------------------------
# certificates
# ---------------------------------------------------------------------------------------------


def _valid_at(cert: x509.Certificate, at: datetime) -> bool:
    return cert.not_valid_before_utc <= at < cert.not_valid_after_utc


def verify_chain(leaf: x509.Certificate, anchors: Sequence[x509.Certificate], *, at: datetime,
                 intermediates: Iterable[x509.Certificate] = (), service: str | None = None,
                 max_depth: int = 5) -> None:
    """``leaf`` → CA intermediates → one of ``anchors``, each signature checked, each valid at ``at``."""
    path = chain.chain_path(leaf, anchors, intermediates, max_depth=max_depth)
    if path is None:
        raise AnswerRejected(f"the answer is signed by a certificate that does not chain to the configured eHealth "
                             f"trust anchors ({leaf.subject.rfc4514_string()}, issued by {leaf.issuer.rfc4514_string()})",
                             code="ANSWER_SIGNER_UNTRUSTED", service=service)
    for cert in path:
        if not _valid_at(cert, at):
            raise AnswerRejected(f"the answer's signing chain has a certificate outside its validity "
                                 f"({cert.subject.rfc4514_string()})", code="ANSWER_SIGNER_EXPIRED", service=service)


def cbe_of(cert: x509.Certificate) -> str | None:
    """The CBE number an eHealth organisation certificate names (``OU=CBE=…`` or ``CN=CBE=…``)."""
    for oid in (NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME):
        for attr in cert.subject.get_attributes_for_oid(oid):
            value = str(attr.value)
            if value.startswith("CBE="):
                digits = value[4:].split(",", 1)[0].strip()
                if digits.isdigit():
                    return digits.zfill(10)
    return None


def check_signer(context: Context, signer: x509.Certificate | None, *, service: str, at: datetime,
                 intermediates: Iterable[x509.Certificate] = (), expected_subject: x509.Name | None = None) -> None:
    """The signer chains to the anchors and is an accepted identity (and, when given, has that subject)."""
    if signer is None:
        raise AnswerRejected("the answer names no signer certificate", code="ANSWER_UNSIGNED", service=service)
    trust = answer_trust(context)
    verify_chain(signer, _anchors(trust), at=at, intermediates=intermediates, service=service)
    cbe = cbe_of(signer)
    if cbe is None or cbe not in trust.signers:
        raise AnswerRejected(f"the answer is signed by {signer.subject.rfc4514_string()}, not by an accepted "
                             f"signer (CBE {', '.join(trust.signers)})", code="ANSWER_SIGNER_IDENTITY", service=service)
    if expected_subject is not None and signer.subject != expected_subject:
        raise AnswerRejected(f"the answer is signed by {signer.subject.rfc4514_string()}, not by "
                             f"{expected_subject.rfc4514_string()}", code="ANSWER_SIGNER_IDENTITY", service=service)


def _keyinfo_certificates(xades_bytes: bytes) -> list[x509.Certificate]:
    from ..ehealth import xmldsig
    from ..xmlsafe import parse_xml

    try:
        sig = parse_xml(xades_bytes, what="XAdES signature")
        return [x509.load_der_x509_certificate(base64.b64decode("".join((el.text or "").split())))
                for el in sig.iter(xmldsig.ds("X509Certificate"))]
    except (MyCareNetDentalError, ValueError):  # verify_blob has already judged the signature itself
        return []


def verify_xades(context: Context, service: str, *, content: bytes, signature: bytes | None, at: datetime,
                 content_type: str = "text/xml", run: ExchangeRun | None = None) -> bool:
    """Check the XAdES over a commons answer's Blob (``content`` = its decoded business content).

    Returns whether a signature was verified; raises :class:`AnswerRejected` when it is required and
    missing, or present and not valid (digest, value, chain, identity).
    """
    from ..ehealth import xades

    if not signature:
        if xades_policy(context, service) == "required":
            raise AnswerRejected("the answer carries no XAdES signature over its Blob, which this service requires",
                                 code="ANSWER_UNSIGNED", service=service)
        tls_only(context, service, run=run)
        return False
    try:
        check = xades.verify_blob(content, signature, content_type=content_type)
    except SecurityError as exc:
        raise AnswerRejected(f"the answer's XAdES signature is not valid: {exc.messages.en}",
                             code="ANSWER_SIGNATURE", service=service) from None
    check_signer(context, check.signer_certificate, service=service, at=at,
                 intermediates=_keyinfo_certificates(signature))
    if run is not None:
        run.reference("answer_authentication", "xades")
    return True


def require_pin(context: Context, service: str) -> None:
    """Outside the simulator, an answer the real service does not sign is only acceptable over TLS pinned to
    ``[endpoints] ca_file`` (the SOAP client then trusts exactly that file, transport.py; without it the public
    bundle would let any publicly trusted server answer). Called before sending, so nothing leaves in vain."""
    if context.config.profile != "simulator" and context.config.endpoints.ca_file is None:
        raise ConfigError(f"the {service} answers are not signed by the service and are authenticated by TLS only, "
                          "but no CA is pinned for the services", location="[endpoints] ca_file",
                          hint="set [endpoints] ca_file to the CA certificate(s) that issue the eHealth/MyCareNet "
                               "server certificates")


def tls_only(context: Context, service: str, *, run: ExchangeRun | None = None) -> None:
    """Accept an answer the real service does not sign (see :func:`require_pin`) and record how it was
    authenticated."""
    require_pin(context, service)
    if run is not None:
        run.reference("answer_authentication", "tls")


def preflight(context: Context, service: str, *, signed: bool = False) -> None:
    """Before sending: refuse now (exit 2) a call whose answer could not be authenticated afterwards."""
    if signed or xades_policy(context, service) == "required":
        _anchors(answer_trust(context))
    else:
        require_pin(context, service)


def require_sealed(sealed_request: bool, sealed_answer: bool, *, service: str) -> None:
    """A sealed question accepts only a sealed answer (else anyone on the path could answer in clear)."""
    if sealed_request and not sealed_answer:
        raise AnswerRejected("the request was sealed but the answer is not: refused",
                             code="ANSWER_NOT_SEALED", service=service)


# ---------------------------------------------------------------------------------------------
# correlation
# ---------------------------------------------------------------------------------------------


def check_in_response_to(actual: str | None, expected: str | None, *, what: str, service: str,
                         required: bool = True) -> None:
    """``actual`` (an answer's InResponseTo / echoed id) must be our ``expected`` request id."""
    if expected is None:
        return
    if actual is None or actual == "":
        if required:
            raise AnswerRejected(f"the answer does not say which request it answers ({what} missing)",
                                 code="ANSWER_IN_RESPONSE_TO", service=service)
        return
    if actual.strip() != expected:
        raise AnswerRejected(f"the answer's {what} {actual!r} is not our request {expected!r}",
                             code="ANSWER_IN_RESPONSE_TO", service=service)


def _norm(value: str | None) -> str:
    return "".join(ch for ch in (value or "") if ch.isalnum()).lstrip("0")


def check_patient(*, asked_ssin: str | None = None, asked_registration: str | None = None,
                  asked_mutuality: str | None = None, answer_ssin: str | None = None,
                  answer_registration: str | None = None, answer_mutuality: str | None = None,
                  service: str) -> None:
    """The patient named in the answer is the one asked about (SSIN, or registration number + mutuality).

    An answer that names nobody passes only when nothing else identifies it; an answer naming another
    patient is a replay or a mix-up and is refused.
    """
    if asked_ssin:
        if answer_ssin and _norm(answer_ssin) != _norm(asked_ssin):
            raise AnswerRejected("the answer is about another patient than the one asked (SSIN differs)",
                                 code="ANSWER_PATIENT", service=service)
        if not answer_ssin and (answer_registration or answer_mutuality) is None:
            raise AnswerRejected("the answer does not name the patient asked about", code="ANSWER_PATIENT",
                                 service=service)
        return
    if asked_registration:
        if answer_registration and _norm(answer_registration) != _norm(asked_registration):
            raise AnswerRejected("the answer is about another patient than the one asked (registration number "
                                 "differs)", code="ANSWER_PATIENT", service=service)
        if asked_mutuality and answer_mutuality and answer_mutuality[:1] != asked_mutuality[:1]:
            raise AnswerRejected("the answer comes for a member of another insurer than the one asked",
                                 code="ANSWER_PATIENT", service=service)
        if not answer_registration and not answer_ssin:
            raise AnswerRejected("the answer does not name the patient asked about", code="ANSWER_PATIENT",
                                 service=service)


def check_period(*, asked_start: date, asked_end: date, answer_start: date | None, answer_end: date | None,
                 service: str, what: str = "period") -> None:
    """The period the answer speaks about lies within the one asked (``answer_end`` inclusive)."""
    if answer_start is not None and answer_start < asked_start or answer_end is not None and answer_end > asked_end:
        raise AnswerRejected(f"the answer's {what} ({answer_start} – {answer_end}) is not within the one asked "
                             f"({asked_start} – {asked_end})", code="ANSWER_PERIOD", service=service)
    if answer_start is not None and answer_end is not None and answer_end < answer_start:
        raise AnswerRejected(f"the answer's {what} ends before it starts", code="ANSWER_PERIOD", service=service)

