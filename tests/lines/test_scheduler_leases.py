"""Lines at run time: the share a scheduler may use (leases), and delays before sending."""

from __future__ import annotations

import pytest

from tests.lines.test_scheduler import messages, pool, scheduler


def test_a_line_let_go_is_never_handed_out() -> None:
    sched = scheduler(pool(count=3, rate=1.0))
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 30))
    sched.set_leased("p", [0, 2], False, 0.0)
    used = {line.address for t in range(10) for _, line in sched.take(float(t), 10)}
    assert used == {"P001"}


def test_a_line_taken_up_starts_empty_one_interval_and_the_jitter_later() -> None:
    sched = scheduler(pool(count=1, rate=2.0, burst=4), jitter_s=0.05)
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 10))
    sched.set_leased("p", [0], False, 0.0)
    sched.set_leased("p", [0], True, 10.0)
    assert sched.take(10.5, 10) == []  # no burst: whoever drove it before may have used it
    assert sched.next_ready_time() == pytest.approx(10.55)
    assert len(sched.take(10.55, 10)) == 1


def test_a_busy_line_let_go_does_not_come_back_when_released() -> None:
    sched = scheduler(pool(count=1, rate=100.0))
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 5))
    [(_, line)] = sched.take(0.0, 1)
    sched.set_leased("p", [0], False, 0.0)
    sched.release(line)
    assert sched.take(1.0, 5) == []
    assert sched.next_ready_time() == float("inf")


def test_a_rested_line_taken_up_keeps_its_full_bucket() -> None:
    sched = scheduler(pool(count=1, rate=2.0, burst=4), jitter_s=0.05)
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 10))
    sched.set_leased("p", [0], False, 0.0)
    sched.set_leased("p", [0], True, 10.0, rested=True)
    sent = 0
    while taken := sched.take(10.0, 1):  # concurrency 1: take and answer, one by one
        sched.release(taken[0][1])
        sent += 1
    assert sent == 3  # the burst (4) less the jitter's share, at once
    assert sched.rest_s("p") == pytest.approx(4 / 2.0 + 0.05)


def test_a_delay_before_sending_moves_the_line_s_next_use_by_as_much() -> None:
    sched = scheduler(pool(count=1, rate=1.0, concurrency=2))
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 5))
    [(_, line)] = sched.take(0.0, 1)
    assert sched.next_ready_time() == pytest.approx(1.0)
    sched.delay([line], 0.3)  # sent 0.3 s after it was taken
    assert sched.next_ready_time() == pytest.approx(1.3)
    assert sched.take(1.2, 5) == []
    assert len(sched.take(1.3, 5)) == 1
