"""The cap on calls per number across voice campaigns: kept by day as keyed hashes."""

from __future__ import annotations

from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.call_cap import DAY_S, CallCap
from dispatch.store.optout import OptOutStore
from dispatch.store.redis import Redis
from dispatch.store.scripts import ScriptHost

NOW = 20_000 * DAY_S + 3600.0


def cap(redis: Redis, settings: Settings, scripts: ScriptHost | None, now: float = NOW
        ) -> CallCap:
    keys = Keys(settings.redis.key_prefix)
    return CallCap(scripts or redis, keys, OptOutStore(redis, keys), calls=4, days=30,
                   clock=lambda: now)


async def test_four_calls_in_thirty_days_then_no_more(
        redis: Redis, settings: Settings, scripts: ScriptHost | None) -> None:
    today = cap(redis, settings, scripts)
    assert await today.reserve(["+33612345678"] * 3) == [True] * 3
    later = cap(redis, settings, scripts, NOW + 10 * DAY_S)
    assert await later.reserve(["+33612345678", "+33612345678", "+33699999999"]) == [
        True, False, True]
    assert await later.calls_of("+33612345678") == 4
    assert await cap(redis, settings, scripts, NOW + 30 * DAY_S).calls_of("+33612345678") == 1


async def test_a_reservation_that_placed_no_call_is_given_back(
        redis: Redis, settings: Settings, scripts: ScriptHost | None) -> None:
    guard = cap(redis, settings, scripts)
    assert await guard.reserve(["+33612345678"] * 4) == [True] * 4
    await guard.release(["+33612345678", "+33600000000"])  # the second reserved nothing
    assert await guard.calls_of("+33612345678") == 3


async def test_no_number_is_kept_in_clear(
        redis: Redis, settings: Settings, scripts: ScriptHost | None) -> None:
    await cap(redis, settings, scripts).reserve(["+33612345678"])
    [key] = [k async for k in redis.scan_iter(match=f"{settings.redis.key_prefix}:{{calls}}:*")]
    fields = await redis.hgetall(key)
    assert list(fields.values()) == [b"1"] and b"612345678" not in b"".join(fields)
    assert 0 < await redis.ttl(key) <= 31 * DAY_S
