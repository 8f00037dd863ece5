"""The client against an SMSC that shares no code with it: plain `struct`, no dispatch.smpp.

It answers bind_transceiver, submit_sm (a decimal id with leading zeros), enquire_link
and unbind; after each submit_sm it sends one deliver_sm receipt in the classic text form
with no TLVs and a decimal id without the zeros; it records deliver_sm_resp.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import trio

from dispatch.vocabulary import Accepted, Outbound, Receipt

from .helpers import FakeInbound, all_receipts, eventually, running_gateway, settings

HEADER = struct.Struct(">IIII")
BIND_TRANSCEIVER, SUBMIT_SM, DELIVER_SM, UNBIND, ENQUIRE_LINK = 0x09, 0x04, 0x05, 0x06, 0x15
RESP = 0x80000000


def pdu(command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    return HEADER.pack(16 + len(body), command_id, status, sequence) + body


def cstrings(body: bytes, count: int, offset: int = 0) -> tuple[list[bytes], int]:
    found = []
    for _ in range(count):
        end = body.index(b"\0", offset)
        found.append(body[offset:end])
        offset = end + 1
    return found, offset


@dataclass
class SubmitSeen:
    destination: bytes
    esm_class: int
    registered_delivery: int
    data_coding: int
    short_message: bytes


def parse_submit(body: bytes) -> SubmitSeen:
    _, offset = cstrings(body, 1)  # service_type
    offset += 2  # source ton, npi
    (_source,), offset = cstrings(body, 1, offset)
    offset += 2  # dest ton, npi
    (destination,), offset = cstrings(body, 1, offset)
    esm_class = body[offset]
    offset += 3  # esm_class, protocol_id, priority_flag
    _, offset = cstrings(body, 2, offset)  # schedule, validity
    registered, _replace, data_coding, _default, length = body[offset:offset + 5]
    message = body[offset + 5:offset + 5 + length]
    return SubmitSeen(destination, esm_class, registered, data_coding, message)


@dataclass
class PlainSmsc:
    port: int = 0
    submits: list[SubmitSeen] = field(default_factory=list)
    deliver_resps: list[tuple[int, int]] = field(default_factory=list)  # (sequence, status)
    enquire_links: int = 0
    next_id: int = 4711
    sequence: int = 1000

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self.handle, listeners)

    async def handle(self, stream: trio.SocketStream) -> None:
        buffer = b""
        async with stream:
            while data := await stream.receive_some(4096):
                buffer += data
                replies = []
                while len(buffer) >= 16 and len(buffer) >= HEADER.unpack_from(buffer)[0]:
                    length, command_id, status, sequence = HEADER.unpack_from(buffer)
                    replies.append(self.answer(command_id, status, sequence, buffer[16:length]))
                    buffer = buffer[length:]
                await stream.send_all(b"".join(replies))

    def answer(self, command_id: int, status: int, sequence: int, body: bytes) -> bytes:
        if command_id == BIND_TRANSCEIVER:
            return pdu(BIND_TRANSCEIVER | RESP, sequence, b"PLAIN\0")
        if command_id == SUBMIT_SM:
            self.submits.append(parse_submit(body))
            message_id = self.next_id
            self.next_id += 1
            return (pdu(SUBMIT_SM | RESP, sequence, b"%08d\0" % message_id)
                    + self.receipt(message_id))
        if command_id == DELIVER_SM | RESP:
            self.deliver_resps.append((sequence, status))
            return b""
        if command_id == ENQUIRE_LINK:
            self.enquire_links += 1
            return pdu(ENQUIRE_LINK | RESP, sequence)
        if command_id == UNBIND:
            return pdu(UNBIND | RESP, sequence)
        return pdu(RESP, sequence, status=0x03)  # generic_nack ESME_RINVCMDID

    def receipt(self, message_id: int) -> bytes:
        text = (b"id:%d sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
                b"stat:DELIVRD err:000 text:hello" % message_id)
        body = (b"\0" + bytes([1, 1]) + b"33612345678\0" + bytes([5, 0]) + b"DISPATCH\0"
                + bytes([0x04, 0, 0]) + b"\0\0" + bytes([0, 0, 0, 0, len(text)]) + text)
        self.sequence += 1
        return pdu(DELIVER_SM, self.sequence, body)


async def test_client_works_against_an_smsc_not_built_on_the_codec(
        autojump_clock: trio.testing.MockClock) -> None:
    inbound = FakeInbound()
    smsc = PlainSmsc()
    messages = [Outbound("a", "+33612345678", "DISPATCH", "hello"),
                Outbound("b", "+33612345679", "DISPATCH", "x" * 170)]
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            await nursery.start(smsc.serve)
            async with running_gateway(settings(smsc.port, enquire_link_s=5), inbound) as gw:
                results = await gw.submit(messages)
                await eventually(lambda: len(all_receipts(inbound)) == 3)
                await eventually(lambda: smsc.enquire_links >= 1, step_s=1.0)
            nursery.cancel_scope.cancel()
    # 00004711 in submit_sm_resp and 4711 in the receipt normalise alike.
    assert results == [Accepted("4711"), Accepted("4713")]
    assert [(s.destination, s.esm_class, s.registered_delivery) for s in smsc.submits] == [
        (b"33612345678", 0, 1), (b"33612345679", 0x40, 0), (b"33612345679", 0x40, 1)]
    assert all_receipts(inbound) == [Receipt(str(i), "d", "receipt delivered")
                                     for i in (4711, 4712, 4713)]
    assert sorted(smsc.deliver_resps) == [(1001, 0), (1002, 0), (1003, 0)]
    assert gw.stats.receipts == 3
