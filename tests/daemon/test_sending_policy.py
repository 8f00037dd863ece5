"""Sending windows (in the recipient's local time) and deadlines, applied by the daemon."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import trio

from dispatch.enqueue import enqueue_file
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.simulator.service import Simulator
from dispatch.store.campaign_meta import DEADLINE, MetaStore
from dispatch.store.redis import Redis
from dispatch.store.status import state_counts
from tests.daemon.conftest import daemon_for
from tests.texts import RULES, SIGNED

PARIS = [f"+3361200{i:04d}" for i in range(20)]
REUNION = [f"+26269200{i:04d}" for i in range(10)]


async def enqueue(redis: Redis, settings: Settings, tmp_path: Path, numbers: list[str],
                  **schedule: str) -> None:
    (tmp_path / "c.csv").write_text("phone\n" + "\n".join(numbers) + "\n")
    report = await enqueue_file(redis, settings, tmp_path / "c.csv", "c1",
                                SIGNED, consent_required=False, rules=RULES,
                                **schedule)
    assert report.accepted == len(numbers)


async def counts(redis: Redis, settings: Settings) -> dict[str, int]:
    return (await state_counts(redis, Keys(settings.redis.key_prefix), ["c1"]))["c1"]


def this_hour_in_paris() -> str:
    """A window open now in Paris and closed now in Réunion (2 or 3 hours ahead)."""
    hour = dt.datetime.now(ZoneInfo("Europe/Paris")).hour
    return f"mon-sun {hour:02d}:00-{hour + 1:02d}:00"


async def test_past_the_deadline_messages_expire_and_are_never_sent(
        redis: Redis, settings: Settings, tmp_path: Path,
        simulator: tuple[Simulator, int]) -> None:
    sim, port = simulator
    with trio.fail_after(30):
        await enqueue(redis, settings, tmp_path, PARIS, window="always",
                      deadline="2099-01-01T00:00:00+00:00")
        # The deadline passes while the messages wait (enqueue refuses a past one): the
        # meta is changed under the daemon's feet, as time would.
        await MetaStore(redis, Keys(settings.redis.key_prefix)).change(
            "c1", {DEADLINE: "2020-01-01T00:00:00+00:00"}, {"by": "test"})
        daemon = await daemon_for(redis, settings, port)
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            while (await counts(redis, settings))["expired"] < len(PARIS):
                await trio.sleep(0.05)
            daemon.stop()
    assert sim.stats()["accepted"] == 0
    errors = Keys(settings.redis.key_prefix).campaign("c1").errors
    assert await redis.hget(errors, PARIS[0]) == b"deadline passed before it could be sent"


async def test_recipients_outside_their_local_window_wait_for_it(
        redis: Redis, settings: Settings, tmp_path: Path,
        simulator: tuple[Simulator, int]) -> None:
    sim, port = simulator
    with trio.fail_after(30):
        await enqueue(redis, settings, tmp_path, PARIS + REUNION, window=this_hour_in_paris())
        await redis.hset(Keys(settings.redis.key_prefix).campaign("c1").meta,
                         {"holidays": "ignore"})  # the test may run on a public holiday
        daemon = await daemon_for(redis, settings, port)
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            while sim.stats()["accepted"] < len(PARIS):
                await trio.sleep(0.05)
            await trio.sleep(0.5)
            current = await counts(redis, settings)
            waiting = len(daemon.waiter)
            daemon.stop()
    assert sim.stats()["accepted"] == len(PARIS)  # Réunion's evening: not one sent there
    assert waiting == len(REUNION)
    assert current["in_flight"] == len(REUNION)  # held, and still pending in Redis


async def test_a_campaign_closed_where_most_recipients_are_is_not_read_at_all(
        redis: Redis, settings: Settings, tmp_path: Path,
        simulator: tuple[Simulator, int]) -> None:
    sim, port = simulator
    paris_now = dt.datetime.now(ZoneInfo("Europe/Paris"))
    closed_day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(paris_now.weekday() + 3) % 7]
    with trio.fail_after(30):
        await enqueue(redis, settings, tmp_path, PARIS, window=f"{closed_day} 10:00-11:00")
        daemon = await daemon_for(redis, settings, port)
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            await trio.sleep(2.5)
            current = await counts(redis, settings)
            daemon.stop()
    assert sim.stats()["accepted"] == 0
    assert current["queued"] == len(PARIS)  # left in Redis, not held in memory


async def test_enqueue_refuses_a_window_or_deadline_it_cannot_read(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    import pytest

    from dispatch.enqueue import EnqueueError

    with pytest.raises(EnqueueError, match="sending window"):
        await enqueue(redis, settings, tmp_path, PARIS, window="whenever")
    with pytest.raises(EnqueueError):
        await enqueue(redis, settings, tmp_path, PARIS, deadline="next tuesday")
