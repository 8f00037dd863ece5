"""deliver_sm from the test SMSC: receipts and MO reach Inbound before they are answered."""

from __future__ import annotations

import pytest
import trio

from dispatch.smpp import Status, Tag
from dispatch.vocabulary import Accepted, InboundMessage, Receipt

from .helpers import (
    FakeInbound,
    all_messages,
    all_receipts,
    eventually,
    mo_pdu,
    outbound,
    receipt_pdu,
    running_gateway,
    running_smsc,
    settings,
)
from .smsc import TestSmsc


async def test_receipts_are_recorded_before_deliver_sm_resp_in_one_batch() -> None:
    inbound = FakeInbound(gate=trio.Event())
    smsc = TestSmsc()
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port), inbound):
            conn = await smsc.connection(0)
            sequences = await conn.send(
                receipt_pdu("00AB12"), receipt_pdu("77", stat="UNDELIV", err="001"),
                receipt_pdu("x-9", stat="EXPIRED"), receipt_pdu("5", stat="ENROUTE"))
            await inbound.called.wait()
            await trio.sleep(0.05)  # the gateway had every chance to answer early
            assert conn.deliver_resps == []
            assert inbound.gate is not None
            inbound.gate.set()
            await smsc.until(lambda: len(conn.deliver_resps) == 4)
    assert inbound.journal == ["receipts", "receipts recorded"]  # one call for the batch
    assert inbound.receipts_calls == [[
        Receipt("ab12", "d", "receipt delivered"),
        Receipt("77", "f", "receipt undeliverable, error 001"),
        Receipt("x-9", "x", "receipt expired, error 000")]]  # ENROUTE: acknowledged only
    assert sorted(r.sequence_number for r in conn.deliver_resps) == sorted(sequences)
    assert {r.command_status for r in conn.deliver_resps} == {0}


async def test_receipt_ids_are_normalised_like_the_submit_ids() -> None:
    inbound = FakeInbound()
    smsc = TestSmsc(message_id=lambda pdu, status: "1A2B")
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(
                settings(smsc.port, submit_id_base="hex", receipt_id_base="dec"), inbound) as gw:
            [accepted] = await gw.submit(outbound(1))
            conn = await smsc.connection(0)
            await conn.send(receipt_pdu("6699"),  # the text's decimal form
                            receipt_pdu("ignored", stat="UNDELIV",
                                        tlvs={Tag.RECEIPTED_MESSAGE_ID: "00001a2b",
                                              Tag.MESSAGE_STATE: 5}))
            await smsc.until(lambda: len(conn.deliver_resps) == 2)
    assert accepted == Accepted("6699")
    assert [r.gateway_id for r in all_receipts(inbound)] == ["6699", "6699"]
    assert [r.code for r in all_receipts(inbound)] == ["d", "f"]


async def test_intermediate_notification_is_only_acknowledged() -> None:
    inbound = FakeInbound()
    smsc = TestSmsc()
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port), inbound) as gw:
            conn = await smsc.connection(0)
            await conn.send(receipt_pdu("1", stat="ACCEPTD"),
                            receipt_pdu("2", stat="DELIVRD", esm_class=0x20))
            await smsc.until(lambda: len(conn.deliver_resps) == 2)
            assert gw.stats.receipts_acknowledged_only == 2
    assert inbound.receipts_calls == []
    assert {r.command_status for r in conn.deliver_resps} == {0}


async def test_recording_failure_answers_rx_t_appn_so_the_smsc_resends(
        caplog: pytest.LogCaptureFixture) -> None:
    inbound = FakeInbound(fail=True)
    smsc = TestSmsc()
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port), inbound) as gw:
            conn = await smsc.connection(0)
            await conn.send(receipt_pdu("1"), mo_pdu("STOP"))
            await smsc.until(lambda: len(conn.deliver_resps) == 2)
            await conn.send(receipt_pdu("2"))
            await smsc.until(lambda: len(conn.deliver_resps) == 3)
            assert gw.stats.inbound_failures == 3
    assert {r.command_status for r in conn.deliver_resps} == {Status.ESME_RX_T_APPN}
    # One line for the outage (Redis away fails every deliver_sm), naming the cause.
    told = [r.getMessage() for r in caplog.records if "recording what" in r.getMessage()]
    assert len(told) == 1 and "failing" in told[0] and "RuntimeError: redis is down" in told[0]


async def test_mo_single_part_reaches_inbound_with_e164_source() -> None:
    inbound = FakeInbound(gate=trio.Event())
    smsc = TestSmsc()
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port), inbound):
            conn = await smsc.connection(0)
            await conn.send(mo_pdu("STOP €"))
            await inbound.called.wait()
            await trio.sleep(0.05)
            assert conn.deliver_resps == []
            assert inbound.gate is not None
            inbound.gate.set()
            await smsc.until(lambda: conn.deliver_resps)
    assert inbound.message_calls == [[InboundMessage("+33612345678", "38123", "STOP €", "gw")]]
    assert conn.deliver_resps[0].command_status == 0


