"""Calls in progress: a call's end frees its line, then records its message or parks it
until it is called again; a call whose end never comes expires."""

from __future__ import annotations

import time
from pathlib import Path

import trio

from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.outbound.calls import CallBook
from dispatch.daemon.outbound.messages import Message, message_of
from dispatch.daemon.outbound.retrier import Retrier
from dispatch.daemon.outbound.tracker import Tracker
from dispatch.daemon.outbound.window_waiter import WindowWaiter
from dispatch.keys import Keys
from dispatch.lines.scheduler import Line, LineScheduler
from dispatch.settings import Settings
from dispatch.store.campaign_meta import MetaStore
from dispatch.store.queue import Queue
from dispatch.store.redis import Redis
from dispatch.store.status import state_counts
from dispatch.vocabulary import CallEnded, CallOutcome
from tests.test_enqueue import run, write
from tests.test_enqueue_voice import RULES, VOICE, voiced  # noqa: F401 (a fixture)

NUMBERS = ["0611111111", "0622222222", "0633333333", "0644444444"]


class Freed:
    """Stands for a line feed: the lines freed, and when."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def release(self, line: Line, sent_until: float) -> None:
        self.lines.append(line.address)


def a_line(settings: Settings) -> Line:
    """The pool's line (calls in these tests all go out on it)."""
    scheduler: LineScheduler[Message] = LineScheduler(list(settings.lines.pools.values()),
                                                      lambda message: message.number)
    return scheduler.lines("callers")[0]


async def in_flight(redis: Redis, settings: Settings, tmp_path: Path
                    ) -> tuple[Queue, CampaignBook, list[Message]]:
    """A voice campaign's messages read and admitted, as a daemon holds them."""
    await run(redis, settings, write(tmp_path, "phone\n" + "\n".join(NUMBERS) + "\n"),
              "Votez.", gateway="calls", rules=RULES, voice=VOICE)
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "t")
    book = CampaignBook(MetaStore(redis, keys), {}, {"callers": "calls"})
    await book.refresh()
    messages = [message_of(entry) for entry in await queue.read_new(["c1"], 10, 100)]
    assert await queue.admit("c1", [(m.entry_id, m.number) for m in messages]) == [True] * 4
    return queue, book, messages


async def test_each_call_s_end_frees_its_line_then_records_or_parks_its_message(
        redis: Redis, voiced: Settings, tmp_path: Path) -> None:  # noqa: F811
    with trio.fail_after(20):
        queue, book, messages = await in_flight(redis, voiced, tmp_path)
        tracker, waiter, metrics = Tracker(), WindowWaiter[Message](10), DaemonMetrics()
        freed = Freed()
        tracker.add(messages)
        calls = CallBook(queue, book, tracker, waiter, Retrier(), metrics, 600)
        line = a_line(voiced)
        for index, message in enumerate(messages):
            calls.placed(f"CA{index}", message, line, freed.release)
        started = time.time()
        await calls.settle([
            CallEnded("CA0", CallOutcome.HUMAN, 31, "answered by a person"),
            CallEnded("CA1", CallOutcome.BUSY, 0, "busy"),
            CallEnded("CA2", CallOutcome.FAILED, 0, "failed (SIP 404)")])
        counts = (await state_counts(redis, Keys(voiced.redis.key_prefix), ["c1"]))["c1"]
    assert freed.lines == ["+33900000001"] * 3
    assert (counts["delivered"], counts["failed"], counts["in_flight"]) == (1, 1, 2)
    assert len(waiter) == 1 and len(calls) == 1  # the busy one waits; CA3 still rings
    due = waiter.next_due()
    assert due is not None and 59 <= due - started <= 61  # VOICE: busy again after 60 s
    assert len(tracker) == 2 and messages[1].calls == 1
    errors = await redis.hgetall(Keys(voiced.redis.key_prefix).campaign("c1").errors)
    assert errors == {messages[2].number.encode(): b"call failed (SIP 404)"}


async def test_a_call_whose_end_never_comes_expires_and_frees_its_line(
        redis: Redis, voiced: Settings, tmp_path: Path) -> None:  # noqa: F811
    with trio.fail_after(20):
        queue, book, messages = await in_flight(redis, voiced, tmp_path)
        tracker, freed = Tracker(), Freed()
        tracker.add(messages[:1])
        calls = CallBook(queue, book, tracker, WindowWaiter[Message](10), Retrier(),
                         DaemonMetrics(), timeout_s=0.2)
        calls.placed("CA0", messages[0], a_line(voiced), freed.release)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(calls.run)
            while len(calls):
                await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
        counts = (await state_counts(redis, Keys(voiced.redis.key_prefix), ["c1"]))["c1"]
    assert freed.lines == ["+33900000001"] and counts["expired"] == 1


async def test_an_end_that_comes_before_its_call_is_known_waits_for_it(
        redis: Redis, voiced: Settings, tmp_path: Path) -> None:  # noqa: F811
    with trio.fail_after(20):
        queue, book, messages = await in_flight(redis, voiced, tmp_path)
        tracker, freed = Tracker(), Freed()
        tracker.add(messages[:1])
        calls = CallBook(queue, book, tracker, WindowWaiter[Message](10), Retrier(),
                         DaemonMetrics(), timeout_s=600)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(calls.run)
            # The provider posted the end while the placement's answer was on its way.
            await calls.settle([CallEnded("CA0", CallOutcome.FAILED, 0, "failed")])
            calls.placed("CA0", messages[0], a_line(voiced), freed.release)
            while len(calls):
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
        counts = (await state_counts(redis, Keys(voiced.redis.key_prefix), ["c1"]))["c1"]
    assert freed.lines == ["+33900000001"] and counts["failed"] == 1 and len(tracker) == 0
