"""The chaos run's plan and verdict — pure: when faults come, what the ledger says."""

from __future__ import annotations

import itertools

import pytest

from dispatch.bench.chaos import plan as chaos
from dispatch.bench.chaos.verdict import accepted_at, ledger, recovery, stop_delays


def test_the_issue_s_run_has_every_fault_inside_the_campaign() -> None:
    plan = chaos.build_plan(133.0, chaos.ChaosShape(), smpp=True, seed=1)
    kinds = [fault.kind for fault in plan]
    assert kinds.count(chaos.DAEMON_KILL) == 5
    singles = (chaos.STALL, chaos.REDIS_KILL, chaos.THROTTLE, chaos.REDIS_STOP)
    assert {kinds.count(kind) for kind in singles} == {1}
    assert kinds.count(chaos.SMPP_DROP) == 8  # every 15 s
    assert all(0 < fault.at_s < 133.0 for fault in plan)
    assert [fault.at_s for fault in plan] == sorted(fault.at_s for fault in plan)
    stop = next(fault for fault in plan if fault.kind == chaos.REDIS_STOP)
    assert stop.duration_s == 30.0
    kills = [fault for fault in plan if fault.kind == chaos.DAEMON_KILL]
    assert not any(stop.at_s - 5 < kill.at_s < stop.end_s + 3 for kill in kills)
    assert all(b.at_s - a.at_s >= 5 for a, b in itertools.pairwise(kills))


def test_http_has_no_connection_drops_and_the_seed_moves_the_kills() -> None:
    http = chaos.build_plan(133.0, chaos.ChaosShape(), smpp=False, seed=1)
    assert chaos.SMPP_DROP not in {fault.kind for fault in http}
    other = chaos.build_plan(133.0, chaos.ChaosShape(), smpp=False, seed=2)
    assert [f.at_s for f in http if f.kind == chaos.DAEMON_KILL] != \
        [f.at_s for f in other if f.kind == chaos.DAEMON_KILL]
    with pytest.raises(ValueError, match="span_s"):
        chaos.build_plan(0.0, chaos.ChaosShape(), smpp=False, seed=1)


def test_recovery_is_measured_from_the_fault_s_end() -> None:
    # 100 a second, nothing from 10 s to 13.5 s, then 100 a second again: resumed 0.6 s
    # after the end (the first sample above), 80 % of the rate over a second at 14.3 s.
    samples = [(t / 10, 10 * min(t, 100) + 10 * max(0, t - 135)) for t in range(0, 300)]
    assert accepted_at(samples, 10.0) == 1000 and accepted_at(samples, -1.0) == 0
    found = recovery(samples, 10.0, 13.0)
    assert found == {"rate_before_per_s": 100, "resumed_s": 0.6, "back_to_rate_s": 1.3}


def test_stop_delays_in_calm_leave_out_the_faults_and_their_wake() -> None:
    acks = [(1.0, 0.01), (12.0, 4.0), (16.0, 0.5), (30.0, 0.02)]
    delays = stop_delays(acks, faults=[(10.0, 12.0)])  # calm again from 17 s
    assert delays["all_s"]["count"] == 4 and delays["all_s"]["max"] == 4.0
    assert delays["calm_s"] == {"count": 2, "p50": 0.015, "p99": 0.02, "max": 0.02}


def test_the_ledger_holds_or_says_which_bound_broke() -> None:
    gateway = {"accepted": 1_000, "duplicates": 3, "sent_after_stop": 0,
               "confirmations": 5, "line_violations": 0}
    counts = {"delivered": 995, "suppressed": 5, "queued": 0, "answers_left": 0}
    held = ledger(1_000, counts, gateway, duplicate_bound=800, smpp=True)
    assert held["lost"] == 0 and all(held["holds"].values())
    assert held["states"] == {"delivered": 995, "suppressed": 5}
    broken = ledger(1_001, {**counts, "answers_left": 1}, {**gateway, "duplicates": 3},
                    duplicate_bound=800, smpp=False)
    assert broken["lost"] == 1 and broken["duplicate_bound"] == 0
    assert broken["holds"] == {"lost": False, "duplicates": False, "sent_after_stop": True,
                               "line_violations": True}
