"""The MyCareNet commons envelope (core ``mycarenet.commons``): v3, v2 and GMF flavours."""

from __future__ import annotations

import base64
import hashlib
import zlib
from datetime import date, datetime, timezone

import pytest
from lxml import etree
from mycarenet_dental.errors import MalformedResponseError
from mycarenet_dental.exchange import Exchange, Party, PartyKind
from mycarenet_dental.protocols import commons as c
from mycarenet_dental.sim import commons as c_sim
from mycarenet_dental.sim import schemas

MDA = "urn:be:fgov:ehealth:mycarenet:memberdata:protocol:v1"
TARIF = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1"
GMF = "urn:be:fgov:ehealth:globalmedicalfile:protocol:v1"
CASES = [
    (c.V3, f"{{{MDA}}}MemberDataConsultationRequest", f"{{{MDA}}}MemberDataConsultationResponse", "memberdata"),
    (c.V2, f"{{{TARIF}}}TarificationConsultationRequest", f"{{{TARIF}}}TarificationConsultationResponse",
     "tarification"),
    (c.GMF, f"{{{GMF}}}ConsultGlobalMedicalFileRequest", f"{{{GMF}}}ConsultGlobalMedicalFileResponse", "gmf"),
]


def _ci(sender: bool = False) -> c.CommonInput:
    return c.CommonInput(
        is_test=True,
        origin=c.Origin(package_name="pkg", licence_username="user", licence_password="s3cret",
                        care_provider=c.CareProvider("31234592001", physical_person=c.Party(
                            name="Dr X", nihii="31234592001", nihii_quality="dentist", ssin="85073003328")),
                        sender_organization=c.Party(name="Office", cbe="0412345614") if sender else None),
        input_reference=c.new_input_reference())


@pytest.mark.parametrize(("flavour", "req_root", "resp_root", "schema_name"), CASES, ids=lambda v: getattr(v, "name", ""))
def test_request_and_response_round_trip_and_validate(flavour, req_root, resp_root, schema_name) -> None:
    ci = _ci(sender=True)
    blob = c.make_blob(b"<a>hello</a>", encoding="deflate",
                       content_encryption="encryptedForKnownBED" if flavour.blob_encryption else None,
                       etk=b"etk" if flavour.blob_encryption else None)
    routing = c.Routing(date(2026, 1, 2), ssin="85073003328", period_start=date(2026, 1, 1), period_end=date(2026, 1, 2))
    req = c.build_request(flavour, req_root, common_input=ci, blob=blob, routing=routing, xades=b"sig",
                          issue_instant=datetime(2026, 1, 2, tzinfo=timezone.utc))
    if schemas.schema(schema_name) is not None:
        assert schemas.validate(schema_name, req) == []
    parsed = c.parse_request(flavour, req)
    assert parsed.common_input == ci
    assert parsed.routing == routing
    assert parsed.blob.content == b"<a>hello</a>"
    assert parsed.xades == b"sig"
    assert parsed.id is None if not flavour.request_attributes else parsed.id.startswith("_")
    resp = c.build_response(flavour, resp_root, common_output=c.CommonOutput("in", "nip", "out"),
                            blob=c.make_blob(b"<r/>", with_hash=True), in_response_to=parsed.id,
                            issue_instant=datetime.now(timezone.utc), xades_t=b"t")
    if schemas.schema(schema_name) is not None:
        assert schemas.validate(schema_name, resp) == []
    back = c.parse_response(flavour, resp)
    assert back.common_output == c.CommonOutput("in", "nip", "out")
    assert back.blob.content == b"<r/>"
    assert back.xades_t == b"t"
    assert (back.status is not None) == flavour.response_status


def test_password_not_in_repr() -> None:
    assert "s3cret" not in repr(_ci())


def test_blob_default_encoding_is_deflate_and_hash_checked() -> None:
    content = b"<x>payload</x>"
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = comp.compress(content) + comp.flush()
    el = etree.Element("Detail", ContentType="text/xml")  # no ContentEncoding: schema default "deflate"
    el.text = base64.b64encode(raw).decode()
    el.set("HashValue", base64.b64encode(hashlib.sha256(content).digest()).decode())
    assert c.parse_blob(el).content == content
    el.set("HashValue", base64.b64encode(hashlib.sha256(b"other").digest()).decode())
    with pytest.raises(MalformedResponseError) as exc:
        c.parse_blob(el)
    assert exc.value.code == "BLOB_HASH"
    el.set("ContentEncoding", "gzip")
    with pytest.raises(MalformedResponseError):
        c.parse_blob(el)


