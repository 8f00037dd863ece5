"""SMPP 3.4 numbers: command ids, status codes and what they mean for a sender, TLV tags."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Final

RESPONSE_BIT: Final = 0x80000000
MAX_SEQUENCE: Final = 0x7FFFFFFF
HEADER_SIZE: Final = 16
INTERFACE_VERSION: Final = 0x34


class CommandId(IntEnum):
    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    CANCEL_SM = 0x00000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103


def command_name(command_id: int) -> str:
    try:
        return CommandId(command_id).name.lower()
    except ValueError:
        return f"command 0x{command_id:08x}"


class Status(IntEnum):
    """Command status codes of SMPP 3.4 §5.1.3 (0x400-0x4FF are left to vendors)."""

    ESME_ROK = 0x00
    ESME_RINVMSGLEN = 0x01
    ESME_RINVCMDLEN = 0x02
    ESME_RINVCMDID = 0x03
    ESME_RINVBNDSTS = 0x04
    ESME_RALYBND = 0x05
    ESME_RINVPRTFLG = 0x06
    ESME_RINVREGDLVFLG = 0x07
    ESME_RSYSERR = 0x08
    ESME_RINVSRCADR = 0x0A
    ESME_RINVDSTADR = 0x0B
    ESME_RINVMSGID = 0x0C
    ESME_RBINDFAIL = 0x0D
    ESME_RINVPASWD = 0x0E
    ESME_RINVSYSID = 0x0F
    ESME_RCANCELFAIL = 0x11
    ESME_RREPLACEFAIL = 0x13
    ESME_RMSGQFUL = 0x14
    ESME_RINVSERTYP = 0x15
    ESME_RINVNUMDESTS = 0x33
    ESME_RINVDLNAME = 0x34
    ESME_RINVDESTFLAG = 0x40
    ESME_RINVSUBREP = 0x42
    ESME_RINVESMCLASS = 0x43
    ESME_RCNTSUBDL = 0x44
    ESME_RSUBMITFAIL = 0x45
    ESME_RINVSRCTON = 0x48
    ESME_RINVSRCNPI = 0x49
    ESME_RINVDSTTON = 0x50
    ESME_RINVDSTNPI = 0x51
    ESME_RINVSYSTYP = 0x53
    ESME_RINVREPFLAG = 0x54
    ESME_RINVNUMMSGS = 0x55
    ESME_RTHROTTLED = 0x58
    ESME_RINVSCHED = 0x61
    ESME_RINVEXPIRY = 0x62
    ESME_RINVDFTMSGID = 0x63
    ESME_RX_T_APPN = 0x64
    ESME_RX_P_APPN = 0x65
    ESME_RX_R_APPN = 0x66
    ESME_RQUERYFAIL = 0x67
    ESME_RINVOPTPARSTREAM = 0xC0
    ESME_ROPTPARNOTALLWD = 0xC1
    ESME_RINVPARLEN = 0xC2
    ESME_RMISSINGOPTPARAM = 0xC3
    ESME_RINVOPTPARAMVAL = 0xC4
    ESME_RDELIVERYFAILURE = 0xFE
    ESME_RUNKNOWNERR = 0xFF


class StatusClass(StrEnum):
    """What a sender does with a response status."""

    OK = "ok"
    THROTTLED = "throttled"  # slow down and retry later: not a failure of the message
    TRANSIENT = "transient"  # retry the message (bounded by the attempt limit)
    BIND_CONFIG = "bind-config"  # the bind's credentials or type are wrong: alert, retry slowly
    PERMANENT = "permanent"  # this message will never be accepted as it is


_STATUS_VALUES: Final = frozenset(int(s) for s in Status)
_CLASSES: Final[dict[int, StatusClass]] = {
    Status.ESME_ROK: StatusClass.OK,
    Status.ESME_RTHROTTLED: StatusClass.THROTTLED,
    Status.ESME_RMSGQFUL: StatusClass.THROTTLED,
    Status.ESME_RSYSERR: StatusClass.TRANSIENT,
    Status.ESME_RINVBNDSTS: StatusClass.TRANSIENT,  # the session is not bound: rebind, resend
    Status.ESME_RX_T_APPN: StatusClass.TRANSIENT,
    Status.ESME_RDELIVERYFAILURE: StatusClass.TRANSIENT,
    Status.ESME_RUNKNOWNERR: StatusClass.TRANSIENT,
    Status.ESME_RBINDFAIL: StatusClass.BIND_CONFIG,
    Status.ESME_RINVPASWD: StatusClass.BIND_CONFIG,
    Status.ESME_RINVSYSID: StatusClass.BIND_CONFIG,
    Status.ESME_RINVSYSTYP: StatusClass.BIND_CONFIG,
}


def classify_status(status: int) -> StatusClass:
    """Known codes not listed above are about the message itself, hence permanent.

    Vendor codes (0x400-0x4FF) and codes nobody documented are transient: the attempt limit
    bounds the retries, and failing a message for good on a code we cannot read is worse.
    """
    known = _CLASSES.get(status)
    if known is not None:
        return known
    if status in _STATUS_VALUES:
        return StatusClass.PERMANENT
    return StatusClass.TRANSIENT


def status_name(status: int) -> str:
    """`ESME_RTHROTTLED`, `vendor 0x00000401` or `unknown 0x00000123`: never raises."""
    if status in _STATUS_VALUES:
        return Status(status).name
    kind = "vendor" if 0x400 <= status <= 0x4FF else "unknown"
    return f"{kind} 0x{status:08x}"


class Tag(IntEnum):
    """Optional parameter (TLV) tags of SMPP 3.4 §5.3.2."""

    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383


class TlvKind(IntEnum):
    """How a known TLV's value is typed: integers of 1, 2 or 4 octets, a C-string, octets."""

    U8 = 1
    U16 = 2
    U32 = 4
    CSTRING = 0
    OCTETS = -1


