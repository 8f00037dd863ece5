"""SMPP 3.4, sans-IO: PDUs and their codec, the session state machine, UDH, receipts, MO
reassembly. No sockets, no Trio, no Redis here; the Trio client and the SMSC simulator
drive a Session each."""

from dispatch.smpp.codec import decode_pdu, encode_pdu
from dispatch.smpp.constants import (
    CommandId,
    Status,
    StatusClass,
    Tag,
    classify_status,
    command_name,
    status_name,
)
from dispatch.smpp.errors import LocalProtocolError, SmppDecodeError, SmppEncodeError, SmppError
from dispatch.smpp.pdu import (
    Bind,
    BindReceiver,
    BindReceiverResp,
    BindResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    ShortMessagePdu,
    SubmitSm,
    SubmitSmResp,
    Tlvs,
    Unbind,
    UnbindResp,
    response_to,
)
from dispatch.smpp.session import (
    NEED_DATA,
    ConnectionClosed,
    Event,
    Frame,
    ProtocolError,
    Rejected,
    Role,
    Session,
    State,
)

__all__ = [
    "NEED_DATA", "Bind", "BindReceiver", "BindReceiverResp", "BindResp", "BindTransceiver",
    "BindTransceiverResp", "BindTransmitter", "BindTransmitterResp", "CommandId",
    "ConnectionClosed", "DeliverSm", "DeliverSmResp", "EnquireLink", "EnquireLinkResp", "Event",
    "Frame", "GenericNack", "LocalProtocolError", "Pdu", "ProtocolError", "Rejected", "Role",
    "Session", "ShortMessagePdu", "SmppDecodeError", "SmppEncodeError", "SmppError", "State",
    "Status", "StatusClass", "SubmitSm", "SubmitSmResp", "Tag", "Tlvs", "Unbind", "UnbindResp",
    "classify_status", "command_name", "decode_pdu", "encode_pdu", "response_to", "status_name",
]
