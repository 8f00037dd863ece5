"""What a chaos run proves, from what was recorded during it — pure.

- Recovery, per fault: from the fault's end, how long until the gateway accepted a message
  again (`resumed_s`) and until a second's acceptances were back to 80 % of the rate of the
  5 s before the fault (`back_to_rate_s`; None when the campaign ended first).
- STOP delays: each STOP's time from the gateway's first sending to the daemon's
  acknowledgement (given once the opt-out is recorded), all of them and those sent "in
  calm" (no fault on, none ended in the last CALM_S: the full-load figure).
- The ledger: enqueued, in a final state, lost, duplicates, sends after STOP, line
  violations, and whether each holds its bound.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Mapping, Sequence
from typing import Any, Final

RATE_WINDOW_S: Final = 5.0
BACK_TO_RATE: Final = 0.8
CALM_S: Final = 5.0
FINAL_STATES: Final = ("delivered", "failed", "expired", "suppressed", "cancelled",
                       "rejected")

Sample = tuple[float, int]  # (seconds from the start, messages accepted by the gateway)


def accepted_at(samples: Sequence[Sample], at_s: float) -> int:
    """The count of the last sample at or before `at_s` (0 before the first)."""
    index = bisect.bisect_right(samples, (at_s, float("inf"))) - 1
    return samples[index][1] if index >= 0 else 0


def recovery(samples: Sequence[Sample], at_s: float, end_s: float) -> dict[str, Any]:
    before = (accepted_at(samples, at_s) - accepted_at(samples, at_s - RATE_WINDOW_S)) \
        / RATE_WINDOW_S
    at_end = accepted_at(samples, end_s)
    resumed = next((t - end_s for t, count in samples if t >= end_s and count > at_end), None)
    back = next((t - end_s for t, count in samples if t >= end_s + 1.0
                 and count - accepted_at(samples, t - 1.0) >= BACK_TO_RATE * before), None)
    return {"rate_before_per_s": round(before), "resumed_s": _round(resumed),
            "back_to_rate_s": _round(back)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def stop_delays(acks: Sequence[tuple[float, float]],
                faults: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """`acks`: (sent at, seconds to its ack) per STOP, times from the start; `faults`:
    (start, end) of every fault."""
    calm = [delay for sent, delay in acks
            if not any(start <= sent <= end + CALM_S for start, end in faults)]
    return {"all_s": quantiles([delay for _, delay in acks]), "calm_s": quantiles(calm)}


def quantiles(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "p50": None, "p99": None, "max": None}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {"count": len(ordered), "p50": round(statistics.median(ordered), 3),
            "p99": round(p99, 3), "max": round(ordered[-1], 3)}


def ledger(enqueued: int, counts: Mapping[str, int], gateway: Mapping[str, Any],
           duplicate_bound: int, smpp: bool) -> dict[str, Any]:
    """The end-of-run check: counts from Redis, `gateway`: the simulator's /stats."""
    final = sum(counts.get(state, 0) for state in FINAL_STATES)
    result = {
        "enqueued": enqueued, "final": final, "lost": enqueued - final,
        "states": {state: count for state, count in counts.items()
                   if count and state in FINAL_STATES},
        "answers_left": counts.get("answers_left", 0),
        "gateway_accepted": gateway["accepted"], "duplicates": gateway["duplicates"],
        "duplicate_bound": duplicate_bound if smpp else 0,
        "sent_after_stop": gateway["sent_after_stop"],
        "confirmations": gateway["confirmations"],
        "line_violations": gateway["line_violations"],
    }
    result["holds"] = {
        "lost": result["lost"] == 0 and result["answers_left"] == 0,
        "duplicates": result["duplicates"] <= result["duplicate_bound"],
        "sent_after_stop": result["sent_after_stop"] == 0,
        "line_violations": result["line_violations"] == 0,
    }
    return result