_INTEGER_TAGS: Final[dict[TlvKind, tuple[Tag, ...]]] = {
    TlvKind.U8: (
        Tag.DEST_ADDR_SUBUNIT, Tag.DEST_NETWORK_TYPE, Tag.DEST_BEARER_TYPE,
        Tag.SOURCE_ADDR_SUBUNIT, Tag.SOURCE_NETWORK_TYPE, Tag.SOURCE_BEARER_TYPE,
        Tag.SOURCE_TELEMATICS_ID, Tag.PAYLOAD_TYPE, Tag.MS_MSG_WAIT_FACILITIES,
        Tag.PRIVACY_INDICATOR, Tag.USER_RESPONSE_CODE, Tag.LANGUAGE_INDICATOR,
        Tag.SAR_TOTAL_SEGMENTS, Tag.SAR_SEGMENT_SEQNUM, Tag.SC_INTERFACE_VERSION,
        Tag.CALLBACK_NUM_PRES_IND, Tag.NUMBER_OF_MESSAGES, Tag.DPF_RESULT, Tag.SET_DPF,
        Tag.MS_AVAILABILITY_STATUS, Tag.DELIVERY_FAILURE_REASON, Tag.MORE_MESSAGES_TO_SEND,
        Tag.MESSAGE_STATE, Tag.USSD_SERVICE_OP, Tag.DISPLAY_TIME, Tag.MS_VALIDITY,
        Tag.ITS_REPLY_TYPE,
    ),
    TlvKind.U16: (
        Tag.DEST_TELEMATICS_ID, Tag.USER_MESSAGE_REFERENCE, Tag.SOURCE_PORT,
        Tag.DESTINATION_PORT, Tag.SAR_MSG_REF_NUM, Tag.SMS_SIGNAL,
    ),
    TlvKind.U32: (Tag.QOS_TIME_TO_LIVE,),
}

TLV_KINDS: Final[dict[int, TlvKind]] = {
    **{int(tag): kind for kind, tags in _INTEGER_TAGS.items() for tag in tags},
    Tag.ADDITIONAL_STATUS_INFO_TEXT: TlvKind.CSTRING,
    Tag.RECEIPTED_MESSAGE_ID: TlvKind.CSTRING,
}
"""Tags absent from this map (octet strings, vendor tags) are kept as raw bytes."""
