"""Coded values shared by every service: one enum each, whatever the wire says.

Each wire format has its own encoding (MemberData ``gender`` and KMEHR CD-SEX ``male``/``female``,
eFact record 20 zone 9 ``1``/``2``, the SSIN's serial parity); they are mapped to these enums where the
message is read or written, and nowhere else. ``docs/glossary.md`` lists them.
"""

from __future__ import annotations

import enum


class Sex(str, enum.Enum):
    """A person's sex, as the answers and the eFact invoices carry it (CD-SEX values)."""

    MALE = "male"
    FEMALE = "female"
    UNKNOWN = "unknown"  # the answer did not say (KMEHR CD-SEX also has undefined/changed: read as unknown)

    @classmethod
    def from_cd_sex(cls, text: str | None) -> Sex:
        """A CD-SEX / MemberData gender text; anything else than male or female is ``UNKNOWN``."""
        value = (text or "").strip().lower()
        return cls(value) if value in ("male", "female") else cls.UNKNOWN
