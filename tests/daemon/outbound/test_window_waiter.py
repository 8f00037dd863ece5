"""WindowWaiter on Trio's MockClock (autojump): released when due, in order, never early."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import trio
import trio.testing

from dispatch.daemon.outbound.window_waiter import WindowWaiter
from dispatch.policy.deadline import election_eve
from dispatch.policy.sending import EXPIRE, SEND, Action, SendPolicy

# The wall clock the tests pretend it is when trio's clock reads 0: Monday 2 March 2026 04:00 UTC.
T0 = dt.datetime(2026, 3, 2, 4, 0, tzinfo=dt.UTC).timestamp()


def wall() -> float:
    return T0 + trio.current_time()


Released = list[tuple[float, list[str]]]  # (wall time of release, batch)


async def collect(receive: trio.MemoryReceiveChannel[list[str]], into: Released) -> None:
    async for batch in receive:
        into.append((wall(), batch))


async def run_until(waiter: WindowWaiter[str], released: Released, seconds: float,
                    during: Callable[[], object] | None = None) -> None:
    """Run the waiter and a collector for `seconds` of virtual time."""
    send, receive = trio.open_memory_channel[list[str]](0)
    async with trio.open_nursery() as nursery:
        await nursery.start(waiter.run, send)
        nursery.start_soon(collect, receive, released)
        if during is not None:
            during()
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()


async def test_items_are_released_at_their_due_times_in_order_none_early(
        autojump_clock: trio.testing.MockClock) -> None:
    waiter: WindowWaiter[str] = WindowWaiter(100, wall_clock=wall)
    dues = {"c": T0 + 3600, "a": T0 + 10, "d": T0 + 7200.5, "b": T0 + 600}
    for item, due in dues.items():
        assert waiter.park(item, due)
    released: Released = []
    with trio.fail_after(10_000):
        await run_until(waiter, released, 8000)
    assert [batch for _, batch in released] == [["a"], ["b"], ["c"], ["d"]]
    for at, [item] in released:
        assert dues[item] <= at < dues[item] + 1e-6
    assert len(waiter) == 0


async def test_an_earlier_item_parked_while_sleeping_wakes_the_task(
        autojump_clock: trio.testing.MockClock) -> None:
    waiter: WindowWaiter[str] = WindowWaiter(100, wall_clock=wall)
    waiter.park("late", T0 + 3000)
    released: Released = []

    async def park_later() -> None:
        await trio.sleep(100)  # the waiter is asleep until T0 + 60 (recheck) or later
        waiter.park("early", T0 + 200)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(park_later)
        with trio.fail_after(10_000):
            await run_until(waiter, released, 4000)
    assert [batch for _, batch in released] == [["early"], ["late"]]
    assert [at - T0 for at, _ in released] == pytest.approx([200, 3000])


async def test_items_due_together_come_in_parking_order_in_bounded_batches(
        autojump_clock: trio.testing.MockClock) -> None:
    waiter: WindowWaiter[str] = WindowWaiter(100, wall_clock=wall, max_batch=3)
    items = [f"m{i}" for i in range(7)]
    for item in items:
        waiter.park(item, T0 + 50)
    waiter.park("overdue", T0 - 10)
    released: Released = []
    with trio.fail_after(1000):
        await run_until(waiter, released, 100)
    assert [batch for _, batch in released] == [
        ["overdue"], ["m0", "m1", "m2"], ["m3", "m4", "m5"], ["m6"]]
    assert released[0][0] == T0


async def test_no_busy_polling(autojump_clock: trio.testing.MockClock) -> None:
    calls = 0

    def counting_wall() -> float:
        nonlocal calls
        calls += 1
        return wall()

    waiter: WindowWaiter[str] = WindowWaiter(100, wall_clock=counting_wall, recheck_s=60)
    with trio.fail_after(100_000):
        await run_until(waiter, [], 3600)  # empty: sleeps until something is parked
    assert calls <= 2
    waiter.park("x", T0 + 7200)
    calls = 0
    with trio.fail_after(100_000):
        await run_until(waiter, [], 3500)  # held: looks at the clock once a minute at most
    assert calls <= 2 * (3500 // 60 + 2)


def test_capacity_bounds_memory_and_park_says_when_it_holds_nothing() -> None:
    waiter: WindowWaiter[str] = WindowWaiter(2, wall_clock=lambda: T0)
    assert waiter.park("a", T0 + 2) and waiter.park("b", T0 + 1)
    assert waiter.full and not waiter.park("c", T0)
    assert (len(waiter), waiter.next_due()) == (2, T0 + 1)
    assert waiter.remove_if(lambda _: True) == ["b", "a"]
    assert waiter.next_due() is None and not waiter.full


def test_remove_if_takes_out_matching_items_in_due_order() -> None:
    waiter: WindowWaiter[str] = WindowWaiter(10, wall_clock=lambda: T0)
    for i, item in enumerate(["x1", "y1", "x2", "y2"]):
        waiter.park(item, T0 + 10 - i)
    assert waiter.remove_if(lambda item: item.startswith("x")) == ["x2", "x1"]
    assert waiter.remove_if(lambda _: True) == ["y2", "y1"]


@pytest.mark.parametrize(("capacity", "max_batch", "recheck_s"), [(0, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_bad_settings_are_refused(capacity: int, max_batch: int, recheck_s: float) -> None:
    with pytest.raises(ValueError, match="capacity"):
        WindowWaiter(capacity, max_batch=max_batch, recheck_s=recheck_s)


async def test_policy_and_waiter_together_across_zones_and_a_deadline(
        autojump_clock: trio.testing.MockClock) -> None:
    # Monday 2 March 2026 04:00 UTC; the deadline (vote on Sunday 8 March) is Saturday
    # 7 March 00:00 local in each zone.
    policy = SendPolicy(deadline=election_eve(dt.date(2026, 3, 8)))
    numbers = {"paris": "+33612345678", "reunion": "+262692123456",
               "guadeloupe": "+590690123456", "tahiti": "+68987123456"}
    assert policy.decide_ts("+687751234", wall()) is SEND  # Nouméa: Monday 15:00 there
    waiter: WindowWaiter[str] = WindowWaiter(100, wall_clock=wall)
    for name, number in numbers.items():
        decision = policy.decide_ts(number, wall())
        assert decision.action is Action.WAIT and decision.until_ts is not None
        waiter.park(name, decision.until_ts)
    released: Released = []
    with trio.fail_after(100_000):
        await run_until(waiter, released, 16 * 3600)
    assert [(dt.datetime.fromtimestamp(at, dt.UTC).hour, batch) for at, batch in released] == [
        (5, ["reunion"]), (8, ["paris"]), (13, ["guadeloupe"]), (19, ["tahiti"])]
    for at, [name] in released:  # never early: the policy says SEND at the release
        assert policy.decide_ts(numbers[name], at) is SEND
    friday_evening = dt.datetime(2026, 3, 6, 20, 0, tzinfo=dt.UTC).timestamp()
    assert policy.decide_ts(numbers["paris"], friday_evening) is EXPIRE


async def test_a_batch_whose_hand_over_is_cancelled_is_kept(
        autojump_clock: trio.testing.MockClock) -> None:
    waiter: WindowWaiter[str] = WindowWaiter(3, wall_clock=wall)
    waiter.park("a", T0 + 10)
    waiter.park("b", T0 + 20)
    send, _receive = trio.open_memory_channel[list[str]](0)  # nobody receives
    async with trio.open_nursery() as nursery:
        await nursery.start(waiter.run, send)
        await trio.sleep(30)  # "a" is being handed over, "b" waits behind it
        assert len(waiter) == 2  # the batch in hand still counts against capacity
        assert waiter.park("c", T0 + 5) and not waiter.park("d", T0)
        nursery.cancel_scope.cancel()
    assert waiter.remove_if(lambda _: True) == ["c", "a", "b"]


def test_a_nan_due_time_is_refused() -> None:
    waiter: WindowWaiter[str] = WindowWaiter(3)
    with pytest.raises(ValueError, match="NaN"):
        waiter.park("a", float("nan"))
