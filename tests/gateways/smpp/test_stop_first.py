"""STOP first over SMPP: an MO (deliver_sm without the receipt bit) is recorded without
waiting for the receipts that came before it or beside it."""

from __future__ import annotations

from collections.abc import Sequence

import trio
import trio.testing

from dispatch.gateways.smpp.delivery import OK, DeliveryHandler
from dispatch.gateways.smpp.mo import MoAssembler
from dispatch.gateways.smpp.stats import ClientStats
from dispatch.smpp.pdu import DeliverSm
from dispatch.vocabulary import CallEnded, InboundMessage, Keypress, Receipt

RECORD_S = 5.0  # how long the large receipts batch takes to record


class SlowReceipts:
    """An Inbound whose receipts take RECORD_S to record; notes when each thing is done."""

    def __init__(self) -> None:
        self.log: list[tuple[float, str, int]] = []

    async def receipts(self, receipts: Sequence[Receipt], *, join_others: bool = False
                       ) -> None:
        await trio.sleep(RECORD_S)
        self.log.append((trio.current_time(), "receipts", len(receipts)))

    async def messages(self, messages: Sequence[InboundMessage]) -> None:
        self.log.append((trio.current_time(), "messages", len(messages)))

    async def calls(self, ended: Sequence[CallEnded]) -> None:
        raise AssertionError("no calls over SMPP")

    async def keypresses(self, presses: Sequence[Keypress]) -> None:
        raise AssertionError("no keypresses over SMPP")

    def not_recorded(self, kind: str, count: int = 1) -> None:
        pass


def receipt(index: int) -> DeliverSm:
    text = (f"id:{index:08d} sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 "
            "stat:DELIVRD err:000 text:").encode()
    return DeliverSm(sequence_number=index + 1, esm_class=0x04, short_message=text)


def stop(sequence: int) -> DeliverSm:
    return DeliverSm(sequence_number=sequence, source_addr="33612345678", source_addr_ton=1,
                     destination_addr="36111", esm_class=0, short_message=b"STOP")


def handler(inbound: SlowReceipts) -> DeliveryHandler:
    return DeliveryHandler("gw", inbound, MoAssembler("gw"), ClientStats(),
                           submit_id_base=None, receipt_id_base=None)


async def test_an_mo_is_recorded_while_a_large_receipts_batch_is_being_recorded(
        autojump_clock: trio.testing.MockClock) -> None:
    inbound = SlowReceipts()
    deliveries = handler(inbound)
    statuses: dict[str, list[int]] = {}

    async def batch(name: str, pdus: list[DeliverSm], ticket: int) -> None:
        statuses[name] = await deliveries.handle(pdus, ticket)

    async with trio.open_nursery() as nursery:
        first = deliveries.arrived()  # 1,000 receipts: recording takes RECORD_S
        nursery.start_soon(batch, "receipts", [receipt(i) for i in range(1000)], first)
        await trio.sleep(0.5)
        second = deliveries.arrived()  # then a STOP, with receipts of its own
        nursery.start_soon(batch, "stop", [receipt(2000), stop(5000), receipt(2001)], second)
    assert inbound.log == [(0.5, "messages", 1),  # at once: before any receipt
                           (RECORD_S, "receipts", 1000), (0.5 + RECORD_S, "receipts", 2)]
    assert statuses["stop"] == [OK, OK, OK] and statuses["receipts"] == [OK] * 1000
