"""InOrder: the ordered step of concurrent batches runs in arrival order."""

from __future__ import annotations

import trio
import trio.testing

from dispatch.gateways.smpp.in_order import InOrder


async def _step(order: InOrder, ticket: int, delay: float, log: list[int]) -> None:
    try:
        await trio.sleep(delay)  # the batch's own work before its ordered step
        async with order.turn(ticket):
            log.append(ticket)
    finally:
        order.release(ticket)  # as DeliveryHandler.handle does, whatever happened


async def test_a_later_batch_ready_first_waits_for_the_earlier_one(
        autojump_clock: trio.testing.MockClock) -> None:
    order, log = InOrder(), list[int]()
    async with trio.open_nursery() as nursery:
        for ticket, delay in ((order.ticket(), 3.0), (order.ticket(), 1.0),
                              (order.ticket(), 2.0)):
            nursery.start_soon(_step, order, ticket, delay, log)
    assert log == [0, 1, 2]


async def test_a_batch_cancelled_before_its_turn_does_not_hold_up_the_next(
        autojump_clock: trio.testing.MockClock) -> None:
    order, log = InOrder(), list[int]()
    first, second, third = order.ticket(), order.ticket(), order.ticket()
    async with trio.open_nursery() as nursery:
        with trio.CancelScope() as doomed:
            doomed.cancel()
            await _step(order, first, 1.0, log)  # cancelled while sleeping
        nursery.start_soon(_step, order, third, 0.5, log)
        nursery.start_soon(_step, order, second, 1.0, log)
    assert log == [1, 2]
