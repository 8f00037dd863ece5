"""Optional parameters (TLVs): u16 tag, u16 length, value; in any order, unknown ones kept."""

from __future__ import annotations

import struct
from typing import Final

from dispatch.smpp.constants import TLV_KINDS, Status, TlvKind
from dispatch.smpp.errors import SmppDecodeError, SmppEncodeError
from dispatch.smpp.pdu import Tlvs, TlvValue

_TAG_LENGTH: Final = struct.Struct(">HH")


def decode_tlvs(body: bytes, offset: int, where: str) -> Tlvs:
    """The TLVs from `offset` to the end of `body`; a repeated tag keeps its last value."""
    found: Tlvs = {}
    end = len(body)
    while offset < end:
        if end - offset < 4:
            raise SmppDecodeError(
                f"{where}: {end - offset} stray octet(s) after the last TLV",
                Status.ESME_RINVOPTPARSTREAM,
            )
        tag, length = _TAG_LENGTH.unpack_from(body, offset)
        offset += 4
        if offset + length > end:
            raise SmppDecodeError(
                f"{where}: TLV 0x{tag:04x} claims {length} octets, {end - offset} remain",
                Status.ESME_RINVPARLEN,
            )
        found[tag] = typed_value(tag, body[offset : offset + length])
        offset += length
    return found


def typed_value(tag: int, raw: bytes) -> TlvValue:
    """int or str for known tags of the right size; raw bytes otherwise (never fails)."""
    kind = TLV_KINDS.get(tag)
    if kind is None or kind is TlvKind.OCTETS:
        return raw
    if kind is TlvKind.CSTRING:
        return raw.rstrip(b"\0").decode("latin-1")
    if len(raw) == kind.value:
        return int.from_bytes(raw, "big")
    return raw  # a known integer tag of the wrong size: keep what came


def encode_tlvs(tlvs: Tlvs) -> bytes:
    if len(tlvs) == 1:  # the common case (a client's reference): one call fewer a PDU
        [(tag, value)] = tlvs.items()
        return encode_tlv(tag, value)
    return b"".join([encode_tlv(tag, value) for tag, value in tlvs.items()])


def encode_tlv(tag: int, value: TlvValue) -> bytes:
    raw = _raw_value(tag, value)
    if not 0 <= tag <= 0xFFFF or len(raw) > 0xFFFF:
        raise SmppEncodeError(f"TLV 0x{tag:04x}: tag or length does not fit 16 bits")
    return _TAG_LENGTH.pack(tag, len(raw)) + raw


def _raw_value(tag: int, value: TlvValue) -> bytes:
    # Each value of the type decoding gives for its tag (typed_value), so that what is
    # sent reads back as it was: a str for a u16 tag would come back an int, bytes for a
    # C-string tag a str.
    kind = TLV_KINDS.get(tag)
    if isinstance(value, bytes):
        if kind is TlvKind.CSTRING:
            raise SmppEncodeError(f"TLV 0x{tag:04x}: a C-string tag, give str")
        if kind is not None and len(value) == kind.value:
            raise SmppEncodeError(f"TLV 0x{tag:04x}: an integer tag, give int")
        return value
    if isinstance(value, str):
        if kind is not TlvKind.CSTRING:
            raise SmppEncodeError(f"TLV 0x{tag:04x}: not a C-string tag, give bytes or int")
        try:
            return value.encode("latin-1") + b"\0"
        except UnicodeEncodeError:
            raise SmppEncodeError(f"TLV 0x{tag:04x}: {value!r} is not latin-1") from None
    if kind is None or kind.value < 1:
        raise SmppEncodeError(f"TLV 0x{tag:04x}: not an integer tag, give bytes")
    if not 0 <= value < 1 << (8 * kind.value):
        raise SmppEncodeError(f"TLV 0x{tag:04x}: {value} does not fit {kind.value} octet(s)")
    return value.to_bytes(kind.value, "big")
