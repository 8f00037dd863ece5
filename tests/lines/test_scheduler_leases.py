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
    sched.delay(sched.marks([line]), 0.3)  # sent 0.3 s after it was taken
    assert sched.next_ready_time() == pytest.approx(1.3)
    assert sched.take(1.2, 5) == []
    assert len(sched.take(1.3, 5)) == 1


def test_a_batch_on_one_line_is_delayed_once_not_once_per_message() -> None:
    # A short code: many messages of one batch on the same line, sent together 0.5 s
    # after they were taken: the line's schedule moves by 0.5 s, not 0.5 s per message
    # (which cost a 1,000 msg/s line 37 % of its rate, the opt-out check's time per message).
    sched = scheduler(pool(count=1, rate=4.0, burst=1, concurrency=10))
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 20))
    first = sched.take(0.0, 5)
    assert len(first) == 1  # burst 1: one now, the next one interval later
    batch = first + [a for t in (0.25, 0.5, 0.75, 1.0) for a in sched.take(t, 5)]
    assert len(batch) == 5 and len({id(line) for _, line in batch}) == 1
    sched.delay(sched.marks(line for _, line in batch), 0.5)
    assert sched.next_ready_time() == pytest.approx(1.75)


def test_batches_held_up_together_shift_their_line_once() -> None:
    # Eight senders' batches on one short code, all held up by the same 5 s Redis outage:
    # the line's schedule moves by 5 s once, not by 5 s per batch (a 37 s stall).
    sched = scheduler(pool(count=1, rate=4.0, burst=1, concurrency=10))
    sched.set_campaign("c", "p")
    sched.push("c", messages("c", 20))
    marks = []
    for t in (0.0, 0.25, 0.5):
        [(_, line)] = sched.take(t, 5)
        marks.append(sched.marks([line]))
    for mark in marks:  # each batch reaches the gateway 5 s after it was taken
        sched.delay(mark, 5.0)
    assert sched.next_ready_time() == pytest.approx(0.75 + 5.0)
