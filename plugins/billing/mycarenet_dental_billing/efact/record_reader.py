"""The records of any eFact message (``efact.md`` §2, §3): :class:`EfactReader` streams segments 200/300 and
records 10…96 of 350 characters, or the 800-character echoed records of 920098/920099/920900 with their
450-character response tails, from ``str``, ``bytes`` or a stream read in chunks (memory stays flat).
Control digits are checked per block of records (one encode + translate, one Adler-32 per record); a
discrepancy is a :class:`ReadWarning` with its offset, never a refusal of a received file. The typed
920000 built from these records is :mod:`.reader`."""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO, TextIO

import attrs
from mycarenet_dental.errors import UsageError

from . import records as rl
from .controls import (
    _VALUES,
    CIN_TEST_FILE_OFFSET,
    ChecksumMode,
    control_offset,
    mod97,
    value_sum,
)

MESSAGE_INVOICE = "920000"
MESSAGE_ACK = "931000"
MESSAGE_ACCEPTED = "920098"
MESSAGE_REFUSED = "920099"
MESSAGE_FILE_REFUSED = "920999"
MESSAGE_SETTLEMENT = "920900"

#: message name → (segment 300 layout, record length)
MESSAGE_SHAPES: dict[str, tuple[rl.Layout, int]] = {
    MESSAGE_INVOICE: (rl.SEGMENT300, rl.RECORD_LENGTH),
    MESSAGE_FILE_REFUSED: (rl.SEGMENT300, rl.RECORD_LENGTH),
    MESSAGE_ACK: (rl.SEGMENT300_STUB, rl.RECORD_LENGTH),
    MESSAGE_ACCEPTED: (rl.SEGMENT300_EXTENDED, rl.RESPONSE_RECORD_LENGTH),
    MESSAGE_REFUSED: (rl.SEGMENT300_EXTENDED, rl.RESPONSE_RECORD_LENGTH),
    MESSAGE_SETTLEMENT: (rl.SEGMENT300_EXTENDED, rl.RESPONSE_RECORD_LENGTH),
}
_LONG_LAYOUTS = {"91": rl.RECORD91, "92": rl.RECORD92}
_CONTROL_TEXT = ["97"] + [f"{i:02d}" for i in range(1, 97)]  # (Σ mod 97) → the stored control digits


class EfactFormatError(UsageError):
    """The text is not a well-formed eFact message (length, record type, structure)."""

    default_code = "EFACT_FORMAT"


@attrs.frozen
class ReadWarning:
    """Something off in a received file that does not stop reading (e.g. control digits off by n)."""

    record_index: int  # 0 = S200, 1 = S300, 2… = records in file order
    record_type: str
    zone: str
    message: str
    stored: int | None = None
    computed: int | None = None

    @property
    def offset(self) -> int | None:
        if self.stored is None or self.computed is None:
            return None
        return control_offset(self.stored, self.computed)


class RawRecord:
    """One record as read: its type, position, text and layout (zones are sliced on demand)."""

    __slots__ = ("kind", "index", "text", "layout")

    def __init__(self, kind: str, index: int, text: str, layout: rl.Layout) -> None:
        self.kind = kind
        self.index = index
        self.text = text
        self.layout = layout

    def __repr__(self) -> str:
        return f"RawRecord({self.kind!r}, index={self.index}, {len(self.text)} chars)"

    def zone(self, name: str) -> str:
        return self.text[self.layout.slices[name]]

    def zones(self) -> dict[str, str]:
        return self.layout.parse(self.text)

    @property
    def sequence(self) -> int | None:
        if self.kind in rl.SEQUENCED_TYPES:
            s = self.text[2:8]
            return int(s) if s.isdigit() else None
        return None

    @property
    def tail(self) -> dict[str, str] | None:
        """The 450-character response zones 100…151 of an echoed record, by zone name."""
        if len(self.text) <= rl.RECORD_LENGTH or self.kind in _LONG_LAYOUTS:
            return None
        return rl.RESPONSE_TAIL.parse(self.text[rl.RECORD_LENGTH:])


class _SliceReader:
    """``read(n)`` over text or bytes already in memory, one slice at a time.

    ``io.StringIO(text)`` keeps its own copy at 4 bytes per character and ``bytes.decode`` a second
    whole copy: ~5× the file on top of the caller's. Slicing keeps only the current block (bytes
    are decoded block by block as Latin-1, like a file), so reading adds flat memory.
    """

    __slots__ = ("_data", "_pos", "_decode")

    def __init__(self, data: str | bytes | bytearray | memoryview) -> None:
        self._data = data
        self._pos = 0
        self._decode = not isinstance(data, str)

    def read(self, size: int | None = -1) -> str:
        start = self._pos
        total = len(self._data)
        end = total if size is None or size < 0 else min(start + size, total)
        self._pos = end
        chunk = self._data[start:end]
        return str(chunk, "latin-1") if self._decode else chunk  # type: ignore[arg-type, return-value]


def _as_text_stream(source: str | bytes | TextIO | BinaryIO) -> TextIO | _SliceReader:
    if isinstance(source, str | bytes | bytearray | memoryview):
        return _SliceReader(source)
    if isinstance(source, io.TextIOBase):
        return source  # type: ignore[return-value]
    return io.TextIOWrapper(source, encoding="latin-1", newline="")  # type: ignore[arg-type]


