"""Status codes: names and what a sender does with them."""

from __future__ import annotations

import pytest

from dispatch.smpp import CommandId, Status, StatusClass, classify_status, command_name, status_name


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (0x00, StatusClass.OK),
        (0x58, StatusClass.THROTTLED),
        (0x14, StatusClass.THROTTLED),
        (0x08, StatusClass.TRANSIENT),
        (0x0D, StatusClass.BIND_CONFIG),
        (0x0E, StatusClass.BIND_CONFIG),
        (0x0F, StatusClass.BIND_CONFIG),
        (0x0B, StatusClass.PERMANENT),
        (0x0A, StatusClass.PERMANENT),
        (0x01, StatusClass.PERMANENT),
        (0x45, StatusClass.PERMANENT),
        (0x400, StatusClass.TRANSIENT),
        (0x4FF, StatusClass.TRANSIENT),
        (0x123456, StatusClass.TRANSIENT),
    ],
)
def test_classification(status: int, expected: StatusClass) -> None:
    assert classify_status(status) is expected


def test_names_never_fail() -> None:
    assert status_name(0x58) == "ESME_RTHROTTLED"
    assert status_name(0x401) == "vendor 0x00000401"
    assert status_name(0x1234) == "unknown 0x00001234"
    assert command_name(CommandId.SUBMIT_SM_RESP) == "submit_sm_resp"
    assert command_name(0x4242) == "command 0x00004242"


def test_appn_codes_an_esme_answers_deliver_sm_with() -> None:
    assert (Status.ESME_RX_T_APPN, Status.ESME_RX_P_APPN, Status.ESME_RX_R_APPN) == (
        0x64, 0x65, 0x66)
