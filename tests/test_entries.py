"""Stream entries and dead letters: one format, written by enqueue and read by the daemon."""

from __future__ import annotations

import re

import msgpack
import pytest

from dispatch.store.entries import (
    ENTRY_FIELD,
    Entry,
    UnreadableEntry,
    dead_letter,
    dead_letter_campaign,
    entry_packer,
    field_value,
    unpack_entry,
)
from dispatch.store.scripts import load_script


def test_an_entry_packed_for_enqueue_reads_back_for_the_daemon() -> None:
    pack = entry_packer()
    assert unpack_entry(pack("+33612345678", ["Alice", "Paris"], "")) == (
        "+33612345678", ["Alice", "Paris"], "")
    assert unpack_entry(pack("+33612345678", None, "")) == ("+33612345678", None, "")
    assert unpack_entry(pack("+33612345678", None, "lun-ven 18:00-20:00")) == (
        "+33612345678", None, "lun-ven 18:00-20:00")


@pytest.mark.parametrize(("fields", "reason"), [
    (["+33612345678"], "is not [number, values]"),
    (["+33612345678", None, "", "extra"], "is not [number, values]"),
    ({"number": "+33612345678"}, "is not [number, values]"),
    ([33612345678, None], "wrong types"),
    (["+33612345678", "Alice"], "wrong types"),
    (["+33612345678", None, 7], "wrong types"),
])
def test_a_payload_of_another_shape_is_unreadable_and_says_why(
        fields: object, reason: str) -> None:
    with pytest.raises(UnreadableEntry, match=re.escape(reason)):
        unpack_entry(msgpack.packb(fields))


def test_enqueue_lua_appends_the_payload_under_the_field_the_daemon_reads() -> None:
    assert f"'{ENTRY_FIELD.decode()}', rows[i + 1]" in load_script("enqueue")
    assert field_value([b"other", b"x", ENTRY_FIELD, b"payload"]) == b"payload"
    assert field_value(None) is None  # an entry deleted while pending


def test_an_entry_deleted_while_pending_is_unreadable() -> None:
    with pytest.raises(UnreadableEntry, match="no payload"):
        unpack_entry(None)


def test_a_dead_letter_names_its_campaign() -> None:
    record = dead_letter(Entry("c1", b"1-0", b"\xc1"), "payload is not [number, values]")
    assert dead_letter_campaign(record) == "c1"
    assert dead_letter_campaign(b"\xc1") is None
