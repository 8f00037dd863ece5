"""The cap on calls per number across every voice campaign (policy.calls: 4 in 30 days),
kept in Redis by day as keyed hashes, never a number in clear (store/lua/call_cap.lua).

A call is reserved right before it is placed, one script call for a sender's batch; the
reservations of calls the provider did not place (refused, throttled, unreachable) are
given back right after, so a throttled provider does not use up a voter's calls. A
daemon that dies between the two keeps them reserved: the cap errs on the voter's side.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from dispatch.keys import Keys
from dispatch.policy.calls import CALL_CAP_DAYS, CALLS_PER_NUMBER
from dispatch.store.optout import OptOutStore
from dispatch.store.scripts import ScriptHost, load_script, packed

DAY_S: Final = 86_400


class CallCap:
    def __init__(self, host: ScriptHost, keys: Keys, optouts: OptOutStore, *,
                 calls: int = CALLS_PER_NUMBER, days: int = CALL_CAP_DAYS,
                 clock: Callable[[], float] = time.time) -> None:
        self._keys = keys
        self._optouts = optouts  # its secret keys the hashes
        self._calls = calls
        self._days = days
        self._clock = clock
        self._script = host.register_script(load_script("call_cap"))

    async def reserve(self, numbers: Sequence[str]) -> list[bool]:
        """Which numbers may be called now (each of those counted as called)."""
        if not numbers:
            return []
        flags = await self._run("reserve", numbers)
        return [flag == 1 for flag in flags]

    async def release(self, numbers: Sequence[str]) -> None:
        """Give back reservations that placed no call."""
        if numbers:
            await self._run("release", numbers)

    async def calls_of(self, number: str) -> int:
        """Calls counted for `number` in the period (provenance)."""
        return int(await self._run("count", [number]))

    async def _run(self, mode: str, numbers: Sequence[str]) -> Any:
        """The script's reply: flags (reserve), or a count (release, count)."""
        today = int(self._clock() // DAY_S)
        day_keys = [self._keys.calls_day(today - back) for back in range(self._days)]
        result: Any = await self._script(
            keys=day_keys, args=[await self._optouts.secret(), self._calls, mode,
                                 (self._days + 1) * DAY_S, packed(list(numbers))])
        return result
