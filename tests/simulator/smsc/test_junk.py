"""Junk on one SMPP connection: that connection gets generic_nack or is closed, and a
well-behaved connection beside it keeps being served throughout."""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.simulator import SimulatorConfig
from dispatch.simulator.ledger import Ledger
from dispatch.simulator.smsc.connection import SmscConnection
from dispatch.simulator.smsc.core import SmscCore
from dispatch.smpp import (
    BindTransmitter,
    ConnectionClosed,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    ProtocolError,
    Status,
    SubmitSmResp,
    encode_pdu,
)

from .smpp_peer import Esme, bound, running, simulator, submit


async def served(esme: Esme, count: int = 3) -> None:
    """The well-behaved client still gets its answers."""
    await esme.send(*[submit(f"still {i}".encode()) for i in range(count)])
    for _ in range(count):
        assert (await esme.expect(SubmitSmResp)).command_status == 0


def closed(events: Sequence[object]) -> bool:
    return isinstance(events[-1], ConnectionClosed | ProtocolError)


async def test_random_bytes_close_that_connection_only() -> None:
    sim = simulator()
    junk = random.Random(7).randbytes(4096)
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as good:
            await served(good)
            bad = await Esme.connect(run.smpp_port)
            await bad.send_raw(junk)
            events = await bad.until_closed()
            await bad.aclose()
            await served(good)
    assert closed(events)
    assert all(isinstance(e, GenericNack) for e in events[:-1])
    assert sim.stats()["smpp"]["junk"] >= 1


async def test_command_length_two_to_the_31_closes_the_connection() -> None:
    sim = simulator()
    header = struct.pack(">IIII", 0x80000000, 0x00000004, 0, 1)
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as good:
            bad = await Esme.connect(run.smpp_port)
            await bad.send_raw(header + b"\0" * 100)
            events = await bad.until_closed()
            await bad.aclose()
            await served(good)
    assert [type(e) for e in events] == [ConnectionClosed]


async def test_truncated_pdu_then_close() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as good:
            bad = await Esme.connect(run.smpp_port)
            await bad.send_raw(encode_pdu(submit(sequence_number=5))[:30])
            await bad.stream.send_eof()
            events = await bad.until_closed()
            await bad.aclose()
            await served(good)
    assert [type(e) for e in events] == [ConnectionClosed]


async def test_undecodable_body_gets_generic_nack_and_the_connection_lives() -> None:
    sim = simulator()
    body = encode_pdu(submit(b"hello", sequence_number=3))
    broken = bytearray(body)
    broken[-6] = 200  # sm_length far past the end of the PDU
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send_raw(bytes(broken))
            nack = await esme.expect(GenericNack)
            await esme.send(EnquireLink())
            assert isinstance(await esme.event(), EnquireLinkResp)
            await served(esme)
    assert nack.sequence_number == 3 and nack.command_status != 0
    assert sim.stats()["smpp"]["junk"] == 1


async def test_unknown_and_unsupported_commands_get_generic_nack() -> None:
    sim = simulator()
    unknown = struct.pack(">IIII", 16, 0x00001234, 0, 41)
    query_sm = struct.pack(">IIII", 20, 0x00000003, 0, 42) + b"1\0\0\0"
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send_raw(unknown + query_sm)
            nacks = [await esme.expect(GenericNack) for _ in range(2)]
            await served(esme)
    assert [(n.sequence_number, n.command_status) for n in nacks] == [
        (41, Status.ESME_RINVCMDID), (42, Status.ESME_RINVCMDID)]


async def test_submit_before_bind_is_refused_with_invalid_bind_status() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as run:
            esme = await Esme.connect(run.smpp_port)
            await esme.send_raw(encode_pdu(submit(sequence_number=9)))
            response = await esme.expect(SubmitSmResp)
            await esme.aclose()
    assert (response.sequence_number, response.command_status) == (9, Status.ESME_RINVBNDSTS)
    assert sim.stats()["accepted"] == 0 and sim.stats()["smpp"]["invalid_state"] == 1


async def _feed(chunks: list[bytes]) -> tuple[SmscConnection, list[tuple[int, int, int]]]:
    """Run one connection over an in-memory stream: bind, then the chunks, then EOF.
    Returns the connection and the (command_id, status, sequence) of what it sent."""
    core = SmscCore(SimulatorConfig(smpp_port=0, seed=1), Ledger("t"), {}, random.Random(1))
    client, server = trio.testing.memory_stream_pair()
    connection = SmscConnection(server, core)
    received = bytearray()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(connection.run)
        await client.send_all(encode_pdu(BindTransmitter(1, system_id="fuzz")))
        for chunk in chunks:
            await client.send_all(chunk)
        await client.send_eof()
        while data := await client.receive_some(65536):  # until the SMSC closes
            received += data
    return connection, _headers(bytes(received))


def _headers(data: bytes) -> list[tuple[int, int, int]]:
    headers = []
    while data:
        length, command_id, status, sequence = struct.unpack_from(">IIII", data)
        headers.append((command_id, status, sequence))
        data = data[length:]
    return headers


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=300), max_size=6))
def test_no_bytes_crash_a_connection(chunks: list[bytes]) -> None:
    async def main() -> None:
        with trio.fail_after(10):
            connection, sent = await _feed(chunks)
        assert connection.session.state == "closed"
        assert connection.outstanding == 0  # everything read was answered
        assert sent[0] == (0x80000002, 0, 1)  # the bind_transmitter_resp came first

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF), st.binary(max_size=80))
def test_any_request_is_answered(command_id: int, status: int, body: bytes) -> None:
    frame = struct.pack(">IIII", 16 + len(body), command_id, status, 7) + body

    async def main() -> None:
        with trio.fail_after(10):
            _, sent = await _feed([frame])
        answers = [header for header in sent if header[2] == 7]
        if command_id & 0x80000000:
            # A response from the client is not answered, unless its id is unknown.
            assert answers in ([], [(0x80000000, Status.ESME_RINVCMDID, 7)])
        else:
            assert len(answers) == 1
            assert answers[0][0] in (command_id | 0x80000000, 0x80000000)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
