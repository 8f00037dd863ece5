"""Replies over SMPP: MO deliver_sm from the recipients, to an ESME built on the project's
Session (smpp_peer), and what `sent_after_stop` makes of the messages that follow."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from dispatch.smpp import (
    BindReceiver,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    Status,
    SubmitSm,
    SubmitSmResp,
)
from dispatch.smpp.receipts import DELIVERY_RECEIPT
from dispatch.smpp.udh import UDHI, concat_header
from dispatch.text import decode, encode

from .smpp_peer import Esme, bound, running, simulator, submit, wait_for

SHORT_CODE = "36111"
NUMBER = "33612345678"


def message(reference: str, *, destination: str = NUMBER, registered_delivery: int = 1,
            short_message: bytes = encode("Vote Dupont! STOP au 36111", "gsm7"),
            **fields: Any) -> SubmitSm:
    """A message from the short code (ton 3, as the daemon sends) to an international number."""
    return submit(short_message, source=SHORT_CODE,
                  destination=destination, reference=reference, source_addr_ton=3,
                  source_addr_npi=0, dest_addr_ton=1, dest_addr_npi=1,
                  registered_delivery=registered_delivery, **fields)


async def answer_receipt(esme: Esme) -> DeliverSm:
    receipt: DeliverSm = await esme.expect(DeliverSm)
    assert receipt.esm_class == DELIVERY_RECEIPT
    await esme.send(DeliverSmResp(receipt.sequence_number))
    return receipt


def replies(sim: Any) -> dict[str, int]:
    result: dict[str, int] = sim.stats()["replies"]
    return result


async def test_a_stop_reply_comes_back_after_the_receipt_and_later_messages_count() -> None:
    sim = simulator(reply_share=1.0, reply_delay_ms=50)
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(message("m1"))
            await esme.expect(SubmitSmResp)
            await answer_receipt(esme)
            mo = await esme.expect(DeliverSm)
            await esme.send(message("m2"))  # before the STOP is acknowledged: fine
            await esme.expect(SubmitSmResp)
            await answer_receipt(esme)
            assert sim.stats()["sent_after_stop"] == 0
            await esme.send(DeliverSmResp(mo.sequence_number))
            await wait_for(lambda: replies(sim)["acknowledged"] == 1)
            await esme.send(message("m3"))  # after it: counted
            await esme.expect(SubmitSmResp)
            await answer_receipt(esme)
    assert mo.esm_class == 0
    assert (mo.source_addr, mo.source_addr_ton, mo.source_addr_npi) == (NUMBER, 1, 1)
    assert (mo.destination_addr, mo.dest_addr_ton, mo.dest_addr_npi) == (SHORT_CODE, 3, 0)
    assert decode(mo.short_message, mo.data_coding) == "STOP"
    stats = sim.stats()
    assert stats["sent_after_stop"] == 1 and stats["smpp"]["mo_sent"] == 1
    assert stats["replies"] == {"decided": 1, "sent": 1, "acknowledged": 1, "failed": 0,
                                "pending": 0}


async def test_a_refused_reply_is_resent(autojump_clock: trio.testing.MockClock) -> None:
    sim = simulator(reply_share=1.0)
    with trio.fail_after(60):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(message("m1"))
            await esme.expect(SubmitSmResp)
            await answer_receipt(esme)
            first = await esme.expect(DeliverSm)
            await esme.send(DeliverSmResp(first.sequence_number, Status.ESME_RSYSERR))
            again = await esme.expect(DeliverSm)
            assert sim.replies.stopped == {}  # refused: the STOP is not in force yet
            await esme.send(DeliverSmResp(again.sequence_number))
            await wait_for(lambda: replies(sim)["acknowledged"] == 1)
    assert again.short_message == first.short_message
    assert sim.stats()["smpp"]["mo_sent"] == 1 and sim.stats()["replies"]["sent"] == 1


async def test_without_a_receipt_the_reply_follows_acceptance(
        autojump_clock: trio.testing.MockClock) -> None:
    sim = simulator(reply_share=1.0, receipt_delay_ms=500, reply_delay_ms=300)
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            start = trio.current_time()
            await esme.send(message("m1", registered_delivery=0))
            await esme.expect(SubmitSmResp)
            mo = await esme.expect(DeliverSm)
            assert trio.current_time() - start >= 0.8
            await esme.send(DeliverSmResp(mo.sequence_number))
            await wait_for(lambda: replies(sim)["acknowledged"] == 1)
    assert mo.esm_class == 0 and mo.source_addr == NUMBER


async def test_a_long_message_gets_one_reply_on_a_receiver_of_its_system_id() -> None:
    """Two parts, the receipt asked on the last only (as the daemon does); sent on a
    transmitter, the reply comes on a receiver of the same system_id."""
    sim = simulator(reply_share=1.0, reply_delay_ms=0)
    text = encode("Chère électrice, " * 10, "ucs2")
    parts = [concat_header(9, 2, 1) + text[:130], concat_header(9, 2, 2) + text[130:]]
    with trio.fail_after(10):
        async with running(sim) as run, \
                bound(run.smpp_port, BindTransmitter(system_id="acme")) as sender, \
                bound(run.smpp_port, BindReceiver(system_id="acme")) as receiver:
            await sender.send(*[message("long", short_message=part, esm_class=UDHI,
                                        data_coding=8, registered_delivery=sequence - 1)
                                for sequence, part in enumerate(parts, start=1)])
            await sender.expect(SubmitSmResp)
            await sender.expect(SubmitSmResp)
            await answer_receipt(receiver)
            mo = await receiver.expect(DeliverSm)
            await receiver.send(DeliverSmResp(mo.sequence_number))
            await wait_for(lambda: replies(sim)["acknowledged"] == 1)
    assert decode(mo.short_message, mo.data_coding) == "STOP"
    assert sim.stats()["accepted"] == 1 and replies(sim)["decided"] == 1


async def test_an_injected_stop_is_watched_too() -> None:
    sim = simulator()  # nobody replies by themselves
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            injected = await run.http.post("/mo", json={"from": "+" + NUMBER,
                                                        "to": SHORT_CODE, "text": "Stop merci"})
            assert injected.status_code == 202
            mo = await esme.expect(DeliverSm)
            await esme.send(DeliverSmResp(mo.sequence_number))
            await wait_for(lambda: sim.stats()["stops_acknowledged"] == 1)
            await esme.send(message("m1", registered_delivery=0))
            await esme.expect(SubmitSmResp)
    assert (mo.destination_addr, mo.dest_addr_ton) == (SHORT_CODE, 3)  # a short code
    stats = sim.stats()
    assert stats["sent_after_stop"] == 1 and stats["replies"]["decided"] == 0