class EfactReader:
    """Iterate over the records of an eFact message; collect :attr:`warnings` on the way.

    ``checksum_mode``: ``TOLERANT`` (default) warns on any control-digit offset; ``STRICT`` warns
    likewise (it is the validator's job to refuse); ``CIN`` expects the +10 offset of the CIN
    acceptance files and only warns on other offsets.
    """

    def __init__(self, source: str | bytes | TextIO | BinaryIO, *,
                 checksum_mode: ChecksumMode = ChecksumMode.TOLERANT, chunk_records: int = 4096,
                 check_controls: bool = True) -> None:
        self._stream = _as_text_stream(source)
        self._check_controls = check_controls
        self.checksum_mode = checksum_mode
        self.warnings: list[ReadWarning] = []
        self._chunk_records = chunk_records
        head = self._stream.read(rl.SEGMENT200_LENGTH)
        if len(head) < rl.SEGMENT200_LENGTH:
            raise EfactFormatError(f"message shorter than the {rl.SEGMENT200_LENGTH}-character segment 200")
        self.message_name = head[:6]
        shape = MESSAGE_SHAPES.get(self.message_name)
        if shape is None:
            raise EfactFormatError(f"unknown message name {self.message_name!r} in segment 200 zone 200",
                                   location="S200 Z200")
        self.segment300_layout, self.record_length = shape
        self._head = head
        self._expected_offset = CIN_TEST_FILE_OFFSET if checksum_mode is ChecksumMode.CIN else 0

    @property
    def is_response(self) -> bool:
        return self.message_name != MESSAGE_INVOICE

    def __iter__(self) -> Iterator[RawRecord]:
        layouts = rl.RECORD_LAYOUTS
        for kind, index, text in self._iter_raw():
            if index < 2:
                yield RawRecord(kind, index, text, rl.SEGMENT200 if index == 0 else self.segment300_layout)
            else:
                yield RawRecord(kind, index, text, layouts.get(kind) or _LONG_LAYOUTS[kind])

    def _iter_raw(self, sums: bool = False) -> Iterator[Any]:
        """The records as ``(kind, index, text)`` (no object per record); controls checked as in ``__iter__``.

        Segments 200/300 come as kinds ``"200"``/``"300"`` (indexes 0 and 1). Control digits are
        computed for a whole block at once (one encode + translate), one Adler-32 call per record;
        a mismatch is re-checked by :meth:`_check_control`, which records the warning. With
        ``sums``, 4-tuples ``(kind, index, text, remainder)`` where ``remainder`` is Σ(positions
        1–348) mod 97 of a record (``None`` for the segments and when it cannot be computed).
        """
        if sums:
            yield "200", 0, self._head, None
        else:
            yield "200", 0, self._head
        s300 = self._stream.read(self.segment300_layout.length)
        if len(s300) == 0 and self.message_name == MESSAGE_ACK:
            return
        if len(s300) < self.segment300_layout.length:
            raise EfactFormatError(f"segment 300 truncated ({len(s300)} of {self.segment300_layout.length} chars)")
        if sums:
            yield "300", 1, s300, None
        else:
            yield "300", 1, s300
        index = 2
        size = self.record_length
        layouts = rl.RECORD_LAYOUTS
        controlled = rl.CONTROLLED_TYPES if self._check_controls else frozenset()
        check = self._check_control
        control_text = _CONTROL_TEXT
        adler = zlib.adler32
        values = _VALUES
        while True:
            block = self._stream.read(size * self._chunk_records)
            if not block:
                return
            if len(block) % size:
                more = self._stream.read(size - len(block) % size)
                block += more
                if len(block) % size:
                    raise EfactFormatError(
                        f"message length is not 227 + n × {size}: {len(block) % size} trailing characters",
                        location=f"record {index + len(block) // size}")
            translated: bytes | None = None
            if controlled or sums:
                try:
                    translated = block.encode("latin-1").translate(values)
                except UnicodeEncodeError:  # not latin-1: let the per-record check raise where it did
                    translated = None
            for pos in range(0, len(block), size):
                text = block[pos:pos + size]
                kind = text[:2]
                if kind not in layouts:
                    if kind not in _LONG_LAYOUTS or size != rl.RESPONSE_RECORD_LENGTH:
                        raise EfactFormatError(f"unknown record type {kind!r}", location=f"record {index}")
                elif kind in controlled:
                    if translated is None:
                        check(kind, index, text)
                    elif text[348:350] != control_text[((adler(translated[pos:pos + 348]) & 0xFFFF) - 1) % 97]:
                        check(kind, index, text)
                if sums:
                    yield kind, index, text, (None if translated is None else
                                              ((adler(translated[pos:pos + 348]) & 0xFFFF) - 1) % 97)
                else:
                    yield kind, index, text
                index += 1
            block = ""  # let go of this block before reading the next: one block in memory, not two
            translated = None

    def _check_control(self, kind: str, index: int, text: str) -> None:
        stored_text = text[348:350]
        computed = mod97(value_sum(text[:348].encode("latin-1")))
        if not stored_text.isdigit():
            self.warnings.append(ReadWarning(index, kind, "99", f"record control digits {stored_text!r} not numeric",
                                             None, computed))
            return
        stored = int(stored_text)
        if stored != computed and control_offset(stored, computed) != self._expected_offset:
            self.warnings.append(ReadWarning(
                index, kind, "99",
                f"record {kind} control digits {stored:02d}, computed {computed:02d} "
                f"(offset +{control_offset(stored, computed)})", stored, computed))


def iter_records(source: str | bytes | TextIO | BinaryIO, *,
                 checksum_mode: ChecksumMode = ChecksumMode.TOLERANT) -> Iterator[RawRecord]:
    """Stream the records of any eFact message (warnings are dropped; use :class:`EfactReader` to keep them)."""
    return iter(EfactReader(source, checksum_mode=checksum_mode))
