"""When each fault of a chaos run comes, from the run's expected length — pure.

The faults are spread over `span_s`, the time the campaign takes without faults (its
messages over the lines' rate), so each one falls while messages are still going out:
- `stall`: the gateway holds every answer for `stall_s`;
- `redis_kill`: Redis SIGKILLed (its AOF, fsynced every second, is what comes back), started
  again after `redis_restart_s`;
- `throttle`: the gateway throttles `throttle_share` of submissions for `throttle_s`;
- `redis_stop`: Redis stopped cleanly for `redis_stop_s`, then started;
- `daemon_kill` (`kills` of them, one at a seeded random time in each equal slot of the
  span): SIGKILL, restarted `restart_s` later as systemd's RestartSec would;
- `smpp_drop` (SMPP only): every connection closed by the gateway every `drop_every_s`.
No kill is placed while Redis is stopped: a daemon restarted then only waits for Redis (its
READY comes once Redis answers), which the Redis stop already shows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

STALL, REDIS_KILL, THROTTLE, REDIS_STOP = "stall", "redis_kill", "throttle", "redis_stop"
DAEMON_KILL, SMPP_DROP = "daemon_kill", "smpp_drop"
# Where in the span each single fault starts (shares of span_s).
STARTS: Final = {STALL: 0.09, REDIS_KILL: 0.19, THROTTLE: 0.26, REDIS_STOP: 0.47}
KILLS_FROM, KILLS_TO = 0.04, 0.94  # the kills' share of the span
KILL_CLEARANCE_S: Final = 3.0  # at least this far from the Redis stop


@dataclass(frozen=True)
class ChaosShape:
    """The faults' sizes (the issue's run by default)."""

    kills: int = 5
    restart_s: float = 2.0
    redis_restart_s: float = 1.0
    redis_stop_s: float = 30.0
    throttle_share: float = 0.3
    throttle_s: float = 20.0
    stall_s: float = 5.0
    drop_every_s: float = 15.0


@dataclass(frozen=True)
class Fault:
    kind: str
    at_s: float  # from the daemon's first start
    duration_s: float = 0.0  # how long it lasts (a kill: until the restart)

    @property
    def end_s(self) -> float:
        return self.at_s + self.duration_s


def build_plan(span_s: float, shape: ChaosShape, smpp: bool, seed: int) -> list[Fault]:
    """The faults of one run, in time order."""
    if span_s <= 0:
        raise ValueError(f"span_s must be positive, got {span_s}")
    durations = {STALL: shape.stall_s, REDIS_KILL: shape.redis_restart_s,
                 THROTTLE: shape.throttle_s, REDIS_STOP: shape.redis_stop_s}
    faults = [Fault(kind, round(STARTS[kind] * span_s, 2), durations[kind]) for kind in STARTS]
    stop = next(f for f in faults if f.kind == REDIS_STOP)
    faults += _kills(span_s, shape, stop, random.Random(seed))
    if smpp and shape.drop_every_s > 0:
        count = int(span_s // shape.drop_every_s)
        faults += [Fault(SMPP_DROP, round((i + 1) * shape.drop_every_s, 2))
                   for i in range(count)]
    return sorted(faults, key=lambda fault: fault.at_s)


def _kills(span_s: float, shape: ChaosShape, stop: Fault, rng: random.Random
           ) -> list[Fault]:
    first, slot = KILLS_FROM * span_s, (KILLS_TO - KILLS_FROM) * span_s / max(shape.kills, 1)
    times: list[float] = []
    for index in range(shape.kills):
        at = first + (index + rng.random()) * slot
        if stop.at_s - shape.restart_s - KILL_CLEARANCE_S < at < stop.end_s + KILL_CLEARANCE_S:
            at = stop.end_s + KILL_CLEARANCE_S + rng.random() * KILL_CLEARANCE_S
        # Each kill hits a daemon that came back and got going (moved from the Redis stop,
        # two could otherwise fall within one restart).
        if times and at < times[-1] + shape.restart_s + KILL_CLEARANCE_S:
            at = times[-1] + shape.restart_s + KILL_CLEARANCE_S
        times.append(at)
    return [Fault(DAEMON_KILL, round(at, 2), shape.restart_s) for at in times]
