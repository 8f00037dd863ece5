from __future__ import annotations

from dispatch.simulator.schedule import BucketSchedule, RetryHeap


def test_items_never_come_out_early_and_at_most_one_tick_late() -> None:
    schedule: BucketSchedule[int] = BucketSchedule(tick=0.01)
    schedule.add(1.005, "a", 1)
    assert schedule.pop_due(1.004) == {}
    assert schedule.next_due() is not None and 1.005 <= schedule.next_due() <= 1.015
    assert schedule.pop_due(1.015) == {"a": [1]}
    assert len(schedule) == 0
    assert schedule.next_due() is None


def test_due_items_are_grouped_by_key_in_arrival_order() -> None:
    schedule: BucketSchedule[str] = BucketSchedule(tick=0.01)
    schedule.add(0.5, "u1", "x")
    schedule.add(0.2, "u2", "y")
    schedule.add(0.3, "u1", "z")
    schedule.add(9.0, "u1", "later")
    due = schedule.pop_due(1.0)
    assert due == {"u2": ["y"], "u1": ["z", "x"]}
    assert len(schedule) == 1
    assert schedule.pop_all() == {"u1": ["later"]}


def test_retries_come_out_in_time_order_ties_in_insertion_order() -> None:
    retries: RetryHeap[str] = RetryHeap()
    retries.add(2.0, "b")
    retries.add(1.0, "a")
    retries.add(2.0, "c")
    assert retries.next_due() == 1.0
    assert retries.pop_due(1.5) == ["a"]
    assert retries.pop_all() == ["b", "c"]
    assert len(retries) == 0
