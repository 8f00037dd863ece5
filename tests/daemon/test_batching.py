from __future__ import annotations

import trio
import trio.testing

from dispatch.daemon.batching import batches


async def test_batches_fill_up_to_the_limit_then_flush_after_linger(
        autojump_clock: trio.testing.MockClock) -> None:
    send, receive = trio.open_memory_channel[int](100)
    got: list[list[int]] = []

    async def consume() -> None:
        async for batch in batches(receive, limit=3, linger_s=0.01):
            got.append(batch)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        for item in range(5):
            await send.send(item)
        await trio.sleep(1)  # the partial batch [3, 4] is flushed after the linger
        await send.send(5)
        await send.aclose()
    assert got == [[0, 1, 2], [3, 4], [5]]


async def test_batches_end_when_the_channel_closes() -> None:
    send, receive = trio.open_memory_channel[int](10)
    await send.send(1)
    await send.aclose()
    with trio.fail_after(5):
        assert [batch async for batch in batches(receive, 10, 0.0)] == [[1]]
