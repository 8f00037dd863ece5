"""No deliver_sm stops the SMPP gateway (issue 17, item 9): bytes that are not text of
their alphabet (a lone UCS-2 surrogate, an odd length, NULs), a UDH longer than the
message, a receipt text that is not ASCII, a body cut short: each is answered and what
can be read is recorded with U+FFFD for what cannot; the good deliveries that follow are
recorded. A real gateway on a test SMSC, over TCP."""

from __future__ import annotations

import struct

import msgpack
import trio

from dispatch.smpp import DeliverSm, Tag
from dispatch.smpp.constants import CommandId

from .helpers import (
    FakeInbound,
    all_messages,
    all_receipts,
    mo_pdu,
    receipt_pdu,
    running_gateway,
    running_smsc,
    settings,
)
from .smsc import TestSmsc


def raw(short_message: bytes, *, data_coding: int = 0, esm_class: int = 0,
        tlvs: dict[int, int | str | bytes] | None = None) -> DeliverSm:
    return DeliverSm(source_addr="33612345678", source_addr_ton=1, destination_addr="38123",
                     esm_class=esm_class, data_coding=data_coding,
                     short_message=short_message, tlvs=tlvs or {})


BAD = [
    raw(b"\xd8\x00\x00A", data_coding=8),  # a lone high surrogate, then "A"
    raw(b"\x00S\x00T\x00", data_coding=8),  # odd length
    raw(b"ST\x00OP\x00\x00", data_coding=3),  # NULs inside and as padding
    raw(b"\xff\xfe\x80", data_coding=0x11),  # a data coding scheme byte, bytes > 0x7F
    raw(b"\x0a\x00\x03", esm_class=0x40),  # a UDH longer than the message
    raw("id:\udc80".encode("utf-8", "surrogateescape") + b"\xed\xa0\x80 stat:DELIVRD",
        esm_class=0x04),  # a receipt whose text is not ASCII, an id cut by it
    raw(b"\xd8\x00 stat:UNDELIV", esm_class=0x04, data_coding=8),
    raw(b"", esm_class=0x04, tlvs={Tag.RECEIPTED_MESSAGE_ID: "ab\x00\xff",
                                   Tag.MESSAGE_STATE: 2}),
]


def cut_short() -> bytes:
    """A deliver_sm whose body ends inside its first field (no NUL), framed correctly."""
    body = b"CMT"
    return struct.pack(">IIII", 16 + len(body), CommandId.DELIVER_SM, 0, 9999) + body


def storable(value: str) -> bool:
    return "\0" not in value and bool(msgpack.packb(value))


async def test_bad_deliveries_are_answered_and_good_ones_after_them_recorded() -> None:
    inbound = FakeInbound()
    smsc = TestSmsc()
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port), inbound):
            conn = await smsc.connection(0)
            await conn.send(*BAD)
            await smsc.until(lambda: len(conn.deliver_resps) == len(BAD))
            await conn.write(cut_short())
            await conn.send(mo_pdu("STOP"), receipt_pdu("77"))
            await smsc.until(lambda: len(conn.deliver_resps) == len(BAD) + 2)
    texts = [message.text for message in all_messages(inbound)]
    assert texts[:3] == ["\ufffdA", "ST\ufffd", "ST\ufffdOP"]
    assert texts[-1] == "STOP"
    assert all(storable(t) for t in texts)
    receipts = all_receipts(inbound)
    assert receipts[-1].gateway_id == "77"
    assert all(storable(r.gateway_id) and storable(r.reason) for r in receipts), receipts
    assert {r.command_status for r in conn.deliver_resps} == {0}
