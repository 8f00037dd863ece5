"""Reading consent columns and the compact records — pure."""

from __future__ import annotations

import datetime as dt

import msgpack
import pytest

from dispatch import consent
from dispatch.consent import NO_CONSENT, Consent, ConsentReader

TODAY = dt.date(2026, 3, 1)


def required() -> ConsentReader:
    return ConsentReader(True, TODAY)


def test_a_date_is_kept_as_a_day_count() -> None:
    given, error = required()(" web form ", "2024-03-15", "mon-fri 10:00-13:00")
    assert error is None
    assert given == Consent("web form", msgpack.packb(19797), "mon-fri 10:00-13:00")
    assert consent.render_date(19797) == "2024-03-15"


def test_a_date_time_keeps_its_iso_text() -> None:
    given, _ = required()("web", "2024-03-15 10:20:00+01:00", None)
    assert given is not None and given.date is not None
    assert msgpack.unpackb(given.date) == "2024-03-15T10:20:00+01:00"


@pytest.mark.parametrize(("source", "date", "slot", "reason"), [
    (None, "2024-03-15", None, "no consent source"),
    ("  ", "2024-03-15", None, "no consent source"),
    ("web", None, None, "no consent date"),
    ("web", "", None, "no consent date"),
    ("web", "15/03/2024", None,
     "consent_date '15/03/2024' is not an ISO date (YYYY-MM-DD) or date-time"),
    ("web", "2024-02-30", None,
     "consent_date '2024-02-30' is not an ISO date (YYYY-MM-DD) or date-time"),
    ("web", "2026-03-03", None, "consent_date '2026-03-03' is in the future"),
    ("w" * 201, "2024-03-15", None, "consent_source is longer than 200 characters"),
    ("web", "2024-03-15", "s" * 201, "consent_slot is longer than 200 characters"),
])
def test_each_refusal_names_its_column(source: str | None, date: str | None,
                                       slot: str | None, reason: str) -> None:
    assert required()(source, date, slot) == (None, reason)


def test_not_required_accepts_nothing_but_not_a_bad_date() -> None:
    reader = ConsentReader(False, TODAY)
    assert reader(None, None, None) == (NO_CONSENT, None)
    assert reader("web", None, None) == (Consent("web", None, None), None)
    assert reader(None, "yesterday", None)[1] == (
        "consent_date 'yesterday' is not an ISO date (YYYY-MM-DD) or date-time")


def test_tomorrow_is_allowed_for_time_zones_ahead_of_utc() -> None:
    assert required()("web", "2026-03-02", None)[1] is None


def test_record_round_trip() -> None:
    raw = b"\x93" + msgpack.packb(3) + msgpack.packb(19797) + msgpack.packb(4)
    assert consent.record_text_ids(raw) == [3, 4]
    assert consent.unpack_record(raw, {3: "web", 4: "evenings"}) == {
        "source": "web", "date": "2024-03-15", "slot": "evenings"}


@pytest.mark.parametrize(("size", "buckets"), [
    (None, 1), (0, 1), (100, 1), (24 * 64, 1), (24 * 65, 2), (40_000_000, 26042),
    (10**12, consent.MAX_BUCKETS)])
def test_bucket_count_from_file_size(size: int | None, buckets: int) -> None:
    assert consent.bucket_count(size) == buckets


def test_bucket_of_uses_the_last_six_digits() -> None:
    assert consent.bucket_of("+33612345678", 1000) == 345678 % 1000
    assert consent.bucket_of("+33612345678", 1) == 0
