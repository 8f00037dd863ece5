"""The chaos scenario, short (benchmarks/chaos.py runs the issue's 200,000 messages): a
real redis-server SIGKILLed and stopped, a real daemon SIGKILLed twice and restarted, the
gateway stalling, throttling and (SMPP) dropping its connections, STOPs for queued numbers;
at the end nothing is lost, no STOP is overtaken, no line is driven too fast, HTTP sends
nothing twice and SMPP at most its in-flight window per kill."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from dispatch.bench.chaos import plan as chaos
from dispatch.bench.chaos.run import ChaosOptions, run_chaos

TIMEOUT_S = 240
STOPS = 30


def faults(smpp: bool) -> tuple[chaos.Fault, ...]:
    plan = [chaos.Fault(chaos.STALL, 1.0, 1.0), chaos.Fault(chaos.DAEMON_KILL, 2.5, 1.0),
            chaos.Fault(chaos.REDIS_KILL, 5.0, 0.5), chaos.Fault(chaos.THROTTLE, 6.5, 1.5),
            chaos.Fault(chaos.REDIS_STOP, 9.0, 3.0), chaos.Fault(chaos.DAEMON_KILL, 14.0, 1.0)]
    if smpp:
        plan += [chaos.Fault(chaos.SMPP_DROP, 4.0), chaos.Fault(chaos.SMPP_DROP, 8.0)]
    return tuple(sorted(plan, key=lambda fault: fault.at_s))


@pytest.mark.parametrize("gateway", ["smpp", "http"])
async def test_a_campaign_through_every_fault_keeps_its_ledger(gateway: str,
                                                               tmp_path: Path) -> None:
    smpp = gateway == "smpp"
    options = ChaosOptions(gateway=gateway, messages=8_000, rate=500.0, stops=STOPS,
                           stop_rate=20.0, stops_at_s=0.5, stops_from=0.6,
                           shape=chaos.ChaosShape(restart_s=1.0, throttle_share=0.3),
                           faults=faults(smpp), timeout_s=TIMEOUT_S - 30)
    with trio.fail_after(TIMEOUT_S):
        report = await run_chaos(options, tmp_path)
    ledger, daemon, stops = report["ledger"], report["daemon"], report["stops"]
    assert ledger["final"] == ledger["enqueued"] == 8_000 and ledger["lost"] == 0
    assert ledger["answers_left"] == 0 and ledger["confirmations"] == STOPS
    assert ledger["sent_after_stop"] == 0 and ledger["line_violations"] == 0
    assert ledger["duplicates"] <= ledger["duplicate_bound"]
    assert smpp or ledger["duplicates"] == 0
    assert stops["acknowledged"] == stops["suppressed_messages"] == STOPS
    assert report["applied_faults"] == len(faults(smpp))
    assert daemon["kills"] == 2 and daemon["unexpected_exits"] == []
    assert daemon["log_tracebacks"] == 0
    # The Redis outages are told: one line when lost, one when back, each time.
    assert daemon["log_redis_failing"] >= 1 and daemon["log_redis_recovered"] >= 1
    assert all(fault["resumed_s"] is not None for fault in report["faults"])
