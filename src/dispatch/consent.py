"""Consent provenance of each recipient: reading the consent columns, the compact record
Redis keeps per number, and where that record lives — pure.

A campaign file may carry, per row, `consent_source` (where and how consent was given:
"formulaire web example.fr", "bulletin papier"), `consent_date` (ISO date or date-time)
and, for calls, `consent_slot` (the time slot consented to, free text kept as given).
Column names are matched case-insensitively. A campaign requiring consent (the default)
rejects a row without a source or a date.

Memory: each number's record is msgpack [source id, date, slot id] — a few bytes — since
sources and slots repeat across a file and are stored once per campaign (consent_texts);
a date is a day count since 1970-01-01 (a date-time keeps its ISO text). Records live in
small hashes ("buckets") that Redis keeps as compact listpacks: ~25 bytes per number
instead of ~80 for one big hash. The number of buckets is fixed when the campaign is
created, from the size of its first file; a campaign that outgrows it still works, its
buckets only turn into ordinary hashes.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import msgpack

SOURCE = "consent_source"
DATE = "consent_date"
SLOT = "consent_slot"
COLUMNS = (SOURCE, DATE, SLOT)

REASON_NO_SOURCE = "no consent source"
REASON_NO_DATE = "no consent date"
MAX_TEXT = 200  # characters of a source or slot: a provenance, not a document

# Bucket sizing: a campaign file row with consent is at least this long (a 10-digit
# number, a one-letter source, a date), so file size / this over-estimates the rows.
MIN_ROW_BYTES = 24
PER_BUCKET = 64  # half the default hash-max-listpack-entries (128): room to grow
MAX_BUCKETS = 65_536
_CACHE_MAX = 8192  # distinct (source, date, slot) of a file; date-times may all differ
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Consent:
    """One row's consent, ready to store: texts as given (stripped), the date packed."""

    source: str | None
    date: bytes | None  # msgpack: day count (int) or ISO date-time (str)
    slot: str | None


NO_CONSENT = Consent(None, None, None)
# (the consent to store, None) or (None, why the row is rejected)
ConsentResult = tuple[Consent, None] | tuple[None, str]


class ConsentReader:
    """Validates the consent columns of rows; build once per run, call per row."""

    def __init__(self, required: bool, today: dt.date) -> None:
        self._required = required
        self._latest = today + dt.timedelta(days=1)  # a date-time ahead of UTC is today
        self._seen: dict[tuple[str | None, ...], ConsentResult] = {}

    def __call__(self, source: str | None, date: str | None, slot: str | None
                 ) -> ConsentResult:
        """Cached: a file repeats a few sources over a few hundred dates."""
        key = (source, date, slot)
        found = self._seen.get(key)
        if found is None:
            if len(self._seen) >= _CACHE_MAX:
                self._seen.clear()
            found = self._seen[key] = self._read(source, date, slot)
        return found

    def _read(self, source: str | None, date: str | None, slot: str | None
              ) -> ConsentResult:
        source_text = _text(source)
        date_text = _text(date)
        if self._required and source_text is None:
            return None, REASON_NO_SOURCE
        if self._required and date_text is None:
            return None, REASON_NO_DATE
        slot_text = _text(slot)
        for name, text in ((SOURCE, source_text), (SLOT, slot_text)):
            if text is not None and len(text) > MAX_TEXT:
                return None, f"{name} is longer than {MAX_TEXT} characters"
        packed = pack_date(date_text, self._latest) if date_text is not None else None
        if isinstance(packed, str):
            return None, packed
        if source_text is None and packed is None and slot_text is None:
            return NO_CONSENT, None
        return Consent(source_text, packed, slot_text), None


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip() or None


def pack_date(text: str, latest: dt.date) -> bytes | str:
    """msgpack of a date (days since 1970) or date-time (ISO text), or why it is refused."""
    shown = text if len(text) <= 40 else text[:40] + "…"
    try:
        when: dt.date | dt.datetime = (dt.date.fromisoformat(text) if len(text) <= 10
                                       else dt.datetime.fromisoformat(text))
    except ValueError:
        return f"{DATE} {shown!r} is not an ISO date (YYYY-MM-DD) or date-time"
    day = when.date() if isinstance(when, dt.datetime) else when
    if day > latest:
        return f"{DATE} {shown!r} is in the future"
    packed: bytes = msgpack.packb(when.isoformat() if isinstance(when, dt.datetime)
                                  else (when - _EPOCH).days)
    return packed


def unpack_record(raw: bytes, texts: dict[int, str]) -> dict[str, str | None]:
    """A stored record as {"source", "date", "slot"}; `texts`: consent texts by id."""
    source_id, date, slot_id = msgpack.unpackb(raw)
    return {"source": texts.get(source_id) if source_id is not None else None,
            "date": render_date(date),
            "slot": texts.get(slot_id) if slot_id is not None else None}


def record_text_ids(raw: bytes) -> list[int]:
    """The text ids a record refers to (to fetch them in one call)."""
    source_id, _, slot_id = msgpack.unpackb(raw)
    return [i for i in (source_id, slot_id) if i is not None]


def render_date(value: Any) -> str | None:
    """ISO text of a stored date: a day count, or the date-time's own ISO text."""
    if isinstance(value, int):
        return (_EPOCH + dt.timedelta(days=value)).isoformat()
    return value if isinstance(value, str) else None


def bucket_of(number: str, buckets: int) -> int:
    """The consent bucket of an E.164 number (enqueue.lua computes the same)."""
    return int(number[-6:]) % buckets


def bucket_count(file_bytes: int | None) -> int:
    """Buckets for a campaign whose first file has this size (None: unknown, small)."""
    if not file_bytes:
        return 1
    rows = file_bytes // MIN_ROW_BYTES
    return max(1, min(MAX_BUCKETS, math.ceil(rows / PER_BUCKET)))
