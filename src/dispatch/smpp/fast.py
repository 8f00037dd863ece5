"""Hand-unrolled bodies of the PDUs on the 10,000 msg/s path: submit_sm, deliver_sm, _resp.

The generic codec (codec.py) walks a plan per field; these do the same layout in a few
C calls. Whenever one meets anything unusual it returns None and the generic codec redoes
the work, either succeeding or raising the precise error, so they need not explain
failures. tests/smpp/test_properties.py checks both agree on random PDUs, and that these
accept no junk the generic codec refuses.

Below them, raw helpers for a server's hot path (the lean SMSC): a submit_sm's fields
read without a dataclass, the one TLV a client sends, a response or a request framed
around bytes ready; tests/smpp/test_raw_paths.py holds them to the generic codec.
"""

from __future__ import annotations

import re
import struct
from typing import Final

from dispatch import text
from dispatch.smpp.constants import Tag
from dispatch.smpp.pdu import MAX_SHORT_MESSAGE, MessageIdResp, ShortMessagePdu, Tlvs
from dispatch.smpp.receipts import (
    INTERMEDIATE_NOTIFICATION,
    MESSAGE_TYPE_MASK,
    MessageState,
    Receipt,
    normalise_message_id,
)
from dispatch.smpp.tlv import decode_tlvs, encode_tlvs
from dispatch.smpp.udh import UDHI

LATIN1: Final = "latin-1"
_HEADER: Final = struct.Struct(">IIII")  # as codec.HEADER (codec imports this module)
_TAG_LENGTH: Final = struct.Struct(">HH")


def encode_short_message_body(p: ShortMessagePdu) -> bytes | None:
    service_type, source, destination = p.service_type, p.source_addr, p.destination_addr
    schedule, validity, message = p.schedule_delivery_time, p.validity_period, p.short_message
    if (len(service_type) > 5 or len(source) > 20 or len(destination) > 20
            or len(schedule) > 16 or len(validity) > 16 or len(message) > MAX_SHORT_MESSAGE
            or "\0" in service_type or "\0" in source or "\0" in destination
            or "\0" in schedule or "\0" in validity):
        return None
    try:
        # chr() of a value past 255 makes the latin-1 encode fail: that is the octet check.
        head = "".join((
            service_type, "\0", chr(p.source_addr_ton), chr(p.source_addr_npi),
            source, "\0", chr(p.dest_addr_ton), chr(p.dest_addr_npi),
            destination, "\0", chr(p.esm_class), chr(p.protocol_id), chr(p.priority_flag),
            schedule, "\0", validity, "\0", chr(p.registered_delivery),
            chr(p.replace_if_present_flag), chr(p.data_coding), chr(p.sm_default_msg_id),
            chr(len(message)),
        )).encode(LATIN1)
    except (ValueError, TypeError, OverflowError):
        return None
    return head + message + encode_tlvs(p.tlvs) if p.tlvs else head + message


# The mandatory fields of submit_sm / deliver_sm up to sm_length, as one regular expression:
# C-strings within their maximum sizes (NUL included), runs of fixed octets as groups.
_SHORT_MESSAGE_HEAD: Final = re.compile(
    rb"([^\0]{0,5})\0(..)([^\0]{0,20})\0(..)([^\0]{0,20})\0(...)"
    rb"([^\0]{0,16})\0([^\0]{0,16})\0(.....)",
    re.DOTALL,
)


def decode_short_message_body(
    cls: type[ShortMessagePdu], frame: bytes, sequence: int, status: int, where: str,
) -> ShortMessagePdu | None:
    match = _SHORT_MESSAGE_HEAD.match(frame, 16)
    if match is None:
        return None
    service, source_np, source, dest_np, dest, flags, schedule, validity, tail = match.groups()
    source_ton, source_npi = source_np
    dest_ton, dest_npi = dest_np
    esm_class, protocol_id, priority_flag = flags
    registered, replace, data_coding, default_msg_id, length = tail
    start = match.end()
    end = start + length
    if end > len(frame):
        return None
    tlvs: Tlvs = decode_tlvs(frame, end, where) if end < len(frame) else {}
    return cls(
        sequence, status, service.decode(LATIN1), source_ton, source_npi,
        source.decode(LATIN1), dest_ton, dest_npi, dest.decode(LATIN1),
        esm_class, protocol_id, priority_flag, schedule.decode(LATIN1), validity.decode(LATIN1),
        registered, replace, data_coding, default_msg_id, frame[start:end], tlvs,
    )


