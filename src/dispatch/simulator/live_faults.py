"""Faults switched on while the simulator runs, for a set time: a drill's "the operator
throttles 30 % for 20 s" or "answers hang for 5 s" — on top of the configured ones.

Both protocols read the same `LiveFaults`: the SMSC's submit policy and the HTTP gateway's
fault decider take the larger of the configured and the live throttling share, and hold
every answer until a stall is over (an answer due during a stall goes out when it ends,
as a gateway that hung and recovered would answer). Times are trio clock floats.

`POST /faults` sets them: `{"throttle": 0.3, "for_s": 20}` throttles 30 % of submissions
(SMPP ESME_RTHROTTLED, HTTP 429) for 20 s; `{"stall_s": 5}` holds answers for 5 s; both
may be given at once. 200 with what is in force; 400 naming a bad field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import trio

from dispatch.httpserver import Request, Response, error_response, json_response

MAX_DURATION_S: Final = 3_600.0  # a drill longer than an hour is a mistake in the request


@dataclass
class LiveFaults:
    throttle: float = 0.0  # share of submissions throttled while throttle_until is ahead
    throttle_until: float = -math.inf
    stall_until: float = -math.inf

    def throttle_share(self, now: float) -> float:
        return self.throttle if now < self.throttle_until else 0.0

    def stall_s(self, now: float) -> float:
        """Seconds an answer given now is held back (0 when no stall is on)."""
        return self.stall_until - now if now < self.stall_until else 0.0

    def start_throttle(self, share: float, for_s: float, now: float) -> None:
        self.throttle, self.throttle_until = share, now + for_s

    def start_stall(self, for_s: float, now: float) -> None:
        self.stall_until = now + for_s

    def state(self, now: float) -> dict[str, float]:
        return {"throttle": self.throttle_share(now),
                "throttle_left_s": round(max(0.0, self.throttle_until - now), 3),
                "stall_left_s": round(self.stall_s(now), 3)}


class FaultsRoute:
    """`POST /faults` (see the module docstring)."""

    def __init__(self, live: LiveFaults) -> None:
        self.live = live

    async def __call__(self, request: Request) -> Response:
        try:
            body = request.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            self._apply(body, trio.current_time())
        except ValueError as exc:
            return error_response(400, str(exc))
        return json_response(self.live.state(trio.current_time()))

    def _apply(self, body: dict[str, Any], now: float) -> None:
        unknown = set(body) - {"throttle", "for_s", "stall_s"}
        if unknown:
            raise ValueError(f"unknown field {sorted(unknown)[0]!r} "
                             "(known: throttle, for_s, stall_s)")
        if "throttle" not in body and "stall_s" not in body:
            raise ValueError("give 'throttle' (with 'for_s') or 'stall_s'")
        if "throttle" in body:
            share = _number(body, "throttle", 1.0)
            self.live.start_throttle(share, _number(body, "for_s", MAX_DURATION_S), now)
        if "stall_s" in body:
            self.live.start_stall(_number(body, "stall_s", MAX_DURATION_S), now)


def _number(body: dict[str, Any], name: str, highest: float) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not 0 <= value <= highest:
        raise ValueError(f"{name!r} must be a number from 0 to {highest:g}, got {value!r}")
    return float(value)
