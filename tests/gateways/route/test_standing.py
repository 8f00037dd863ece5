"""When a route's member is out of service (Standing): after failures in a row, at once
when unreachable, for a period that doubles when it fails again on trial, back at its
first answer."""

from __future__ import annotations

from dispatch.gateways.route.standing import Change, Standing
from dispatch.policy.backoff import Backoff


def standing() -> Standing:
    return Standing(3, Backoff(10.0, 40.0))


def test_out_after_failures_in_a_row_an_answer_between_them_starts_again() -> None:
    member = standing()
    assert member.failed(0.0, False) is Change.NONE
    assert member.failed(1.0, False) is Change.NONE
    assert member.answered(2.0) is Change.NONE
    assert [member.failed(3.0 + i, False) for i in range(3)] == [
        Change.NONE, Change.NONE, Change.OUT]
    assert not member.in_service(5.0 + 9.9)
    assert member.in_service(5.0 + 10.0)


def test_unreachable_is_out_at_once() -> None:
    member = standing()
    assert member.failed(0.0, True) is Change.OUT
    assert member.out_until == 10.0


def test_on_trial_a_failure_doubles_the_period_up_to_the_cap_and_an_answer_brings_it_back(
        ) -> None:
    member = standing()
    member.failed(0.0, True)
    assert member.failed(10.0, False) is Change.OUT  # its first try back failed
    assert member.out_until == 30.0
    member.failed(30.0, False)
    assert member.out_until == 70.0  # 40 s: the cap
    assert member.answered(70.0) is Change.BACK
    assert member.answered(71.0) is Change.NONE
    member.failed(72.0, True)
    assert member.out_until == 82.0  # from the first period again


def test_late_results_of_submissions_made_before_it_went_out_change_nothing() -> None:
    member = standing()
    member.failed(0.0, True)
    assert member.failed(1.0, True) is Change.NONE
    assert member.answered(2.0) is Change.NONE
    assert member.out_until == 10.0
