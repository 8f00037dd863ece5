"""SMPP 3.4 PDUs as dataclasses; each body field declares its wire form in its metadata.

Every PDU carries `sequence_number` and `command_status` (header); body fields follow in
wire order. `cstring(n)` is a C-octet string whose maximum size `n` counts the NUL, as the
specification's tables do; `u8()` is one octet; `short_message` is sm_length + octets.
`tlvs` maps tag -> value: int for the integer tags, str for C-string tags, bytes for the
others (and for unknown tags, which are kept and re-encoded as they came).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, overload

from dispatch.smpp.constants import INTERFACE_VERSION, RESPONSE_BIT, CommandId

TlvValue = int | str | bytes
Tlvs = dict[int, TlvValue]

CSTRING: Final = "cstring"
U8: Final = "u8"
SHORT_MESSAGE: Final = "short_message"
MAX_SHORT_MESSAGE: Final = 254


def cstring(max_size: int) -> Any:
    return field(default="", metadata={CSTRING: max_size})


def u8(default: int = 0) -> Any:
    return field(default=default, metadata={U8: 1})


def short_message() -> Any:
    return field(default=b"", metadata={SHORT_MESSAGE: MAX_SHORT_MESSAGE})


@dataclass(slots=True)
class Pdu:
    command_id: ClassVar[int]
    sequence_number: int = 0
    command_status: int = 0

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE_BIT)


# Header-only PDUs.


@dataclass(slots=True)
class EnquireLink(Pdu):
    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK


@dataclass(slots=True)
class EnquireLinkResp(Pdu):
    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK_RESP


@dataclass(slots=True)
class Unbind(Pdu):
    command_id: ClassVar[int] = CommandId.UNBIND


@dataclass(slots=True)
class UnbindResp(Pdu):
    command_id: ClassVar[int] = CommandId.UNBIND_RESP


@dataclass(slots=True)
class GenericNack(Pdu):
    command_id: ClassVar[int] = CommandId.GENERIC_NACK


# Binds.


@dataclass(slots=True)
class Bind(Pdu):
    system_id: str = cstring(16)
    password: str = cstring(9)
    system_type: str = cstring(13)
    interface_version: int = u8(INTERFACE_VERSION)
    addr_ton: int = u8()
    addr_npi: int = u8()
    address_range: str = cstring(41)
    tlvs: Tlvs = field(default_factory=dict)


@dataclass(slots=True)
class BindTransmitter(Bind):
    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER


@dataclass(slots=True)
class BindReceiver(Bind):
    command_id: ClassVar[int] = CommandId.BIND_RECEIVER


@dataclass(slots=True)
class BindTransceiver(Bind):
    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER


@dataclass(slots=True)
class BindResp(Pdu):
    system_id: str = cstring(16)
    tlvs: Tlvs = field(default_factory=dict)


@dataclass(slots=True)
class BindTransmitterResp(BindResp):
    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER_RESP


@dataclass(slots=True)
class BindReceiverResp(BindResp):
    command_id: ClassVar[int] = CommandId.BIND_RECEIVER_RESP


@dataclass(slots=True)
class BindTransceiverResp(BindResp):
    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER_RESP


# Short messages.


@dataclass(slots=True)
class ShortMessagePdu(Pdu):
    """submit_sm and deliver_sm share this body (SMPP 3.4 §4.4.1 and §4.6.1)."""

    service_type: str = cstring(6)
    source_addr_ton: int = u8()
    source_addr_npi: int = u8()
    source_addr: str = cstring(21)
    dest_addr_ton: int = u8()
    dest_addr_npi: int = u8()
    destination_addr: str = cstring(21)
    esm_class: int = u8()
    protocol_id: int = u8()
    priority_flag: int = u8()
    schedule_delivery_time: str = cstring(17)
    validity_period: str = cstring(17)
    registered_delivery: int = u8()
    replace_if_present_flag: int = u8()
    data_coding: int = u8()
    sm_default_msg_id: int = u8()
    short_message: bytes = short_message()
    tlvs: Tlvs = field(default_factory=dict)


@dataclass(slots=True)
class SubmitSm(ShortMessagePdu):
    command_id: ClassVar[int] = CommandId.SUBMIT_SM


@dataclass(slots=True)
class DeliverSm(ShortMessagePdu):
    command_id: ClassVar[int] = CommandId.DELIVER_SM


@dataclass(slots=True)
class MessageIdResp(Pdu):
    message_id: str = cstring(65)
    tlvs: Tlvs = field(default_factory=dict)


@dataclass(slots=True)
class SubmitSmResp(MessageIdResp):
    command_id: ClassVar[int] = CommandId.SUBMIT_SM_RESP


@dataclass(slots=True)
class DeliverSmResp(MessageIdResp):
    command_id: ClassVar[int] = CommandId.DELIVER_SM_RESP


PDU_CLASSES: Final[dict[int, type[Pdu]]] = {
    cls.command_id: cls
    for cls in (
        EnquireLink, EnquireLinkResp, Unbind, UnbindResp, GenericNack,
        BindTransmitter, BindReceiver, BindTransceiver,
        BindTransmitterResp, BindReceiverResp, BindTransceiverResp,
        SubmitSm, SubmitSmResp, DeliverSm, DeliverSmResp,
    )
}

RESPONSE_CLASSES: Final[dict[int, type[Pdu]]] = {
    cid: PDU_CLASSES[cid | RESPONSE_BIT]
    for cid in PDU_CLASSES
    if not cid & RESPONSE_BIT
}


@overload
def response_to(request: SubmitSm, command_status: int = 0) -> SubmitSmResp: ...
@overload
def response_to(request: DeliverSm, command_status: int = 0) -> DeliverSmResp: ...
@overload
def response_to(request: BindTransmitter, command_status: int = 0) -> BindTransmitterResp: ...
@overload
def response_to(request: BindReceiver, command_status: int = 0) -> BindReceiverResp: ...
@overload
def response_to(request: BindTransceiver, command_status: int = 0) -> BindTransceiverResp: ...
@overload
def response_to(request: EnquireLink, command_status: int = 0) -> EnquireLinkResp: ...
@overload
def response_to(request: Unbind, command_status: int = 0) -> UnbindResp: ...
@overload
def response_to(request: Pdu, command_status: int = 0) -> Pdu: ...
def response_to(request: Pdu, command_status: int = 0) -> Pdu:
    """The empty response to `request`, with its sequence number (fill message_id etc.)."""
    cls = RESPONSE_CLASSES[request.command_id]
    return cls(sequence_number=request.sequence_number, command_status=command_status)
