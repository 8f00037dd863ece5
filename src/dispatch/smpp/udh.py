"""Long messages: the user data header (UDH), the sar_* TLVs and message_payload.

A concatenated part carries `05 00 03 ref total seq` (8-bit reference) or
`06 08 04 ref_hi ref_lo total seq` (16-bit) at the head of short_message, with esm_class
bit 0x40 (UDHI) set; the header may hold other elements (ports, ...) before the
concatenation one, so it is walked, never matched at a fixed offset. Some SMSCs use the
sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs instead, and
message_payload (0x0424) carries the whole text with sm_length 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from dispatch.smpp.constants import Tag
from dispatch.smpp.errors import SmppDecodeError
from dispatch.smpp.pdu import Tlvs

UDHI: Final = 0x40  # esm_class bit: short_message starts with a UDH
IEI_CONCAT_8: Final = 0x00
IEI_CONCAT_16: Final = 0x08


@dataclass(frozen=True, slots=True)
class Concat:
    reference: int
    total: int
    sequence: int  # 1-based
    ref16: bool = False


@dataclass(frozen=True, slots=True)
class Content:
    """What a submit_sm/deliver_sm carries once the UDH or TLVs are taken apart."""

    payload: bytes  # the text's octets, without UDH
    concat: Concat | None
    elements: tuple[tuple[int, bytes], ...] = ()  # every UDH element (iei, data)
    problem: str = ""  # why the UDH could not be read (then payload is the whole message)


def concat_header(reference: int, total: int, sequence: int, *, ref16: bool = False) -> bytes:
    """The UDH (length octet included) of one part."""
    if ref16:
        return bytes((6, IEI_CONCAT_16, 4, reference >> 8 & 0xFF, reference & 0xFF,
                      total, sequence))
    return bytes((5, IEI_CONCAT_8, 3, reference & 0xFF, total, sequence))


def with_concat(payloads: list[bytes], reference: int, *, ref16: bool = False) -> list[bytes]:
    """short_message of each part: one part goes bare; several get a UDH (set esm_class 0x40)."""
    if len(payloads) <= 1:
        return list(payloads)
    total = len(payloads)
    return [concat_header(reference, total, seq, ref16=ref16) + payload
            for seq, payload in enumerate(payloads, start=1)]


def sar_tlvs(reference: int, total: int, sequence: int) -> Tlvs:
    """The TLV form of concatenation, for SMSCs configured for it."""
    return {Tag.SAR_MSG_REF_NUM: reference & 0xFFFF, Tag.SAR_TOTAL_SEGMENTS: total,
            Tag.SAR_SEGMENT_SEQNUM: sequence}


def parse_udh(message: bytes) -> tuple[tuple[tuple[int, bytes], ...], bytes]:
    """(elements, payload) of a short_message that starts with a UDH."""
    if not message:
        raise SmppDecodeError("UDH: UDHI is set but the message is empty")
    end = 1 + message[0]
    if end > len(message):
        raise SmppDecodeError(f"UDH: length {message[0]} exceeds the {len(message)}-octet message")
    elements: list[tuple[int, bytes]] = []
    offset = 1
    while offset < end:
        if offset + 2 > end:
            raise SmppDecodeError(f"UDH: element at octet {offset} is cut short")
        iei, size = message[offset], message[offset + 1]
        if offset + 2 + size > end:
            raise SmppDecodeError(f"UDH: element 0x{iei:02x} at octet {offset} overruns the UDH")
        elements.append((iei, message[offset + 2 : offset + 2 + size]))
        offset += 2 + size
    return tuple(elements), message[end:]


def find_concat(elements: tuple[tuple[int, bytes], ...]) -> Concat | None:
    """The concatenation element wherever it is; an inconsistent one counts as absent."""
    for iei, data in elements:
        if iei == IEI_CONCAT_8 and len(data) == 3:
            return _valid(Concat(data[0], data[1], data[2]))
        if iei == IEI_CONCAT_16 and len(data) == 4:
            return _valid(Concat(data[0] << 8 | data[1], data[2], data[3], ref16=True))
    return None


def concat_from_tlvs(tlvs: Tlvs) -> Concat | None:
    reference = tlvs.get(Tag.SAR_MSG_REF_NUM)
    total = tlvs.get(Tag.SAR_TOTAL_SEGMENTS)
    sequence = tlvs.get(Tag.SAR_SEGMENT_SEQNUM)
    if isinstance(reference, int) and isinstance(total, int) and isinstance(sequence, int):
        return _valid(Concat(reference, total, sequence, ref16=True))
    return None


def _valid(concat: Concat) -> Concat | None:
    # A part that claims seq 0 or seq > total would be held forever: read it as a whole.
    return concat if 1 <= concat.sequence <= concat.total else None


def message_content(esm_class: int, short_message: bytes, tlvs: Tlvs) -> Content:
    """Payload and concatenation of a message; never raises (a bad UDH is reported)."""
    payload = tlvs.get(Tag.MESSAGE_PAYLOAD)
    message = payload if isinstance(payload, bytes) and not short_message else short_message
    if not esm_class & UDHI:
        return Content(message, concat_from_tlvs(tlvs))
    try:
        elements, text = parse_udh(message)
    except SmppDecodeError as exc:
        return Content(message, None, problem=str(exc))
    return Content(text, find_concat(elements) or concat_from_tlvs(tlvs), elements)
