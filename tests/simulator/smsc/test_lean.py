"""The lean SMSC (`--lean`) over TCP, with the ESME of smpp_peer: what the daemon relies on
stays (binds, windows, unique ids, receipts and their resending, the ledger's counts)."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from dispatch.commands.common import UserError
from dispatch.commands.simulator import config_from
from dispatch.simulator import Simulator
from dispatch.simulator.config import SimulatorConfig, SimulatorConfigError
from dispatch.smpp import (
    BindReceiver,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    Status,
    SubmitSmResp,
    Tag,
    encode_pdu,
)
from dispatch.smpp.receipts import MessageState, read_receipt
from dispatch.smpp.udh import UDHI, concat_header
from dispatch.text import encode

from .smpp_peer import Esme, bound, running, simulator, submit, wait_for


def lean(**knobs: Any) -> Simulator:
    return simulator(smpp_lean=True, **knobs)


@pytest.mark.parametrize(("password", "status"), [("secret", Status.ESME_ROK),
                                                  ("wrong", Status.ESME_RINVPASWD)])
async def test_bind_authentication_and_a_second_bind(password: str, status: int) -> None:
    sim = lean(accounts={"acme": "secret"})
    with trio.fail_after(10):
        async with running(sim) as run:
            esme = await Esme.connect(run.smpp_port)
            response = await esme.bind(BindTransceiver(system_id="acme", password=password))
            await esme.send_raw(encode_pdu(BindTransceiver(99, system_id="acme")))
            again = await esme.expect(BindTransceiverResp)
            await esme.send(EnquireLink())
            assert isinstance(await esme.event(), EnquireLinkResp)
            await esme.aclose()
    assert (response.command_status, response.system_id) == (status, "dispatchsim")
    expected = Status.ESME_RALYBND if status == Status.ESME_ROK else Status.ESME_RINVPASWD
    assert again.command_status == expected
    assert sim.stats()["smpp"]["lean"] is True


async def test_submit_then_receipt_with_unique_ids() -> None:
    sim = lean(receipt_delay_ms=20)
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(*[submit(encode("Vote Dupont!", "gsm7"), registered_delivery=1,
                                     reference=f"m{i}") for i in range(50)])
            responses = [await esme.expect(SubmitSmResp) for _ in range(50)]
            delivers = [await esme.expect(DeliverSm) for _ in range(50)]
            await esme.send(*[DeliverSmResp(d.sequence_number) for d in delivers])
            await wait_for(lambda: sim.stats()["smpp"]["receipts_sent"] == 50)
    assert len({r.message_id for r in responses}) == 50
    receipt = read_receipt(delivers[0])
    assert receipt is not None
    assert receipt.message_id == receipt.fields.id == responses[0].message_id
    assert receipt.state is MessageState.DELIVERED and receipt.fields.text == "Vote Dupont!"
    assert (delivers[0].source_addr, delivers[0].destination_addr) == ("33612345678",
                                                                       "33700000001")
    stats = sim.stats()
    assert (stats["accepted"], stats["duplicates"], stats["outcomes"]["delivered"]) == (50, 0, 50)
    assert stats["smpp"]["receipts_pending"] == 0


async def test_past_the_window_is_queue_full() -> None:
    sim = lean(smpp_window=5)
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(*[submit(reference=f"m{i}") for i in range(8)])  # one read
            statuses = [(await esme.expect(SubmitSmResp)).command_status for _ in range(8)]
    assert statuses == [0] * 5 + [Status.ESME_RMSGQFUL] * 3
    assert (sim.stats()["smpp"]["queue_full"], sim.stats()["accepted"]) == (3, 5)


async def test_long_messages_count_once_and_duplicates_are_counted() -> None:
    sim = lean()
    long_parts = [submit(concat_header(9, 2, n) + b"part", esm_class=UDHI, reference="long")
                  for n in (1, 2)]
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            pdus = [submit(reference="a"), submit(reference="a"), submit(b"same"),
                    submit(b"same"), *long_parts, long_parts[1]]
            for pdu in pdus:  # one at a time: the order of acceptance is the order sent
                await esme.send(pdu)
                assert (await esme.expect(SubmitSmResp)).command_status == 0
    stats = sim.stats()
    # a, same, long: 3 messages; a again, same again, part 2 again
    assert (stats["accepted"], stats["duplicates"], stats["smpp"]["parts"]) == (3, 3, 7)


async def test_a_transmitters_receipt_goes_to_a_receiver_of_its_system_id() -> None:
    sim = lean()
    with trio.fail_after(10):
        async with running(sim) as run, \
                bound(run.smpp_port, BindTransmitter(system_id="acme")) as sender:
            await sender.send(submit(registered_delivery=1))
            response = await sender.expect(SubmitSmResp)
            async with bound(run.smpp_port, BindReceiver(system_id="other")) as stranger, \
                    bound(run.smpp_port, BindReceiver(system_id="acme")) as receiver:
                deliver = await receiver.expect(DeliverSm)
                await receiver.send(DeliverSmResp(deliver.sequence_number))
                await wait_for(lambda: sim.stats()["smpp"]["receipts_sent"] == 1)
                await stranger.send(EnquireLink())
                assert isinstance(await stranger.event(), EnquireLinkResp)
    assert deliver.tlvs[Tag.RECEIPTED_MESSAGE_ID] == response.message_id


async def test_receipts_refused_or_unanswered_are_sent_again(
        autojump_clock: trio.testing.MockClock) -> None:
    sim = lean(smpp_receipt_timeout_s=5.0)
    with trio.fail_after(120):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(submit(registered_delivery=1, reference="r"))
            await esme.expect(SubmitSmResp)
            first = await esme.expect(DeliverSm)
            await esme.send(DeliverSmResp(first.sequence_number, Status.ESME_RSYSERR))
            second = await esme.expect(DeliverSm)  # after the backoff; left unanswered
            third = await esme.expect(DeliverSm)  # after the timeout
            await esme.send(DeliverSmResp(third.sequence_number))
            await wait_for(lambda: sim.stats()["smpp"]["receipts_sent"] == 1)
    assert first.short_message == second.short_message == third.short_message
    assert len({first.sequence_number, second.sequence_number, third.sequence_number}) == 3
    smpp = sim.stats()["smpp"]
    assert (smpp["receipts_pending"], smpp["receipts_failed"]) == (0, 0)


async def test_a_closed_connections_receipts_go_to_the_next_receiver() -> None:
    sim = lean()
    with trio.fail_after(10):
        async with running(sim) as run:
            async with bound(run.smpp_port, BindTransceiver(system_id="acme")) as first:
                await first.send(submit(registered_delivery=1))
                await first.expect(SubmitSmResp)
                await first.expect(DeliverSm)  # not acknowledged: the connection closes
            async with bound(run.smpp_port, BindReceiver(system_id="acme")) as second:
                deliver = await second.expect(DeliverSm)
                await second.send(DeliverSmResp(deliver.sequence_number))
                await wait_for(lambda: sim.stats()["smpp"]["receipts_sent"] == 1)
    assert sim.stats()["smpp"]["receipts_pending"] == 0


@pytest.mark.parametrize(("knobs", "named"), [
    ({"throttle_rate": 0.1}, "--throttle-rate"),
    ({"mo_rate": 1.0}, "--mo-rate"),
    ({"reply_share": 0.5}, "--reply-share"),
    ({"receipt_format": "hex-ids"}, "--receipt-format"),
    ({"smpp_port": None, "http_port": 0}, "--smpp-port"),
])
def test_what_lean_mode_does_not_do_is_refused(knobs: dict[str, Any], named: str) -> None:
    with pytest.raises(SimulatorConfigError, match=f"--lean: .*{named}"):
        SimulatorConfig(**{"smpp_port": 0, **knobs, "smpp_lean": True})


def test_the_command_refuses_a_fault_with_lean_in_one_line() -> None:
    from dispatch.cli import build_parser

    args = build_parser().parse_args(["simulator", "--lean", "--smpp-port", "0",
                                      "--no-response", "0.01"])
    with pytest.raises(UserError, match="--lean: --no-response needs the full SMSC"):
        config_from(args)
