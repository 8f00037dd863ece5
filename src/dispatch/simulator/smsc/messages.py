"""Which message a submit_sm belongs to, for the ledger — pure.

The ledger reference of an SMPP message is the vendor TLV 0x1501 (a C-string: the client's
own message reference; the dispatch daemon sends it) when present, otherwise a hash of
(source_addr, destination_addr, text). SMPP has no idempotency key, so every acceptance
of a reference after the first counts as a duplicate.

A long message is one ledger entry whatever its number of parts: it is accepted with the
first of its parts to be accepted. Parts join their message by the TLV reference, or
without it by (source, destination, concatenation reference, total); the TLV-less
reference is the hash of that key and of the first part's text. A part accepted a second
time starts a new transmission of the message: one duplicate, whatever the number of
parts resent. Messages still missing parts are held (bounded: the oldest are forgotten).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, NamedTuple

from dispatch import text
from dispatch.simulator.ledger import Ledger
from dispatch.smpp.pdu import ShortMessagePdu
from dispatch.smpp.udh import Concat, Content

REFERENCE_TAG: Final = 0x1501
PREVIEW_CHARS: Final = 20  # the receipt's `text:` field
MAX_OPEN_MESSAGES: Final = 100_000


def client_reference(pdu: ShortMessagePdu) -> str | None:
    """The client's reference from TLV 0x1501, or None if absent or empty."""
    value = pdu.tlvs.get(REFERENCE_TAG)
    if isinstance(value, bytes):
        value = value.rstrip(b"\0").decode("latin-1")
    return value if isinstance(value, str) and value else None


def content_hash(*fields: str | bytes | int) -> str:
    """A reference for a message that came without one (`h:` + 20 hex digits)."""
    digest = hashlib.blake2b(digest_size=10)
    for item in fields:
        raw = item if isinstance(item, bytes) else str(item).encode()
        digest.update(len(raw).to_bytes(4, "big"))
        digest.update(raw)
    return "h:" + digest.hexdigest()


def preview(payload: bytes, data_coding: int) -> str:
    """The first characters of a part's text, as the receipt repeats them."""
    # At most four octets a character (a UTF-16 surrogate pair): decode no more than that.
    return text.decode(payload[: PREVIEW_CHARS * 4], data_coding)[:PREVIEW_CHARS]


class Acceptance(NamedTuple):
    reference: str
    new: bool  # first accepted part of a (re)transmission: it has just been ledgered
    outcome: str  # the receipt status of the whole message


@dataclass(slots=True)
class _Open:
    reference: str
    total: int
    outcome: str
    received: int  # bit n set: part n accepted in this transmission


class MessageBook:
    """Turns accepted submit_sm into ledger entries, one per message."""

    def __init__(self, ledger: Ledger, pick_outcome: Callable[[], str],
                 max_open: int = MAX_OPEN_MESSAGES) -> None:
        self.ledger = ledger
        self._pick_outcome = pick_outcome
        self._max_open = max_open
        self._open: dict[object, _Open] = {}  # oldest first
        self.forgotten = 0  # incomplete messages dropped from memory by the bound

    @property
    def open_messages(self) -> int:
        return len(self._open)

    def accept(self, pdu: ShortMessagePdu, content: Content) -> Acceptance:
        reference = client_reference(pdu)
        concat = content.concat
        if concat is None or concat.total < 2:
            reference = reference or content_hash(pdu.source_addr, pdu.destination_addr,
                                                  pdu.data_coding, content.payload)
            return self._new(reference)
        key: object = reference or (pdu.source_addr, pdu.destination_addr, concat.reference,
                                    concat.total)
        return self._part(key, reference, concat, pdu, content)

    def _new(self, reference: str) -> Acceptance:
        self.ledger.record(reference)
        return Acceptance(reference, True, self._pick_outcome())

    def _part(self, key: object, reference: str | None, concat: Concat,
              pdu: ShortMessagePdu, content: Content) -> Acceptance:
        bit = 1 << concat.sequence
        message = self._open.get(key)
        if message is not None and message.total == concat.total \
                and not message.received & bit:
            message.received |= bit
            if message.received == _all_parts(concat.total):
                del self._open[key]  # complete: a later part starts a new transmission
            return Acceptance(message.reference, False, message.outcome)
        if reference is None:
            reference = content_hash(str(key), concat.sequence, pdu.data_coding, content.payload)
        acceptance = self._new(reference)
        self._open.pop(key, None)
        self._open[key] = _Open(reference, concat.total, acceptance.outcome, bit)
        self._bound()
        return acceptance

    def _bound(self) -> None:
        while len(self._open) > self._max_open:
            del self._open[next(iter(self._open))]
            self.forgotten += 1


def _all_parts(total: int) -> int:
    return ((1 << total) - 1) << 1  # bits 1..total
