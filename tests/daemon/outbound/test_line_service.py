"""The Trio layer on a MockClock: it sleeps until a line is free (no polling), wakes on
pushes and releases, and carries 10,000 lines at 0.2 msg/s for a simulated minute with no
line over its rate at the gateway and at least 97 % of the capacity used."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from operator import attrgetter

import pytest
import trio
import trio.testing

from dispatch.daemon.outbound.line_service import LineService
from dispatch.lines.config import GatewayCaps, PoolConfig, parse_lines_config
from dispatch.lines.scheduler import Assignment, Line, LineScheduler
from tests.lines.test_bucket import simulator_violations, window_violations
from tests.lines.test_scheduler import Msg, messages, pool

JITTER_S = 0.05


class CountingScheduler(LineScheduler[Msg]):
    """Counts `take` calls: more calls than assignments would mean polling."""

    takes = 0

    def take(self, now: float, max_n: int) -> list[Assignment[Msg]]:
        self.takes += 1
        return super().take(now, max_n)


def takes(svc: LineService[Msg]) -> int:
    assert isinstance(svc.scheduler, CountingScheduler)
    return svc.scheduler.takes


def service(config: PoolConfig, linger_s: float = 0.0) -> LineService[Msg]:
    sched = CountingScheduler([config], attrgetter("to"), jitter_s=JITTER_S)
    return LineService(sched, linger_s=linger_s)


async def test_it_sleeps_until_the_line_is_free(autojump_clock: trio.testing.MockClock) -> None:
    svc = service(pool(count=1, rate=0.2))
    svc.scheduler.set_campaign("c", "p")
    svc.scheduler.push("c", messages("c", 100))
    start, seen = trio.current_time(), []
    with trio.fail_after(100):
        for _ in range(12):
            [(_, line)] = await svc.next_assignments(10)
            seen.append(trio.current_time() - start)
            svc.release(line)
    assert seen == pytest.approx([i * (5.0 + JITTER_S) for i in range(12)])
    assert takes(svc) <= 2 * 12


async def test_a_push_wakes_a_waiting_sender(autojump_clock: trio.testing.MockClock) -> None:
    svc = service(pool(count=2))
    svc.scheduler.set_campaign("c", "p")
    got: list[float] = []

    async def sender() -> None:
        got.extend(trio.current_time() for _ in await svc.next_assignments(10))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            await trio.sleep(3.0)
            svc.scheduler.push("c", messages("c", 5))
    assert got == [3.0, 3.0]
    assert takes(svc) == 2


async def test_a_release_wakes_a_sender_waiting_on_concurrency(
        autojump_clock: trio.testing.MockClock) -> None:
    svc = service(pool(count=1, rate=100.0))
    svc.scheduler.set_campaign("c", "p")
    svc.scheduler.push("c", messages("c", 5))
    with trio.fail_after(10):
        [(_, line)] = await svc.next_assignments(10)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_release_later, svc, line, 2.0)
            [(second, _)] = await svc.next_assignments(10)
    assert trio.current_time() == 2.0 and second.seq == 1


async def _release_later(svc: LineService[Msg], line: Line, delay: float) -> None:
    await trio.sleep(delay)
    svc.release(line)


async def test_linger_gathers_lines_freed_close_together(
        autojump_clock: trio.testing.MockClock) -> None:
    svc = service(pool(count=10, rate=1.0, burst=1), linger_s=0.1)
    svc.scheduler.set_campaign("c", "p")
    for i in range(10):
        svc.scheduler.push("c", messages("c", 1, start=i))
        batch = await svc.next_assignments(100)
        for _, line in batch:
            svc.release(line)
        await trio.sleep(0.01)  # lines used 10 ms apart, so free 10 ms apart
    svc.scheduler.push("c", messages("c", 100, start=10))
    with trio.fail_after(10):
        batch = await svc.next_assignments(100)
    assert len(batch) == 10  # one wake-up, not ten


async def test_window_slots_freed_close_together_go_out_together(
        autojump_clock: trio.testing.MockClock) -> None:
    config = pool(count=100, rate=1000.0)
    sched = LineScheduler([config], attrgetter("to"), caps=GatewayCaps(window=10))
    svc = LineService(sched, linger_s=0.005)
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 1_000))
    with trio.fail_after(10):
        first = await svc.next_assignments(100)
        assert len(first) == 10
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_answer_one_by_one, svc, first, 0.001)
            second = await svc.next_assignments(100)
    assert len(second) >= 5  # not one per response


async def _answer_one_by_one(svc: LineService[Msg], batch: list[tuple[Msg, Line]],
                             every_s: float) -> None:
    for _, line in batch:
        await trio.sleep(every_s)
        svc.release(line)


async def test_pause_resume_and_cancel_while_senders_run(
        autojump_clock: trio.testing.MockClock) -> None:
    svc = service(pool(count=10, rate=10.0))
    sched = svc.scheduler
    for name in ("a", "b", "x"):
        sched.set_campaign(name, "p")
        sched.push(name, messages(name, 10_000))
    log: list[tuple[float, str]] = []
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(_sender, svc, log, 50)
            await trio.sleep(1.0)
            returned = sched.cancel("x")
            await trio.sleep(1.0)
            sched.pause("a")
            paused_at = trio.current_time()
            await trio.sleep(2.0)
            sched.resume("a")
            resumed_at = trio.current_time()
            await trio.sleep(2.0)
            nursery.cancel_scope.cancel()
    sent_x = sum(1 for _, name in log if name == "x")
    assert returned == messages("x", 10_000)[sent_x:]
    assert all(name != "x" for t, name in log if t > 1.0)
    assert all(name != "a" for t, name in log if paused_at < t < resumed_at)
    after = Counter(name for t, name in log if t >= resumed_at)
    assert after["a"] == pytest.approx(after["b"], rel=0.05)


async def _sender(svc: LineService[Msg], log: list[tuple[float, str]], max_n: int) -> None:
    while True:
        batch = await svc.next_assignments(max_n)
        log.extend((trio.current_time(), message.campaign) for message, _ in batch)
        await trio.sleep(0.02)  # the gateway answering
        for _, line in batch:
            svc.release(line)


async def test_weights_two_to_one_through_the_service(
        autojump_clock: trio.testing.MockClock) -> None:
    svc = service(pool(count=200, rate=5.0))
    svc.scheduler.set_campaign("a", "p", weight=2)
    svc.scheduler.set_campaign("b", "p", weight=1)
    svc.scheduler.push("a", messages("a", 100_000))
    svc.scheduler.push("b", messages("b", 100_000))
    log: list[tuple[float, str]] = []
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(_sender, svc, log, 100)
            await trio.sleep(10.0)
            nursery.cancel_scope.cancel()
    count = Counter(name for _, name in log)
    assert count["a"] + count["b"] > 9_000
    assert count["a"] / count["b"] == pytest.approx(2.0, rel=0.05)


async def test_close_ends_the_senders_and_hands_back_the_queue(
        autojump_clock: trio.testing.MockClock) -> None:
    svc = service(pool(count=1, rate=0.2))
    svc.scheduler.set_campaign("c", "p")
    svc.scheduler.push("c", messages("c", 5))
    ended: list[str] = []

    async def sender() -> None:
        try:
            while True:
                for _, line in await svc.next_assignments(10):
                    svc.release(line)
        except trio.EndOfChannel:
            ended.append("ended")

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            nursery.start_soon(sender)
            await trio.sleep(1.0)
            returned = svc.close()
    assert ended == ["ended", "ended"]
    assert returned == messages("c", 5)[1:]
    with pytest.raises(trio.EndOfChannel):
        await svc.next_assignments(1)
    with pytest.raises(ValueError, match="max_n must be at least 1"):
        await svc.next_assignments(0)


async def test_ten_thousand_lines_at_a_fifth_of_a_message_a_second(
        autojump_clock: trio.testing.MockClock) -> None:
    """2,000 msg/s of capacity for 60 simulated seconds, 2,500 msg/s pushed in batches
    as the reader would; each submission reaches the gateway 20 ms plus 0..50 ms of
    jitter after it was handed out, and the gateway counts every line's token bucket
    (rate 0.2, burst 1) on arrival."""
    raw = {"gateway": "g", "rate": 0.2, "lines": [{"range": "+33700000000-+33700009999"}]}
    config = parse_lines_config({"pools": {"p": raw}}).pools["p"]
    svc = LineService(LineScheduler([config], attrgetter("to"), jitter_s=JITTER_S))
    svc.scheduler.set_campaign("c", "p")
    run = Gateway()
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_feed, svc, 125, 0.05)
            for _ in range(4):
                nursery.start_soon(run.sender, svc)
            await trio.sleep(60.0)
            nursery.cancel_scope.cancel()
    violations = sum(simulator_violations(times, 0.2, 0.0) for times in run.arrivals.values())
    windows = sum(window_violations(times, 0.2, 0.0) for times in run.arrivals.values())
    assert (violations, windows) == (0, 0)
    steady = sum(1 for t in run.handed_out if 10.0 <= t < 60.0)
    assert steady / (2_000 * 50.0) >= 0.97
    gaps = [(len(ts) - 1) / (ts[-1] - ts[0]) for ts in run.arrivals.values() if len(ts) > 1]
    assert sum(gaps) / len(gaps) / 0.2 >= 0.97
    assert len(run.handed_out) / run.batches >= 5  # lines freed together go out together


async def _feed(svc: LineService[Msg], batch: int, every_s: float) -> None:
    for i in range(1_000_000):  # bounded; cancelled long before
        svc.scheduler.push("c", messages("c", batch, start=i * batch))
        await trio.sleep(every_s)


class Gateway:
    """Senders as the daemon runs them; records what a gateway would see, line by line."""

    def __init__(self) -> None:
        self.rng = random.Random(4)
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.handed_out: list[float] = []
        self.batches = 0

    async def sender(self, svc: LineService[Msg]) -> None:
        while True:
            batch = await svc.next_assignments(500)
            now = trio.current_time()
            self.batches += 1
            for _, line in batch:
                self.handed_out.append(now)
                self.arrivals[line.address].append(now + 0.02 + self.rng.uniform(0, JITTER_S))
            await trio.sleep(0.02 + JITTER_S)  # the answer
            for _, line in batch:
                svc.release(line)
