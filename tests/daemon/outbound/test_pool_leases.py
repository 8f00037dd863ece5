"""PoolLeases against a scripted lease store, on Trio's MockClock: lines taken up and let
go as the leases say, an excess given back only once its lines are idle, and every line
let go when renewals fail for too long."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import trio
import trio.testing
from coredis.exceptions import ConnectionError as RedisConnectionError

from dispatch.daemon.outbound.pool_leases import PoolLeases
from dispatch.lines.scheduler import LineScheduler
from dispatch.store.line_leases import LeaseCycle
from tests.lines.test_scheduler import messages, pool, scheduler

TTL_S = 3.0  # a cycle every second, lines trusted 2.4 s after a cycle began


class ScriptedStore:
    """Answers each cycle with the next scripted LeaseCycle (the last one again once at
    the end; an exception: raised), less the slices given back so far."""

    def __init__(self, *replies: LeaseCycle | Exception) -> None:
        self.replies = list(replies)
        self.given: list[list[int]] = []  # per cycle
        self.left: list[str] = []  # daemons that left
        self.leave_error: Exception | None = None

    @property
    def given_back(self) -> list[int]:
        return [slice_ for cycle in self.given for slice_ in cycle]

    async def cycle(self, pool: str, consumer: str, slices: int, ttl_s: float,
                    give_back: Iterable[int] = (), now_ms: int | None = None, *,
                    rest_s: float = 0.0) -> LeaseCycle:
        self.given.append(list(give_back))
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        held = [slice_ for slice_ in reply.held if slice_ not in self.given_back]
        return LeaseCycle(reply.share, held, reply.rested)

    async def leave(self, pool: str, consumer: str, now_ms: int | None = None) -> int:
        self.left.append(consumer)
        if self.leave_error is not None:
            raise self.leave_error
        return 0


def leased(sched: LineScheduler[Any]) -> list[str]:
    return [line.address for line in sched.lines("p") if line.leased]


async def test_an_excess_is_let_go_at_once_and_given_back_once_idle(
        autojump_clock: trio.testing.MockClock) -> None:
    sched = scheduler(pool(count=4, rate=100.0))
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 10))
    store = ScriptedStore(LeaseCycle(4, [0, 1, 2, 3]), LeaseCycle(2, [0, 1, 2, 3]))
    leases = PoolLeases(store, "a", sched, "p", TTL_S)  # type: ignore[arg-type]
    assert leased(sched) == []  # nothing until the first cycle
    async with trio.open_nursery() as nursery:
        nursery.start_soon(leases.run)
        await trio.sleep(0.5)
        assert leased(sched) == ["P000", "P001", "P002", "P003"]
        taken = [line for _, line in sched.take(trio.current_time() + 1, 4)]
        assert [line.address for line in taken] == ["P000", "P001", "P002", "P003"]
        for line in taken[:3]:
            sched.release(line)  # P003 stays out: answered later
        await trio.sleep(1.0)  # second cycle: the share is 2 now
        assert leased(sched) == ["P000", "P001"]
        await trio.sleep(1.0)  # cycles come faster meanwhile: P002 idle, given back
        assert store.given_back == [2]  # not P003: still out
        sched.release(taken[3])
        await trio.sleep(1.0)
        assert store.given_back == [2, 3]
        nursery.cancel_scope.cancel()


async def test_every_line_is_let_go_when_renewals_fail_before_the_lease_can_expire(
        autojump_clock: trio.testing.MockClock) -> None:
    sched = scheduler(pool(count=2))
    store = ScriptedStore(LeaseCycle(2, [0, 1]), RedisConnectionError("down"))
    leases = PoolLeases(store, "a", sched, "p", TTL_S)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(leases.run)
        await trio.sleep(2.3)  # two failed renewals, still within 0.8 x TTL of the last
        assert leased(sched) == ["P000", "P001"]
        await trio.sleep(0.2)  # past it: the lease may expire soon, let go of the lines
        assert leased(sched) == []
        nursery.cancel_scope.cancel()


async def test_leaving_lets_every_line_go_and_gives_them_back_and_survives_redis_down(
        autojump_clock: trio.testing.MockClock) -> None:
    for error in (None, RedisConnectionError("down")):
        sched = scheduler(pool(count=4, rate=100.0))
        store = ScriptedStore(LeaseCycle(4, [0, 1, 2, 3]))
        store.leave_error = error
        leases = PoolLeases(store, "a", sched, "p", TTL_S)  # type: ignore[arg-type]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(leases.run)
            await trio.sleep(0.5)
            assert len(leased(sched)) == 4
            nursery.cancel_scope.cancel()
        await leases.leave()
        assert (leased(sched), store.left) == ([], ["a"])