@pytest.mark.parametrize("packing", ["raw", "zlib", "gzip", "none"])
def test_blob_labelled_deflate_accepts_raw_zlib_gzip_and_uncompressed(packing: str) -> None:
    """Issue 12.7: senders label zlib/gzip streams, or bytes they never compressed, as deflate."""
    import gzip

    content = b"<x>payload</x>" * 20
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = {"raw": comp.compress(content) + comp.flush(), "zlib": zlib.compress(content),
            "gzip": gzip.compress(content), "none": content}[packing]
    el = etree.Element("Detail", ContentType="text/xml", ContentEncoding="deflate")
    el.text = base64.b64encode(data).decode()
    el.set("HashValue", base64.b64encode(hashlib.sha256(content).digest()).decode())
    blob = c.parse_blob(el)
    assert blob.content == content
    assert blob.content_encoding == ("none" if packing == "none" else "deflate")
    # an uncompressed blob is still hash-checked: the fallback is no way around integrity
    el.text = base64.b64encode(data.replace(b"payload", b"payl0ad") if packing == "none" else data[:-3]).decode()
    with pytest.raises(MalformedResponseError) as info:
        c.parse_blob(el)
    assert info.value.code == "BLOB_HASH"


@pytest.mark.parametrize("packing", ["raw", "zlib", "gzip"])
def test_blob_bombs_stop_at_the_bound(packing: str) -> None:
    import gzip

    content = b"\0" * 5_000_000
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = {"raw": comp.compress(content) + comp.flush(), "zlib": zlib.compress(content, 9),
            "gzip": gzip.compress(content)}[packing]
    el = etree.Element("Detail", ContentType="text/xml", ContentEncoding="deflate")
    el.text = base64.b64encode(data).decode()
    with pytest.raises(MalformedResponseError) as info:
        c.parse_blob(el, max_bytes=1_000_000)
    assert info.value.code == "BLOB_TOO_LARGE"


def test_request_blob_not_deflated_is_refused_on_the_insurer_side() -> None:
    """The simulator stays strict on what a client posts: a request labelled deflate must be compressed."""
    with pytest.raises(MalformedResponseError) as info:
        c.inflate_blob(b"not deflated at all", max_bytes=1000, uncompressed_ok=False)
    assert info.value.code == "BLOB_ENCODING"


class _Cfg:
    profile = "simulator"

    def section(self, name: str) -> dict:
        return {}


class _Ctx:
    config = _Cfg()


def test_common_input_for_mandatary_keeps_dentist_as_care_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    from mycarenet_dental import context as context_mod

    monkeypatch.setattr(context_mod, "licence", lambda ctx: context_mod.Licence("user", "pw", "pkg"))
    dentist = Party(kind=PartyKind.DENTIST, id="31234592001", name="Dr X", ssin="85073003328", nihii="31234592001")
    office = Party(kind=PartyKind.MANDATARY, id="0412345614", name="Office", cbe="0412345614")
    ex = Exchange(service="assurability", operation="x", responsible=dentist, executor=office)
    ci = c.common_input_for(_Ctx(), ex)  # type: ignore[arg-type]
    assert ci.origin.care_provider is not None and ci.origin.care_provider.nihii == "31234592001"
    assert ci.origin.care_provider.quality == "dentist"
    assert ci.origin.sender_organization == c.Party(name="Office", cbe="0412345614")
    assert ci.is_test is True
    alone = c.common_input_for(_Ctx(), Exchange(service="assurability", operation="x", responsible=dentist,
                                                  executor=dentist))  # type: ignore[arg-type]
    assert not alone.origin.has_sender


def test_licence_fault() -> None:
    class State:
        def check_licence(self, u: str, p: str) -> bool:
            return (u, p) == ("user", "s3cret")

    assert c_sim.licence_fault(State(), _ci()) is None
    bad = c.CommonInput(is_test=True, origin=c.Origin(None, "user", "wrong"))
    assert c_sim.licence_fault(State(), bad)[0] == "INVALID_LICENSE"
