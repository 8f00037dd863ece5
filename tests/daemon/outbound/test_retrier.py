from __future__ import annotations

import trio
import trio.testing

from dispatch.daemon.outbound.messages import Message
from dispatch.daemon.outbound.retrier import Retrier


def message(number: str) -> Message:
    return Message("c", number.encode(), number, None)


async def test_messages_come_back_in_due_order_at_their_time(
        autojump_clock: trio.testing.MockClock) -> None:
    retrier = Retrier()
    send, receive = trio.open_memory_channel[Message](10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(retrier.run, {"gw": send})
        start = trio.current_time()
        retrier.schedule("gw", message("+1"), 5.0)
        retrier.schedule("gw", message("+2"), 1.0)
        first = await receive.receive()
        assert first.number == "+2"
        assert trio.current_time() - start == 1.0
        second = await receive.receive()
        assert second.number == "+1"
        assert trio.current_time() - start == 5.0
        assert len(retrier) == 0
        nursery.cancel_scope.cancel()
