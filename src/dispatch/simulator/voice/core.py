"""The voice side's decisions and book — pure (times passed in: trio.current_time() in the
service, MockClock in tests; callbacks handed to a sink that posts them).

Placing a call, in this order, each check answering on its own:
1. idempotency: a key seen before is answered 200 with the first call's JSON and places
   nothing (`replays`); with `voice_idempotency` off it is placed again (`duplicates`);
2. the line (the From): busy with a call not yet at its final status -> 409, counted in
   `line_violations` (dispatch never places two calls at once on a line). A duplicate
   (2. off) is the provider's doing, not the client's: it is placed on its busy line;
3. calls per second of the account (`voice_cps`, a burst of one second) -> 429;
otherwise 201: the call is planned (plan.py) and its moments (answered, the 9, the end)
go into a time-bucketed schedule that the ticker drains (`advance`): no task per call.

A 9 is posted to the Gather's action; the call ends when that post settles. Acknowledged
(2xx), it counts in `opted_out` and its (number, line) pair is remembered: any later call
to that number, whatever the line, counts in `called_after_optout`.

Memory: per key seen, one dict entry whose value packs the call's counter, its line (an
index into the lines seen) and the To's digits, from which the first call's JSON is
rebuilt; per call in progress one Call; per acknowledged 9 one pair. No script kept.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Protocol

from dispatch.simulator.config import CALL_OUTCOME_NAMES, SimulatorConfig
from dispatch.simulator.schedule import BucketSchedule
from dispatch.simulator.smsc.policy import RateLimiter
from dispatch.simulator.voice.call import GATHER, Call, Callback
from dispatch.simulator.voice.plan import FINAL_STATUS, RINGS, CallPlanner
from dispatch.simulator.voice.request import (
    ANSWERED,
    COMPLETED,
    INITIATED,
    RINGING,
    CallRequest,
    Refusal,
)

TICK_S: Final = 0.01  # a call's moments happen at most this long after they are due
_SCHEDULE_KEY: Final = "calls"  # one timeline: the schedule's grouping is not needed
# Moments of a call in the schedule.
_ANSWER, _PRESS, _END = range(3)
# A key's packed value: counter << 80 | line index << 50 | the To's digits (< 10**15).
_LINE_SHIFT, _COUNTER_SHIFT = 50, 80
_DIGITS_MASK, _LINE_MASK = (1 << 50) - 1, (1 << 30) - 1


class CallbackSink(Protocol):
    def schedule(self, due: float, url: str, item: Callback) -> None:
        """Post `item` to `url` at `due`."""


@dataclass
class VoiceCounters:
    placed: int = 0  # calls placed (201), duplicates included
    replays: int = 0  # repeated keys answered from the first call (200)
    duplicates: int = 0  # repeated keys placed again (voice_idempotency off)
    line_violations: int = 0  # 409: a call on a line already in a call
    throttled: int = 0  # 429: over the account's calls per second
    rejected: int = 0  # every other 4xx (credentials, validation)
    outcomes: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(CALL_OUTCOME_NAMES, 0))  # calls ended
    opted_out: int = 0  # 9s whose post the Gather's action acknowledged
    called_after_optout: int = 0  # calls placed to a number after its 9 was acknowledged
    active: int = 0  # placed, not yet at their final status

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class VoiceCore:
    def __init__(self, config: SimulatorConfig, rng: random.Random, sink: CallbackSink,
                 id_prefix: str | None = None) -> None:
        self.counters = VoiceCounters()
        self._planner = CallPlanner(config, rng)
        self._sink = sink
        self._idempotent = config.voice_idempotency
        self._cps = RateLimiter(config.voice_cps, 0.0) if config.voice_cps else None
        # 8 hex digits per run (ids stay unique across restarts) + 24 of counter: "CA" + 32.
        self._prefix = "CA" + (id_prefix if id_prefix is not None else secrets.token_hex(4))
        self._counter = 0
        self._keys: dict[str, int] = {}  # idempotency key -> packed first call
        self._line_ids: dict[str, int] = {}
        self._line_names: list[str] = []
        self._busy: dict[str, int] = {}  # line -> calls in progress on it
        self._moments: BucketSchedule[tuple[int, Call]] = BucketSchedule(TICK_S)
        self._opted_pairs: set[tuple[str, str]] = set()
        self._opted_numbers: set[str] = set()
        self.sleep_until = float("inf")  # set by the ticker: wake it for anything earlier
        self.wakeup: Callable[[], None] = lambda: None

    # Placing.

    def place(self, account: str, request: CallRequest, key: str | None, now: float
              ) -> tuple[int, dict[str, str]]:
        """(HTTP status, JSON answer) for a valid, authenticated request; raises Refusal
        for 409 and 429."""
        first = self._keys.get(key) if key is not None else None
        if first is not None and self._idempotent:
            self.counters.replays += 1
            return 200, self._unpack(first)
        if first is None and self._busy.get(request.line):
            self.counters.line_violations += 1
            raise Refusal(409, 20409, "line busy")
        if self._cps is not None and not self._cps.allow(account, now):
            self.counters.throttled += 1
            raise Refusal(429, 20429, "Too Many Requests: calls per second over the cap")
        if first is not None:
            self.counters.duplicates += 1
        call = self._start(account, request, now)
        if key is not None and first is None:
            self._keys[key] = self._pack(request)
        return 201, {"sid": call.sid, "status": "queued", "to": call.to, "from": call.line}

    def _start(self, account: str, request: CallRequest, now: float) -> Call:
        self._counter += 1
        plan = self._planner.plan(gather=request.action is not None,
                                  timeout_s=request.timeout_s)
        call = Call(f"{self._prefix}{self._counter:024x}", account, request.to, request.line,
                    request.callback, request.events, request.action, plan)
        counters = self.counters
        counters.placed += 1
        counters.active += 1
        counters.called_after_optout += request.to in self._opted_numbers
        self._busy[call.line] = self._busy.get(call.line, 0) + 1
        self._post_status(call, INITIATED, "initiated", now)
        if plan.outcome in RINGS:
            self._post_status(call, RINGING, "ringing", now)
        if plan.answer_s is not None and call.events & ANSWERED and call.callback:
            self._add(now + plan.answer_s, _ANSWER, call)
        self._add(now + plan.end_s, _PRESS if plan.press else _END, call)
        return call

    def _add(self, due: float, moment: int, call: Call) -> None:
        self._moments.add(due, _SCHEDULE_KEY, (moment, call))
        if due < self.sleep_until:
            self.wakeup()

    # Idempotency keys.

    def _pack(self, request: CallRequest) -> int:
        line_id = self._line_ids.get(request.line)
        if line_id is None:
            line_id = self._line_ids[request.line] = len(self._line_names)
            self._line_names.append(request.line)
        return (self._counter << _COUNTER_SHIFT | (line_id & _LINE_MASK) << _LINE_SHIFT
                | int(request.to[1:]))

    def _unpack(self, packed: int) -> dict[str, str]:
        """The first call's JSON answer."""
        return {"sid": f"{self._prefix}{packed >> _COUNTER_SHIFT:024x}", "status": "queued",
                "to": f"+{packed & _DIGITS_MASK}",
                "from": self._line_names[packed >> _LINE_SHIFT & _LINE_MASK]}

    # The ticker.

    def next_due(self) -> float | None:
        return self._moments.next_due()

    def advance(self, now: float) -> None:
        """Run the moments due by `now`: answers, keypresses, ends."""
        for moments in self._moments.pop_due(now).values():
            for moment, call in moments:
                if moment == _ANSWER:
                    self._post_status(call, ANSWERED, "in-progress", now)
                elif moment == _END:
                    self._end(call, now)
                elif call.action is not None:  # _PRESS (planned only with an action)
                    self._sink.schedule(now, call.action, Callback(call, GATHER, 0))

    def gather_settled(self, call: Call, acknowledged: bool, now: float) -> None:
        """The 9's post was acknowledged (the opt-out recorded) or given up: the call ends."""
        if acknowledged:
            self.counters.opted_out += 1
            self._opted_pairs.add((call.to, call.line))
            self._opted_numbers.add(call.to)
        self._end(call, now)

    def _end(self, call: Call, now: float) -> None:
        counters = self.counters
        counters.active -= 1
        counters.outcomes[call.plan.outcome] += 1
        left = self._busy.pop(call.line) - 1
        if left:
            self._busy[call.line] = left
        self._post_status(call, COMPLETED, FINAL_STATUS[call.plan.outcome], now)

    def _post_status(self, call: Call, event: int, status: str, now: float) -> None:
        if call.events & event and call.callback is not None:
            self._sink.schedule(now, call.callback, call.status(status))

    @property
    def opted_pairs(self) -> frozenset[tuple[str, str]]:
        """The (number, line) pairs whose 9 was acknowledged."""
        return frozenset(self._opted_pairs)
