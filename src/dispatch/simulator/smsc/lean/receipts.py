"""The lean SMSC's receipts, built as deliver_sm bodies when their message is accepted —
pure. Byte for byte what the full SMSC sends in the `standard` dialect
(smsc/receipts.ReceiptWriter, through the generic codec; a test holds them together),
with the done date the moment the receipt is due rather than the moment it leaves."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from dispatch.simulator.config import ERROR_CODES
from dispatch.simulator.smsc.messages import preview
from dispatch.simulator.smsc.receipts import STATES, DateStamps
from dispatch.smpp.constants import Tag

PREVIEW_CACHE: Final = 1000  # texts whose preview is kept (a campaign has a few)
_STATE_TLV: Final = Tag.MESSAGE_STATE.to_bytes(2, "big") + b"\x00\x01"
_ID_TAG: Final = Tag.RECEIPTED_MESSAGE_ID.to_bytes(2, "big")
# After the route: esm_class 0x04 (receipt), protocol_id, priority_flag, empty schedule
# and validity, registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id.
_RECEIPT_FLAGS: Final = b"\x04" + bytes(8)


def route(source: bytes, destination: bytes) -> bytes:
    """A receipt's addresses from its message's (wire form: ton, npi, address, NUL): it
    goes from the message's destination back to its source."""
    return destination + source


def wire_address(ton: int, npi: int, address: str) -> bytes:
    return bytes((ton, npi)) + address.encode("latin-1") + b"\0"


class ReceiptBodies:
    def __init__(self, outcomes: Iterable[str]) -> None:
        self._dates = DateStamps(with_seconds=False)
        self._previews: dict[tuple[int, bytes], bytes] = {}
        # Per outcome: what the text holds around the dates, and the message_state TLV.
        wanted = set(outcomes)
        self._words: dict[str, tuple[bytes, bytes, bytes]] = {
            outcome: (b" sub:001 dlvrd:" + (b"001" if stat == "DELIVRD" else b"000"),
                      f" stat:{stat} err:{ERROR_CODES[outcome]} text:".encode(),
                      _STATE_TLV + bytes((state,)))
            for outcome, (stat, state) in STATES.items() if outcome in wanted}

    def dates(self, submitted: float, done: float) -> bytes:
        """The dates of the receipts of messages accepted at `submitted` (unix time), due
        at `done`: computed once for all the messages read at one moment."""
        stamp = self._dates.stamp
        return b" submit date:%s done date:%s" % (stamp(submitted).encode(),
                                                  stamp(done).encode())

    def preview(self, payload: bytes, data_coding: int) -> bytes:
        """The receipt's `text:` value (a campaign sends the same text many times)."""
        key = (data_coding, payload[:80])  # the preview's 20 characters are in there
        found = self._previews.get(key)
        if found is None:
            if len(self._previews) >= PREVIEW_CACHE:
                self._previews.clear()
            found = self._previews[key] = preview(payload, data_coding).encode(
                "ascii", "replace")
        return found

    def body(self, route: bytes, message_id: bytes, outcome: str, dates: bytes,
             text_preview: bytes) -> bytes:
        """The deliver_sm body (no header: the sequence number is given when it is sent)."""
        delivered, stat, state_tlv = self._words[outcome]
        id_size = len(message_id)
        # One format for the whole body: sm_length is the text's, added up beforehand.
        text_size = 3 + id_size + len(delivered) + len(dates) + len(stat) + len(text_preview)
        return b"\0%s%s%cid:%s%s%s%s%s%s\x00%c%s\x00%s" % (
            route, _RECEIPT_FLAGS, text_size, message_id, delivered, dates, stat, text_preview,
            _ID_TAG, id_size + 1, message_id, state_tlv)
