"""A queued message as its campaign's stream holds it: the one format of stream entries,
and of dead letters.

An entry has one field, ENTRY_FIELD ("m"): msgpack [number (E.164), values (the
placeholders' values, in the order of the campaign meta's `placeholders`, or nil for a
text without any)], and for a voice campaign's recipient who consented to a time slot, the
slot (parse_window syntax) as a third item. Packed here by enqueue, appended by
enqueue.lua (XADD ... 'm'), read back here for the daemon (Queue). An entry that cannot
be read is kept as a dead letter: msgpack [campaign, entry id, payload, reason] in the
dead-letter list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple

import msgpack

ENTRY_FIELD: Final = b"m"

# Packs one entry's payload: (number, values, consent slot or "") -> bytes.
EntryPacker = Callable[[str, list[str] | None, str], bytes]


class Entry(NamedTuple):
    """A stream entry as read: payload is None when the entry was deleted meanwhile.
    (A tuple: one a message, cheaper to make than a frozen dataclass.)"""

    campaign: str
    entry_id: bytes
    payload: bytes | None


# What an entry holds: number, values, and for a voice campaign the time slot the
# recipient consented to ("" without one). A plain tuple: one a message, and a NamedTuple
# costs a Python call to make.
Body = tuple[str, list[str] | None, str]


class UnreadableEntry(ValueError):
    """A stream entry whose payload is not what enqueue writes."""


def entry_packer() -> EntryPacker:
    """A packer for a run of entries (one msgpack Packer, reused: enqueue packs millions)."""
    pack = msgpack.Packer().pack

    def packed(number: str, values: list[str] | None, slot: str = "") -> bytes:
        payload: bytes = pack([number, values, slot] if slot else [number, values])
        return payload
    return packed


def unpack_entry(payload: bytes | None) -> Body:
    """What an entry holds; UnreadableEntry says what is wrong with it."""
    if payload is None:
        raise UnreadableEntry("entry has no payload")
    try:
        fields = msgpack.unpackb(payload)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise UnreadableEntry(f"payload is not [number, values]: {exc}") from None
    if isinstance(fields, list) and len(fields) == 2:  # most entries: no slot
        number, values = fields
        slot = ""
    elif isinstance(fields, list) and len(fields) == 3:
        number, values, slot = fields
    else:
        raise UnreadableEntry("payload is not [number, values] or [number, values, slot]")
    if (not isinstance(number, str) or not (values is None or isinstance(values, list))
            or not isinstance(slot, str)):
        raise UnreadableEntry("payload has the wrong types")
    return number, values, slot


def field_value(fields: list[bytes] | None) -> bytes | None:
    """The payload among an entry's fields as RESP2 gives them ([name, value, ...]); None
    for an entry deleted while pending (no fields)."""
    if fields:
        for index in range(0, len(fields) - 1, 2):
            if fields[index] == ENTRY_FIELD:
                return fields[index + 1]
    return None


def dead_letter(entry: Entry, reason: str) -> bytes:
    record: bytes = msgpack.packb([entry.campaign, entry.entry_id, entry.payload, reason])
    return record


def dead_letter_campaign(record: bytes) -> str | None:
    """The campaign of a dead letter (None: not a record this module wrote)."""
    try:
        fields: Any = msgpack.unpackb(record)
    except (ValueError, msgpack.UnpackException):
        return None
    campaign = fields[0] if isinstance(fields, list) and fields else None
    return campaign if isinstance(campaign, str) else None
