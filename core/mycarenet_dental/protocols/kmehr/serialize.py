"""The bytes of a ``RetrieveTransactionRequest`` written directly, for the usual request whose every value is
plain text: what ``to_bytes(build_request(request))`` gives, without building the lxml tree first (the client
never needs the tree: the blob travels as bytes). Any value it cannot write as is (empty, not a ``str``, a
character XML must escape or refuses, an element left empty) sends the request to the general writer, which
then also raises what it raises. ``tests/core/test_kmehr_serialize.py`` compares both byte for byte."""

from __future__ import annotations

from ...timeutil import xs_clock
from .model import (
    NS_KMEHR,
    NS_MS_CORE,
    NS_MS_PROTOCOL,
    SV,
    Code,
    Content,
    HcParty,
    Item,
    RetrieveTransactionRequest,
)
from .write import _fmt_decimal, build_request, to_bytes

_HEAD = (f"<?xml version='1.0' encoding='UTF-8'?>\n<RetrieveTransactionRequest xmlns=\"{NS_MS_PROTOCOL}\" "
         f"xmlns:core=\"{NS_MS_CORE}\" xmlns:kmehr=\"{NS_KMEHR}\"")


class _Plain:
    """The output pieces and the values to check (the only parts that do not come from this module)."""

    __slots__ = ("out", "values")

    def __init__(self) -> None:
        self.out: list[str] = []
        self.values: list[object] = []

    def code(self, tag: str, code: Code) -> None:
        s, sv, value, sl, dn = code.s, code.sv, code.value, code.sl, code.dn
        self.values += (s, sv, value)
        attrib = f' S="{s}" SV="{sv}"'
        if sl:
            self.values.append(sl)
            attrib += f' SL="{sl}"'
        if dn:
            self.values.append(dn)
            attrib += f' DN="{dn}"'
        self.out.append(f"<{tag}{attrib}>{value}</{tag}>")

    def plain_code(self, tag: str, s: str, value: str, sv: str = SV) -> None:
        self.values.append(value)
        self.out.append(f'<{tag} S="{s}" SV="{sv}">{value}</{tag}>')

    def leaf(self, tag: str, text: str) -> None:
        self.values.append(text)
        self.out.append(f"<{tag}>{text}</{tag}>")

    def hcparty(self, party: HcParty) -> None:
        out = self.out
        out.append("<kmehr:hcparty>")
        mark = len(out)
        for ident in party.ids:
            self.code("kmehr:id", ident)
        for cd in party.cds:
            self.code("kmehr:cd", cd)
        if party.firstname and party.familyname:
            self.leaf("kmehr:firstname", party.firstname)
            self.leaf("kmehr:familyname", party.familyname)
        elif party.name:
            self.leaf("kmehr:name", party.name)
        if len(out) == mark:
            raise ValueError("an empty hcparty")  # lxml writes <hcparty/>: left to the general writer
        out.append("</kmehr:hcparty>")

    def author(self, tag: str, parties: tuple[HcParty, ...]) -> None:
        if not parties:
            raise ValueError("an empty author")
        self.out.append(f"<{tag}>")
        for party in parties:
            self.hcparty(party)
        self.out.append(f"</{tag}>")

    def content(self, content: Content) -> None:
        self.out.append("<kmehr:content>")
        if content.ids:
            for ident in content.ids:
                self.code("kmehr:id", ident)
        elif content.cds:
            for cd in content.cds:
                self.code("kmehr:cd", cd)
        elif content.decimal is not None:
            self.leaf("kmehr:decimal", _fmt_decimal(content.decimal))
        elif content.boolean is not None:
            self.out.append(f"<kmehr:boolean>{'true' if content.boolean else 'false'}</kmehr:boolean>")
        elif content.text is not None:
            self.values.append(content.text)
            self.out.append(f'<kmehr:text L="en">{content.text}</kmehr:text>')
        elif content.date is not None:
            self.leaf("kmehr:date", content.date.isoformat())
        elif content.hcparty is not None:
            self.hcparty(content.hcparty)
        else:
            raise ValueError("an empty KMEHR content")
        self.out.append("</kmehr:content>")

    def item(self, item: Item, number: int) -> None:
        out = self.out
        out.append(f'<core:item><kmehr:id S="ID-KMEHR" SV="1.0">{number}</kmehr:id>')
        self.code("kmehr:cd", item.cd)
        for content in item.contents:
            self.content(content)
        if item.beginmoment is not None:
            out.append(f"<kmehr:beginmoment><kmehr:date>{item.beginmoment.isoformat()}</kmehr:date></kmehr:beginmoment>")
        if item.endmoment is not None:
            out.append(f"<kmehr:endmoment><kmehr:date>{item.endmoment.isoformat()}</kmehr:date></kmehr:endmoment>")
        if item.cost is not None:
            self.values.append(item.cost.currency)
            out.append(f'<kmehr:cost><kmehr:decimal>{_fmt_decimal(item.cost.amount)}</kmehr:decimal><kmehr:unit>'
                       f'<kmehr:cd S="CD-CURRENCY" SV="1.0">{item.cost.currency}</kmehr:cd></kmehr:unit></kmehr:cost>')
        out.append("</core:item>")

    def request(self, request: RetrieveTransactionRequest) -> None:
        out, header = self.out, request.header
        if request.protocol_version:
            self.values.append(request.protocol_version)
            out.append(f' messageProtocoleSchemaVersion="{request.protocol_version}">')
        else:
            out.append(">")
        out.append("<core:request>")
        self.plain_code("core:id", "ID-KMEHR", header.id)
        self.author("core:author", header.author)
        out.append(f"<core:date>{header.date.isoformat()}</core:date><core:time>{xs_clock(header.time)}</core:time>")
        if header.maxrows is not None:
            self.leaf("core:maxrows", str(header.maxrows))
        out.append("</core:request><core:select>")
        sel = request.patient
        if sel is not None:
            out.append("<core:patient>")
            mark = len(out)
            if sel.ssin:
                self.plain_code("core:id", "ID-PATIENT", sel.ssin)
            if sel.sex:
                out.append("<core:sex>")
                self.plain_code("kmehr:cd", "CD-SEX", sel.sex, "1.1")
                out.append("</core:sex>")
            if sel.insurer and sel.membership:
                out.append("<core:insurancymembership>")
                self.plain_code("kmehr:id", "ID-INSURANCE", sel.insurer)
                self.leaf("kmehr:membership", sel.membership)
                out.append("</core:insurancymembership>")
            if len(out) == mark:
                raise ValueError("an empty patient")
            out.append("</core:patient>")
        tx = request.transaction
        out.append("<core:transaction>")
        self.code("core:cd", tx.cd)
        if tx.author:
            self.author("core:author", tx.author)
        for n, item in enumerate(tx.items, start=1):
            self.item(item, n)
        if tx.begindate is not None:
            out.append(f"<core:begindate>{tx.begindate.isoformat()}</core:begindate>")
        if tx.enddate is not None:
            out.append(f"<core:enddate>{tx.enddate.isoformat()}</core:enddate>")
        out.append("</core:transaction></core:select></RetrieveTransactionRequest>")

    def plain(self) -> bool:
        """Every value a non-empty ``str`` that XML writes as is (nothing to escape, nothing refused)."""
        for value in self.values:
            if type(value) is not str or not value:
                return False
        joined = "".join(self.values)  # type: ignore[arg-type]
        return joined.isprintable() and not ("&" in joined or "<" in joined or ">" in joined or '"' in joined)


def request_bytes(request: RetrieveTransactionRequest) -> bytes:
    """``to_bytes(build_request(request))``, written directly when every value is plain text."""
    writer = _Plain()
    try:
        writer.request(request)
    except Exception:  # noqa: BLE001 - whatever it is, the general writer decides
        writer.values.append(None)  # let the general writer build it, or raise what it raises
    if writer.plain():
        return (_HEAD + "".join(writer.out)).encode("utf-8")
    return to_bytes(build_request(request))
