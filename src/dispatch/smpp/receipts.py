"""Delivery receipts: recognise them, read them whatever the SMSC's dialect, match their ids.

A deliver_sm is a receipt when esm_class says so (0x04, or 0x20 for an intermediate
notification asked for with registered_delivery 0x10), or when it carries the
receipted_message_id and message_state TLVs. The TLVs win over the text: they are typed
and their id has the submit_sm_resp's form, where the text's id often does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Final, NamedTuple

from dispatch import text
from dispatch.smpp.constants import Tag
from dispatch.smpp.pdu import ShortMessagePdu, Tlvs
from dispatch.smpp.udh import message_content

MESSAGE_TYPE_MASK: Final = 0x3C
DELIVERY_RECEIPT: Final = 0x04
INTERMEDIATE_NOTIFICATION: Final = 0x20


class MessageState(IntEnum):
    """message_state TLV values (SMPP 3.4 §5.2.28)."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


FINAL_STATES: Final = frozenset(MessageState) - {MessageState.ENROUTE, MessageState.UNKNOWN}

STATE_STATS: Final[dict[MessageState, str]] = {
    MessageState.ENROUTE: "ENROUTE", MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED", MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV", MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN", MessageState.REJECTED: "REJECTD",
}
# The seven-letter words of the specification, and the full words some SMSCs write.
_STAT_STATES: Final[dict[str, MessageState]] = {
    **{stat: state for state, stat in STATE_STATS.items()},
    **{state.name: state for state in MessageState},
    "UNDELIVERED": MessageState.UNDELIVERABLE,
}


def stat_to_state(stat: str | None) -> MessageState:
    """The receipt text's stat word as a state; anything unrecognised is UNKNOWN."""
    return _STAT_STATES.get((stat or "").strip().upper(), MessageState.UNKNOWN)


def is_receipt(esm_class: int, tlvs: Tlvs) -> bool:
    kind = esm_class & MESSAGE_TYPE_MASK
    if kind in (DELIVERY_RECEIPT, INTERMEDIATE_NOTIFICATION):
        return True
    return Tag.RECEIPTED_MESSAGE_ID in tlvs and Tag.MESSAGE_STATE in tlvs


@dataclass(frozen=True, slots=True)
class ReceiptText:
    """The fields of `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…`."""

    id: str | None = None
    sub: str | None = None
    dlvrd: str | None = None
    submit_date: str | None = None
    done_date: str | None = None
    stat: str | None = None
    err: str | None = None
    text: str | None = None


_TEXT_KEY: Final = re.compile(r"\btext:", re.IGNORECASE)
_FIELD: Final = re.compile(
    r"\b(id|sub|dlvrd|submit[ _]?date|done[ _]?date|stat|err):(\S*)", re.IGNORECASE)
_FIELD_NAMES: Final = {"id": "id", "sub": "sub", "dlvrd": "dlvrd", "submitdate": "submit_date",
                       "donedate": "done_date", "stat": "stat", "err": "err"}


def parse_receipt_text(receipt: str) -> ReceiptText:
    """Every field found, in any letter case and order; missing ones are None. Never raises.

    `text:` is the last field and its value may hold anything, so it is cut off first.
    """
    found: dict[str, str] = {}
    head = receipt
    text_key = _TEXT_KEY.search(receipt)
    if text_key is not None:
        head, found["text"] = receipt[: text_key.start()], receipt[text_key.end() :]
    for key, value in _FIELD.findall(head):
        name = _FIELD_NAMES[key.lower().replace(" ", "").replace("_", "")]
        found.setdefault(name, value)
    return ReceiptText(**found)


def parse_receipt_date(value: str | None) -> datetime | None:
    """YYMMDDhhmm or YYMMDDhhmmss (SMSC local time, zone unknown); None if neither."""
    if value is None or not value.isdigit() or len(value) not in (10, 12):
        return None
    try:
        return datetime.strptime(value, "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M")
    except ValueError:
        return None


class Receipt(NamedTuple):
    """What a receipt says (a tuple: one a message, cheaper to make than a frozen
    dataclass)."""

    message_id: str  # as the SMSC gave it ("" if it gave none)
    message_key: str  # normalise_message_id(message_id): what to match submissions on
    state: MessageState
    network_error: bytes  # network_error_code TLV (type, u16 code) or b""
    intermediate: bool  # an intermediate notification, not the final outcome
    text: str  # the receipt text, parsed on demand: `fields`

    @property
    def fields(self) -> ReceiptText:
        """The text's fields. Parsed when asked for: with the id and state in TLVs (most
        SMSCs), a delivered receipt needs nothing from its text, and receipts come by the
        thousand per second."""
        return parse_receipt_text(self.text)

    @property
    def error(self) -> str:
        """The text's err field ("" if absent), not necessarily numeric."""
        return self.fields.err or ""

    @property
    def done_at(self) -> datetime | None:
        return parse_receipt_date(self.fields.done_date)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES and not self.intermediate


