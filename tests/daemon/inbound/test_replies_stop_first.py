"""STOP first, on the reply side: an opt-out is in force in process as soon as it is read
(before any Redis round trip), then recorded; a START lifts it in both places."""

from __future__ import annotations

import trio
import trio.testing

from dispatch.daemon.inbound.replies import ReplyHandler
from dispatch.daemon.outbound.optout_check import RecentOptOuts
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.queue import Queue
from dispatch.store.redis import Redis
from dispatch.vocabulary import InboundMessage

NUMBER, LINE = "+33612345678", "36111"


def reply(text: str) -> list[InboundMessage]:
    return [InboundMessage(NUMBER, LINE, text, "gw")]


async def test_a_stop_holds_in_process_before_redis_has_it(
        redis: Redis, settings: Settings) -> None:
    queue = Queue(redis, Keys(settings.redis.key_prefix), "test")
    recent = RecentOptOuts()
    replies = ReplyHandler(queue, lambda: [], recent=recent)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(replies.handle, reply("Stop merci"))
            await trio.testing.wait_all_tasks_blocked()  # the handler awaits Redis
            assert recent.holds(NUMBER, LINE)
    assert await queue.optouts.opted_out_by_line([NUMBER], [LINE]) == [True]
    assert not recent.holds(NUMBER, "36222")  # a STOP to one line stops that line


async def test_a_start_lifts_the_stop_in_process_too(redis: Redis, settings: Settings) -> None:
    queue = Queue(redis, Keys(settings.redis.key_prefix), "test")
    recent = RecentOptOuts()
    replies = ReplyHandler(queue, lambda: [], recent=recent)
    with trio.fail_after(10):
        await replies.handle(reply("STOP"))
        await replies.handle(reply("START"))
    assert not recent.holds(NUMBER, LINE)
    assert await queue.optouts.opted_out_by_line([NUMBER], [LINE]) == [False]