def encode_message_id_body(p: MessageIdResp) -> bytes | None:
    message_id = p.message_id
    if len(message_id) > 64 or "\0" in message_id:
        return None
    try:
        body = message_id.encode(LATIN1) + b"\0"
    except UnicodeEncodeError:
        return None
    return body + encode_tlvs(p.tlvs) if p.tlvs else body


def decode_message_id_body(
    cls: type[MessageIdResp], frame: bytes, sequence: int, status: int, where: str,
) -> MessageIdResp | None:
    end_id = frame.find(0, 16, 81)
    if end_id < 0:
        return None
    tlvs: Tlvs = decode_tlvs(frame, end_id + 1, where) if end_id + 1 < len(frame) else {}
    return cls(sequence, status, frame[16:end_id].decode(LATIN1), tlvs)


# A server's hot path reads a submit_sm without building its dataclass: the addresses stay
# as they came (ton, npi, address, NUL), ready to go back swapped in a receipt.
_RAW_HEAD: Final = re.compile(
    rb"[^\0]{0,5}\0(..[^\0]{0,20}\0)(..[^\0]{0,20}\0)(...)[^\0]{0,16}\0[^\0]{0,16}\0(.....)",
    re.DOTALL,
)
# (source, destination: ton, npi, address and NUL as on the wire; esm_class,
#  registered_delivery, data_coding, short_message, where the TLVs start)
RawShortMessage = tuple[bytes, bytes, int, int, int, bytes, int]


def raw_short_message(data: bytes, start: int, end: int) -> RawShortMessage | None:
    """The fields of the submit_sm / deliver_sm body `data[start:end]` a server acts on;
    None when the body is not the plain layout (decode_pdu then says what is wrong)."""
    match = _RAW_HEAD.match(data, start, end)
    if match is None:
        return None
    source, destination, flags, tail = match.groups()
    message_start = match.end()
    message_end = message_start + tail[4]
    if message_end > end:
        return None
    return (source, destination, flags[0], tail[0], tail[2], data[message_start:message_end],
            message_end)


def only_tlv(data: bytes, start: int, end: int, tag: int) -> bytes | None:
    """The value of the TLV stream `data[start:end]` when it is exactly one TLV of `tag`
    (None otherwise, the generic decode_tlvs then reads it)."""
    if end - start < 4 or data[start] != tag >> 8 or data[start + 1] != tag & 0xFF \
            or start + 4 + (data[start + 2] << 8 | data[start + 3]) != end:
        return None
    return data[start + 4:end]


def encode_message_id_resp(command_id: int, sequence: int, status: int,
                           message_id: bytes) -> bytes:
    """A submit_sm_resp / deliver_sm_resp without TLVs; `message_id` holds no NUL and at
    most 64 octets (the caller's ids do: encode_pdu checks a stranger's)."""
    return _HEADER.pack(17 + len(message_id), command_id, status, sequence) + message_id \
        + b"\0"


def encode_frame(command_id: int, sequence: int, body: bytes) -> bytes:
    """A request PDU (command_status 0) around a body encoded already."""
    return _HEADER.pack(16 + len(body), command_id, 0, sequence) + body


