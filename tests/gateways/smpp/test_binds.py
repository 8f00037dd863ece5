"""Bind lifecycle against the test SMSC: failures, unbinds, drops, keepalives, shutdown."""

from __future__ import annotations

import logging
import struct

import pytest
import trio

from dispatch.gateways.smpp.gateway import SmppGateway
from dispatch.settings import ConfigError
from dispatch.smpp import (
    BindReceiver,
    BindTransmitter,
    EnquireLink,
    Status,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    encode_pdu,
)
from dispatch.vocabulary import Accepted, Retry

from .helpers import (
    FakeInbound,
    all_receipts,
    bound,
    eventually,
    outbound,
    receipt_pdu,
    running_gateway,
    running_smsc,
    settings,
)
from .smsc import TestSmsc


async def test_bind_refused_for_credentials_is_a_configuration_error(
        autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    smsc = TestSmsc(bind_statuses=[0x0E])
    with trio.fail_after(60):
        async with running_smsc(smsc), \
                running_gateway(settings(smsc.port, reconnect_max_s=20)) as gw:
            started = trio.current_time()
            # run() has started although the bind failed; submissions retry at once.
            assert await gw.submit(outbound(1)) == [Retry("no bind available", 1.0, counts=False)]
            await bound(smsc, gw)  # the slow retry binds
            assert 18 <= trio.current_time() - started <= 20
            assert await gw.submit(outbound(1)) == [Accepted("ref-0")]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    line = errors[0].getMessage()
    assert "gateway gw" in line and "ESME_RINVPASWD" in line and "configuration" in line
    assert all("s3cret" not in r.getMessage() for r in caplog.records)


async def test_other_bind_failures_back_off_quickly(
        autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture) -> None:
    smsc = TestSmsc(bind_statuses=[0x08, 0x08])
    with trio.fail_after(60):
        async with running_smsc(smsc), \
                running_gateway(settings(smsc.port, reconnect_max_s=20)) as gw:
            started = trio.current_time()
            await smsc.connection(0)
            assert trio.current_time() - started < 3  # 0.25-0.5 s, then 0.5-1 s
            assert gw.stats.bind_failures == 2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_server_unbind_waits_for_answers_then_rebinds(
        autojump_clock: trio.testing.MockClock) -> None:
    smsc = TestSmsc(delay_s=0.5)
    with trio.fail_after(60):
        async with running_smsc(smsc), running_gateway(settings(smsc.port)) as gw:
            first = await smsc.connection(0)
            async with trio.open_nursery() as nursery:
                results: list[object] = []

                async def submit() -> None:
                    results.extend(await gw.submit(outbound(5)))
                nursery.start_soon(submit)
                await smsc.until(lambda: len(first.submits) == 5)
                await first.send(Unbind())
            assert results == [Accepted(f"ref-{i}") for i in range(5)]  # answered first
            await first.unbind_resp.wait()
            await bound(smsc, gw, 1)
            second = smsc.bound[1]
            assert await gw.submit(outbound(1, start=9)) == [Accepted("ref-9")]
            assert len(second.submits) == 1 and len(first.submits) == 5
            assert gw.stats.lost_in_flight == 0


async def test_connection_drop_retries_outstanding_and_reconnects(
        autojump_clock: trio.testing.MockClock) -> None:
    answering = {"on": False}
    smsc = TestSmsc(respond=lambda pdu: 0 if answering["on"] else None)
    with trio.fail_after(60):
        async with running_smsc(smsc), running_gateway(settings(smsc.port)) as gw:
            first = await smsc.connection(0)
            async with trio.open_nursery() as nursery:
                results: list[object] = []

                async def submit() -> None:
                    results.extend(await gw.submit(outbound(3)))
                nursery.start_soon(submit)
                await smsc.until(lambda: len(first.submits) == 3)
                await first.close()
            assert len(results) == 3
            assert all(isinstance(r, Retry) and "fate unknown" in r.reason for r in results)
            assert gw.stats.lost_in_flight == 3
            answering["on"] = True
            await bound(smsc, gw, 1)
            assert await gw.submit(outbound(1)) == [Accepted("ref-0")]


async def test_clean_close_after_answering_everything_loses_nothing(
        autojump_clock: trio.testing.MockClock) -> None:
    smsc = TestSmsc()
    with trio.fail_after(60):
        async with running_smsc(smsc), running_gateway(settings(smsc.port)) as gw:
            first = await smsc.connection(0)
            assert await gw.submit(outbound(4)) == [Accepted(f"ref-{i}") for i in range(4)]
            await first.close()
            await smsc.connection(1)
            assert gw.stats.lost_in_flight == 0 and gw.stats.timeouts == 0
            assert gw.stats.disconnects == 1


async def test_enquire_link_from_the_smsc_is_answered() -> None:
    smsc = TestSmsc()
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port)):
            conn = await smsc.connection(0)
            await conn.send(EnquireLink(), EnquireLink())
            await smsc.until(lambda: conn.enquire_link_resps == 2)


