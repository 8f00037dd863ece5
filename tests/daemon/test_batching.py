from __future__ import annotations

import trio
import trio.lowlevel
import trio.testing

from dispatch.daemon.batching import batches, gather_ready


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


async def test_gather_ready_takes_what_tasks_send_within_its_rounds() -> None:
    send, receive = trio.open_memory_channel[int](10)

    async def send_after(rounds: int, item: int) -> None:
        for _ in range(rounds):
            await trio.lowlevel.checkpoint()
        await send.send(item)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            send.send_nowait(0)
            nursery.start_soon(send_after, 0, 1)  # runs (and sends) in the next round
            nursery.start_soon(send_after, 1, 2)  # the round after
            nursery.start_soon(send_after, 5, 3)  # long after the rounds are over
            batch: list[int] = []
            await gather_ready(receive, batch, limit=10, rounds=3)
    assert sorted(batch) == [0, 1, 2]
    assert receive.receive_nowait() == 3  # left for the next batch


async def test_gather_ready_stops_at_the_limit() -> None:
    send, receive = trio.open_memory_channel[int](10)
    for item in range(5):
        send.send_nowait(item)
    batch: list[int] = []
    with trio.fail_after(5):
        await gather_ready(receive, batch, limit=3, rounds=4)
    assert batch == [0, 1, 2]
    assert receive.receive_nowait() == 3