class SubmitBodies:
    """The bodies of a client's one-part submit_sm, put together from bytes: what
    encode_pdu makes of a SubmitSm with an empty service_type, schedule and validity,
    esm_class, protocol_id, priority_flag, replace_if_present_flag and sm_default_msg_id
    0, and one TLV (`tag`). A SubmitSm built and encoded costs three times as much
    (tests/smpp/test_submit_bodies.py holds both to the same bytes)."""

    MAX_SOURCES: Final = 1024  # distinct senders remembered (a campaign has one or a few)

    def __init__(self, source_ton: int, source_npi: int, dest_ton: int, dest_npi: int,
                 tag: int) -> None:
        if not 0 <= tag <= 0xFFFF:
            raise ValueError(f"TLV tag 0x{tag:x} does not fit 16 bits")
        self._tons_npis = (source_ton, source_npi, dest_ton, dest_npi)
        self._tag = tag
        # Per source_addr: service_type's NUL, the source's TON, NPI, address and NUL, and
        # the destination's TON and NPI.
        self._heads: dict[str, bytes] = {}

    def body(self, source: str, destination: str, registered_delivery: int,
             data_coding: int, short_message: bytes, tlv_value: bytes) -> bytes | None:
        """The body, or None where a field cannot go on the wire as given: the caller
        then builds the SubmitSm, whose encoding names the field."""
        head = self._heads.get(source)
        if head is None:
            head = self._head(source)
            if head is None:
                return None
        try:
            address = destination.encode("ascii")
            flags = bytes((registered_delivery, 0, data_coding, 0, len(short_message)))
        except (UnicodeEncodeError, ValueError):  # ValueError: a flag or length past 255
            return None
        if len(address) > 20 or b"\0" in address or len(tlv_value) > 0xFFFF:
            return None
        return b"".join((head, address, b"\0\0\0\0\0\0", flags, short_message,
                         _TAG_LENGTH.pack(self._tag, len(tlv_value)), tlv_value))

    def _head(self, source: str) -> bytes | None:
        source_ton, source_npi, dest_ton, dest_npi = self._tons_npis
        try:
            address = source.encode(LATIN1)
            head = b"".join((b"\0", bytes((source_ton, source_npi)), address, b"\0",
                             bytes((dest_ton, dest_npi))))
        except (UnicodeEncodeError, ValueError):
            return None
        if len(address) > 20 or b"\0" in address:
            return None
        if len(self._heads) >= self.MAX_SOURCES:
            self._heads.clear()
        self._heads[source] = head
        return head


# A client's hot path: the message id of a submit_sm_resp, and the receipt a deliver_sm
# carries, read from the frame without building the PDU. None whenever the frame is not the
# plain layout: the caller then decodes it (Session.decode) and reads it the general way.

_RECEIPTED_ID: Final = int(Tag.RECEIPTED_MESSAGE_ID)
_MESSAGE_STATE: Final = int(Tag.MESSAGE_STATE)
_NETWORK_ERROR: Final = int(Tag.NETWORK_ERROR_CODE)
_RECEIPT_KINDS: Final = MESSAGE_TYPE_MASK
_STATES: Final = {int(state): state for state in MessageState}


def submit_resp_message_id(frame: bytes) -> str | None:
    """A submit_sm_resp's message_id, when nothing follows its NUL (no TLVs)."""
    if len(frame) == 16:
        return ""  # an error answer without a body
    end_id = frame.find(0, 16, 81)
    if end_id != len(frame) - 1:
        return None
    return frame[16:end_id].decode(LATIN1)


def frame_receipt(frame: bytes, submit_id_base: int | None) -> Receipt | None:
    """read_receipt of the deliver_sm `frame`, when it is a receipt the plain way: a short
    message without UDH, and as TLVs the receipted_message_id (not blank) and a known
    message_state, and maybe the network_error_code (many SMSCs send it), nothing else."""
    match = _SHORT_MESSAGE_HEAD.match(frame, 16)
    if match is None:
        return None
    esm_class, data_coding, length = frame[match.start(6)], frame[match.start(9) + 2], \
        frame[match.end() - 1]
    start = match.end()
    end = start + length
    if esm_class & UDHI or end > len(frame):
        return None
    found = _receipt_tlvs(frame, end)
    if found is None:
        return None
    message_id, state, network_error = found
    return Receipt(message_id, normalise_message_id(message_id, submit_id_base), state,
                   network_error,
                   esm_class & _RECEIPT_KINDS == INTERMEDIATE_NOTIFICATION,
                   text.decode(frame[start:end], 8 if data_coding == 8 else 3))


def _receipt_tlvs(frame: bytes, offset: int) -> tuple[str, MessageState, bytes] | None:
    raw_id = raw_state = None
    network_error = b""
    size = len(frame)
    while offset < size:
        if size - offset < 4:
            return None
        tag, length = _TAG_LENGTH.unpack_from(frame, offset)
        offset += 4
        value_end = offset + length
        if value_end > size:
            return None
        if tag == _RECEIPTED_ID:
            raw_id = frame[offset:value_end]
        elif tag == _MESSAGE_STATE:
            raw_state = frame[offset:value_end]
        elif tag == _NETWORK_ERROR:
            network_error = frame[offset:value_end]
        else:
            return None
        offset = value_end
    if raw_id is None or raw_state is None or len(raw_state) != 1:
        return None
    message_id = raw_id.rstrip(b"\0").decode(LATIN1)
    state = _STATES.get(raw_state[0])
    if state is None or not message_id.strip():
        return None
    return message_id, state, network_error
