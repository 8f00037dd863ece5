"""Encode and decode whole PDUs: header (four big-endian u32), body, TLVs.

Each PDU class is compiled once into a plan: its body fields grouped into runs of
consecutive octets (one precompiled struct each) and C-strings, so a submit_sm costs a
handful of C calls, not one Python call per field. Decoding raises SmppDecodeError and
nothing else, whatever the bytes: the message names the PDU and the field.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, Final

from dispatch.smpp import fast
from dispatch.smpp.constants import HEADER_SIZE, RESPONSE_BIT, Status, command_name
from dispatch.smpp.errors import SmppDecodeError, SmppEncodeError
from dispatch.smpp.pdu import (
    CSTRING,
    PDU_CLASSES,
    SHORT_MESSAGE,
    MessageIdResp,
    Pdu,
    ShortMessagePdu,
)
from dispatch.smpp.tlv import decode_tlvs, encode_tlvs

HEADER: Final = struct.Struct(">IIII")

# Segment kinds of a plan.
_CSTRING: Final = 0  # (kind, field index, max size with NUL, field name)
_OCTETS: Final = 1  # (kind, first index, end index, struct, field names)
_SHORT_MESSAGE: Final = 2  # (kind, field index, max length, field name)
Segment = tuple[Any, ...]
FastEncode = Callable[[Any], bytes | None]
FastDecode = Callable[[Any, bytes, int, int, str], Pdu | None]


@dataclass(frozen=True, slots=True)
class _Plan:
    cls: type[Pdu]
    name: str
    segments: tuple[Segment, ...]
    has_body: bool
    is_response: bool
    getter: Callable[[Pdu], tuple[Any, ...]]
    fast_encode: FastEncode | None
    fast_decode: FastDecode | None


def _segments(cls: type[Pdu]) -> tuple[Segment, ...]:
    body = [f for f in fields(cls) if f.metadata]
    segments: list[Segment] = []
    for index, f in enumerate(body):
        if CSTRING in f.metadata:
            segments.append((_CSTRING, index, f.metadata[CSTRING], f.name))
        elif SHORT_MESSAGE in f.metadata:
            segments.append((_SHORT_MESSAGE, index, f.metadata[SHORT_MESSAGE], f.name))
        elif segments and segments[-1][0] == _OCTETS:  # extend the run of octets
            kind, first, _, _, names = segments[-1]
            segments[-1] = (kind, first, index + 1, struct.Struct(">" + "B" * (index + 1 - first)),
                            (*names, f.name))
        else:
            segments.append((_OCTETS, index, index + 1, struct.Struct(">B"), (f.name,)))
    return tuple(segments)


def _plan(cls: type[Pdu]) -> _Plan:
    names = [f.name for f in fields(cls) if f.metadata]
    has_body = bool(names)  # every PDU with a body also takes TLVs, as SMPP 5.0 allows
    getter = attrgetter(*names, "tlvs") if has_body else (lambda pdu: ())
    fast_encode, fast_decode = _fast_paths(cls)
    return _Plan(cls, command_name(cls.command_id), _segments(cls), has_body,
                 bool(cls.command_id & RESPONSE_BIT), getter, fast_encode, fast_decode)


def _fast_paths(cls: type[Pdu]) -> tuple[FastEncode | None, FastDecode | None]:
    if issubclass(cls, ShortMessagePdu):
        return fast.encode_short_message_body, fast.decode_short_message_body
    if issubclass(cls, MessageIdResp):
        return fast.encode_message_id_body, fast.decode_message_id_body
    return None, None


_PLANS: Final[dict[int, _Plan]] = {cid: _plan(cls) for cid, cls in PDU_CLASSES.items()}
_PLANS_BY_CLASS: Final[dict[type[Pdu], _Plan]] = {p.cls: p for p in _PLANS.values()}


# Encoding.


def encode_pdu(pdu: Pdu) -> bytes:
    """The PDU's bytes; SmppEncodeError names the field that cannot go on the wire."""
    plan = _PLANS_BY_CLASS[type(pdu)]
    body = b""
    if plan.has_body:
        quick = plan.fast_encode(pdu) if plan.fast_encode else None
        body = quick if quick is not None else _encode_body(pdu, plan)
    try:
        header = HEADER.pack(HEADER_SIZE + len(body), pdu.command_id, pdu.command_status,
                             pdu.sequence_number)
    except struct.error:
        raise SmppEncodeError(
            f"{plan.name}: sequence_number {pdu.sequence_number} or command_status "
            f"{pdu.command_status} does not fit 32 bits") from None
    return header + body


def _encode_body(pdu: Pdu, plan: _Plan) -> bytes:
    values = plan.getter(pdu)
    parts: list[bytes] = []
    for segment in plan.segments:
        kind = segment[0]
        if kind == _CSTRING:
            parts.append(_encode_cstring(values[segment[1]], segment, plan))
        elif kind == _OCTETS:
            parts.append(_encode_octets(values[segment[1] : segment[2]], segment, plan))
        else:
            parts.append(_encode_short_message(values[segment[1]], segment, plan))
    tlvs = values[-1]
    if tlvs:
        parts.append(encode_tlvs(tlvs))
    return b"".join(parts)