async def test_mo_in_parts_is_reassembled_across_reads_and_binds() -> None:
    inbound = FakeInbound()
    smsc = TestSmsc()
    first, second = "Bonjour, je ne veux plus ", "recevoir de messages. STOP"
    ucs2 = ["Ça ", "va ☺"]
    with trio.fail_after(10):
        async with running_smsc(smsc), \
                running_gateway(settings(smsc.port, binds=2), inbound):
            one, two = await smsc.connection(0), await smsc.connection(1)
            await one.send(mo_pdu(second, udh=bytes([5, 0, 3, 9, 2, 2])))
            await smsc.until(lambda: one.deliver_resps)  # held, acknowledged
            assert inbound.message_calls == []
            await two.send(mo_pdu(first, udh=bytes([5, 0, 3, 9, 2, 1])))
            await one.send(  # the sar_* TLV form, in UCS-2
                mo_pdu(ucs2[0], data_coding=8, tlvs={Tag.SAR_MSG_REF_NUM: 300,
                       Tag.SAR_TOTAL_SEGMENTS: 2, Tag.SAR_SEGMENT_SEQNUM: 1}),
                mo_pdu(ucs2[1], data_coding=8, tlvs={Tag.SAR_MSG_REF_NUM: 300,
                       Tag.SAR_TOTAL_SEGMENTS: 2, Tag.SAR_SEGMENT_SEQNUM: 2}))
            await eventually(lambda: len(all_messages(inbound)) == 2)
    assert [m.text for m in all_messages(inbound)] == [first + second, "Ça va ☺"]


async def test_mo_parts_are_held_again_when_recording_fails() -> None:
    inbound = FakeInbound(fail=True)
    smsc = TestSmsc()
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port), inbound):
            conn = await smsc.connection(0)
            await conn.send(mo_pdu("one ", udh=bytes([5, 0, 3, 4, 2, 1])))
            await conn.send(mo_pdu("two", udh=bytes([5, 0, 3, 4, 2, 2])))
            await smsc.until(lambda: len(conn.deliver_resps) == 2)
            assert [r.command_status for r in conn.deliver_resps] == [0, 0x64]
            inbound.fail = False
            await conn.send(mo_pdu("two", udh=bytes([5, 0, 3, 4, 2, 2])))  # the resend
            await smsc.until(lambda: len(conn.deliver_resps) == 3)
    assert [m.text for m in all_messages(inbound)] == ["one two"]


async def test_incomplete_mo_is_recorded_with_what_arrived_after_the_timeout(
        autojump_clock: trio.testing.MockClock) -> None:
    inbound = FakeInbound()
    smsc = TestSmsc()
    with trio.fail_after(2000):
        async with running_smsc(smsc), running_gateway(settings(smsc.port), inbound):
            conn = await smsc.connection(0)
            await conn.send(mo_pdu("lost half", udh=bytes([5, 0, 3, 7, 2, 1])))
            await smsc.until(lambda: conn.deliver_resps)
            started = trio.current_time()
            # Swept by the timer: nothing else arrives to trigger it.
            await eventually(lambda: all_messages(inbound), step_s=1.0)
            assert 600 <= trio.current_time() - started <= 700
    assert [m.text for m in all_messages(inbound)] == ["lost half"]


async def test_a_connection_lost_while_receipts_are_recorded_leaves_them_unanswered() -> None:
    """The SMSC hangs up while a batch is being recorded: the recording ends with its
    connection, nothing is answered on the dead connection, nothing raises out of the
    gateway, and it binds again (an SMSC resends what it had no answer for)."""
    inbound = FakeInbound(gate=trio.Event())
    smsc = TestSmsc()
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port, binds=1),
                                                       inbound) as gateway:
            conn = await smsc.connection(0)
            await conn.send(receipt_pdu("41"), receipt_pdu("42"))
            await inbound.called.wait()
            await conn.close()
            await trio.sleep(0.05)  # the gateway sees the connection end
            assert inbound.gate is not None
            inbound.gate.set()  # recording finishes after the connection is gone
            again = await smsc.connection(1)  # bound anew
            await again.send(receipt_pdu("43"))
            await smsc.until(lambda: len(again.deliver_resps) == 1)
            [accepted] = await gateway.submit(outbound(1))
    assert conn.deliver_resps == []
    assert isinstance(accepted, Accepted)
    assert inbound.journal[0] == "receipts"  # the first batch was being recorded
    assert [r.gateway_id for call in inbound.receipts_calls for r in call] == ["43"]