def read_receipt(pdu: ShortMessagePdu, *, submit_id_base: int | None = None,
                 text_id_base: int | None = None) -> Receipt | None:
    """The receipt a deliver_sm carries, or None if it is not one (then it is an MO).

    `submit_id_base` is the base the SMSC writes ids in submit_sm_resp (and so in the TLV),
    `text_id_base` the one it uses in the receipt text; see normalise_message_id.
    """
    if not is_receipt(pdu.esm_class, pdu.tlvs):
        return None
    text = _receipt_text(pdu)
    fields: ReceiptText | None = None  # parsed only if the TLVs leave something out
    tlv_id = pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID)
    if isinstance(tlv_id, str) and tlv_id.strip():
        message_id, key = tlv_id, normalise_message_id(tlv_id, submit_id_base)
    else:
        fields = parse_receipt_text(text)
        message_id = fields.id or ""
        key = normalise_message_id(message_id, text_id_base)
    network_error = pdu.tlvs.get(Tag.NETWORK_ERROR_CODE, b"")
    return Receipt(
        message_id=message_id, message_key=key, state=_state(pdu.tlvs, text, fields),
        network_error=network_error if isinstance(network_error, bytes) else b"",
        intermediate=pdu.esm_class & MESSAGE_TYPE_MASK == INTERMEDIATE_NOTIFICATION,
        text=text,
    )


def _receipt_text(pdu: ShortMessagePdu) -> str:
    # SMSCs write receipts in ASCII whatever data_coding 0 means for them; only UCS-2 differs.
    payload = message_content(pdu.esm_class, pdu.short_message, pdu.tlvs).payload
    return text.decode(payload, 8 if pdu.data_coding == 8 else 3)


def _state(tlvs: Tlvs, text: str, fields: ReceiptText | None) -> MessageState:
    value = tlvs.get(Tag.MESSAGE_STATE)
    if isinstance(value, int) and value in _STATE_VALUES:
        return MessageState(value)
    return stat_to_state((fields or parse_receipt_text(text)).stat)


_STATE_VALUES: Final = frozenset(int(s) for s in MessageState)
_HEX: Final = re.compile(r"[0-9a-f]+")
_DECIMAL: Final = re.compile(r"[0-9]+")
# Ids whose key needs no more than this when there is no base (ids come by the thousand per
# second, most in one of these forms): lower-case hex (group 1: without its leading zeros),
# or printable ASCII without upper case that is neither hex nor starts with 0x (group 2).
_SIMPLE_KEY: Final = re.compile(r"0*([1-9a-f][0-9a-f]*)|((?!0x)(?![0-9a-f]+$)[!-@\[-~]+)")


def normalise_message_id(raw: str, base: int | None = None) -> str:
    """A key under which the forms one SMSC gives of one message id compare equal.

    Without a base, only what cannot change an id's meaning is folded: surrounding blanks
    and NULs (and whatever follows a NUL inside), letter case, a `0x` prefix, and leading
    zeros of an id made of hex digits (`0x00AB12`, `ab12` and `00AB12` give `ab12`;
    `000123` gives `123`).

    Hex against decimal (submit_sm_resp `1A2B`, receipt text `6699`, Kannel's msg-id-type)
    cannot be guessed from one string: `255` is a valid hex id too, and an SMSC numbering
    in hex issues both `ff` and `255` (= 0x255), which a guess would make collide. So the
    connector declares each form's base (10 or 16) and both sides are then reduced to the
    decimal value (`1A2B` base 16 and `6699` base 10 give `6699`). An id that does not
    parse in its declared base falls back to the textual form rather than failing.
    Declare both bases of a connector (submit_sm_resp and receipt text) or neither: a
    decimal key never equals a textual one.
    """
    if base is None and (simple := _SIMPLE_KEY.fullmatch(raw)) is not None:
        return simple[1] or simple[2]
    return folded_message_id(raw, base)


def folded_message_id(raw: str, base: int | None) -> str:
    """normalise_message_id without its shortcut for the ids of the simplest forms."""
    # A C-Octet String ends at its NUL: what follows one inside (an SMSC's bug) is not id.
    cleaned = raw.strip().strip("\0").partition("\0")[0].strip().lower()
    if base == 10 and _DECIMAL.fullmatch(cleaned):
        return str(int(cleaned))
    unprefixed = cleaned[2:] if cleaned.startswith("0x") else cleaned
    if base == 16 and _HEX.fullmatch(unprefixed):
        return str(int(unprefixed, 16))
    if _HEX.fullmatch(unprefixed):
        return unprefixed.lstrip("0") or "0"
    return cleaned