def _encode_cstring(value: str, segment: Segment, plan: _Plan) -> bytes:
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raise SmppEncodeError(f"{plan.name}.{segment[3]}: {value!r} is not latin-1") from None
    if len(raw) >= segment[2] or 0 in raw:
        raise SmppEncodeError(
            f"{plan.name}.{segment[3]}: {value!r} is longer than {segment[2] - 1} octets "
            "or holds a NUL")
    return raw + b"\0"


def _encode_octets(values: tuple[int, ...], segment: Segment, plan: _Plan) -> bytes:
    try:
        packed: bytes = segment[3].pack(*values)
    except struct.error:
        raise SmppEncodeError(
            f"{plan.name}: one of {', '.join(segment[4])} = {values} is not an octet") from None
    return packed


def _encode_short_message(value: bytes, segment: Segment, plan: _Plan) -> bytes:
    if len(value) > segment[2]:
        raise SmppEncodeError(
            f"{plan.name}.{segment[3]}: {len(value)} octets, at most {segment[2]} "
            "(use the message_payload TLV)")
    return bytes((len(value),)) + value


# Decoding.


def decode_pdu(frame: bytes) -> Pdu:
    """One whole PDU (header included) -> its dataclass; SmppDecodeError if it is not one."""
    if len(frame) < HEADER_SIZE:
        raise SmppDecodeError(f"PDU of {len(frame)} octets, shorter than its 16-octet header")
    length, command_id, status, sequence = HEADER.unpack_from(frame)
    if length != len(frame):
        raise SmppDecodeError(f"command_length {length} but the PDU has {len(frame)} octets")
    return decode_framed(frame, command_id, status, sequence)


def decode_framed(frame: bytes, command_id: int, status: int, sequence: int) -> Pdu:
    """decode_pdu for a caller that has already read the header and checked the length."""
    plan = _PLANS.get(command_id)
    if plan is None:
        raise SmppDecodeError(f"unsupported {command_name(command_id)}", Status.ESME_RINVCMDID)
    if not plan.has_body or (plan.is_response and len(frame) == HEADER_SIZE):
        # Header-only PDU (a stray body is ignored), or an error response without a body.
        return plan.cls(sequence, status)
    if plan.fast_decode is not None:
        quick = plan.fast_decode(plan.cls, frame, sequence, status, plan.name)
        if quick is not None:
            return quick
    return _decode_body(plan, frame, [sequence, status])


def _decode_body(plan: _Plan, frame: bytes, values: list[Any]) -> Pdu:
    offset = HEADER_SIZE
    for segment in plan.segments:
        kind = segment[0]
        if kind == _CSTRING:
            offset = _decode_cstring(frame, offset, segment, plan, values)
        elif kind == _OCTETS:
            offset = _decode_octets(frame, offset, segment, plan, values)
        else:
            offset = _decode_short_message(frame, offset, segment, plan, values)
    where = plan.name
    values.append(decode_tlvs(frame, offset, where) if offset < len(frame) else {})
    return plan.cls(*values)


def _decode_cstring(frame: bytes, offset: int, segment: Segment, plan: _Plan,
                    values: list[Any]) -> int:
    max_size = segment[2]
    nul = frame.find(0, offset, offset + max_size)
    if nul >= 0:
        values.append(frame[offset:nul].decode("latin-1"))
        return nul + 1
    remaining = len(frame) - offset
    if plan.is_response and remaining < max_size:
        # Some SMSCs end a response's message_id with the PDU instead of a NUL.
        values.append(frame[offset:].decode("latin-1"))
        return len(frame)
    problem = "no NUL before the end of the PDU" if remaining < max_size else (
        f"no NUL within {max_size} octets")
    raise SmppDecodeError(f"{plan.name}.{segment[3]}: {problem}")


def _decode_octets(frame: bytes, offset: int, segment: Segment, plan: _Plan,
                   values: list[Any]) -> int:
    layout: struct.Struct = segment[3]
    if offset + layout.size > len(frame):
        missing = segment[4][len(frame) - offset]
        raise SmppDecodeError(f"{plan.name}: the PDU ends before field {missing}")
    values.extend(layout.unpack_from(frame, offset))
    return offset + layout.size


def _decode_short_message(frame: bytes, offset: int, segment: Segment, plan: _Plan,
                          values: list[Any]) -> int:
    if offset >= len(frame):
        raise SmppDecodeError(f"{plan.name}: the PDU ends before sm_length")
    length = frame[offset]
    start = offset + 1
    if start + length > len(frame):
        raise SmppDecodeError(
            f"{plan.name}.{segment[3]}: sm_length {length} but {len(frame) - start} octets remain",
            Status.ESME_RINVMSGLEN)
    values.append(frame[start : start + length])
    return start + length