async def test_what_the_client_cannot_accept_is_answered_not_fatal() -> None:
    smsc = TestSmsc()
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port)) as gw:
            conn = await smsc.connection(0)
            unknown = struct.pack(">IIII", 16, 0x00000103, 0, 77)  # data_sm: not supported
            not_allowed = encode_pdu(SubmitSm(sequence_number=78))  # an SMSC may not submit
            await conn.write(unknown + not_allowed)
            await smsc.until(lambda: conn.nacks and conn.others)
            assert [(n.sequence_number, n.command_status) for n in conn.nacks] == [
                (77, Status.ESME_RINVCMDID)]
            [refusal] = conn.others
            assert isinstance(refusal, SubmitSmResp)
            assert (refusal.sequence_number, refusal.command_status) == (
                78, Status.ESME_RINVBNDSTS)
            assert await gw.submit(outbound(1)) == [Accepted("ref-0")]  # still bound
            assert gw.stats.disconnects == 0


async def test_idle_bind_sends_enquire_link_and_reconnects_without_answer(
        autojump_clock: trio.testing.MockClock) -> None:
    smsc = TestSmsc(answer_enquire_link=False)
    with trio.fail_after(120):
        async with running_smsc(smsc), \
                running_gateway(settings(smsc.port, enquire_link_s=10, timeout_s=3)) as gw:
            first = await smsc.connection(0)
            started = trio.current_time()
            await smsc.until(lambda: first.enquire_links == 1)
            assert 10 <= trio.current_time() - started < 11
            await first.closed.wait()  # no answer within timeout_s: the client hung up
            assert 13 <= trio.current_time() - started < 14
            await smsc.connection(1)
            assert gw.stats.disconnects == 1


async def test_answered_enquire_link_keeps_the_bind(
        autojump_clock: trio.testing.MockClock) -> None:
    smsc = TestSmsc()
    with trio.fail_after(200):
        async with running_smsc(smsc), \
                running_gateway(settings(smsc.port, enquire_link_s=10)) as gw:
            first = await smsc.connection(0)
            await smsc.until(lambda: first.enquire_links == 5)
            assert len(smsc.connections) == 1 and gw.stats.disconnects == 0


async def test_transmitter_mode_binds_a_receiver_for_receipts() -> None:
    inbound = FakeInbound()
    smsc = TestSmsc()
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(
                settings(smsc.port, bind_mode="transmitter", binds=2), inbound) as gw:
            await smsc.until(lambda: len(smsc.bound) == 4)
            kinds = sorted(type(b).__name__ for b in smsc.binds)
            assert kinds == ["BindReceiver"] * 2 + ["BindTransmitter"] * 2
            assert await gw.submit(outbound(4)) == [Accepted(f"ref-{i}") for i in range(4)]
            transmitters = [c for c in smsc.bound if isinstance(c.bind, BindTransmitter)]
            assert sum(len(c.submits) for c in transmitters) == 4
            receiver = next(c for c in smsc.bound if isinstance(c.bind, BindReceiver))
            await receiver.send(receipt_pdu("ref-0"))
            await eventually(lambda: all_receipts(inbound))
    assert all_receipts(inbound)[0].gateway_id == "ref-0"


async def test_aclose_unbinds_politely() -> None:
    smsc = TestSmsc()
    with trio.fail_after(10):
        async with running_smsc(smsc):
            gateway = SmppGateway("gw", settings(smsc.port, binds=2))
            async with trio.open_nursery() as nursery:
                await nursery.start(gateway.run, FakeInbound())
                await smsc.until(lambda: len(smsc.bound) == 2)
                await gateway.aclose()
                assert [c.unbinds for c in smsc.connections] == [1, 1]
                await smsc.until(lambda: all(c.closed.is_set() for c in smsc.connections))
                assert not gateway.bound


async def test_unbinds_crossing_on_shutdown_are_both_answered() -> None:
    smsc = TestSmsc(unbind_back=True)
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port)) as gw:
            conn = await smsc.connection(0)
            await gw.aclose()
            await conn.unbind_resp.wait()  # the client answered the SMSC's unbind
            await smsc.until(lambda: conn.closed.is_set())


async def test_daemon_style_shutdown_cancel_then_aclose_also_unbinds() -> None:
    smsc = TestSmsc()
    with trio.fail_after(10):
        async with running_smsc(smsc):
            gateway = SmppGateway("gw", settings(smsc.port))
            async with trio.open_nursery() as nursery:
                await nursery.start(gateway.run, FakeInbound())
                await smsc.connection(0)
                nursery.cancel_scope.cancel()  # as Daemon.run does, then aclose shielded
                with trio.CancelScope(shield=True):
                    await gateway.aclose()
            await smsc.until(lambda: smsc.connections[0].closed.is_set())
            assert smsc.connections[0].unbinds == 1


@pytest.mark.parametrize(("key", "value"), [("password", "123456789"),
                                            ("system_id", "x" * 16), ("sender", "")])
def test_settings_smpp_cannot_carry_are_refused_naming_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"gateways.gw.{key}:") as caught:
        SmppGateway("gw", settings(2775, **{key: value}))
    assert value not in str(caught.value) or not value
