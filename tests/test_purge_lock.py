"""The purge lock: released under cancellation, short and renewed, stopping a purge that
lost it, and saying who holds it (`dispatch purge` refused, `dispatch purge --status`)."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
import trio.testing

from dispatch import cli
from dispatch.daemon.upkeep.retention import purge_forever
from dispatch.keys import Keys
from dispatch.settings import RetentionSettings, Settings
from dispatch.store.purge import PurgeReport, purge_campaign
from dispatch.store.purge_lock import (
    LOCK_TTL_S,
    RELEASE_TIMEOUT_S,
    RENEW_EVERY_S,
    LockHolder,
    PurgeLock,
    PurgeLockLost,
    purge_lock,
    read_holder,
)
from dispatch.store.purge_steps import PurgeSteps
from dispatch.store.queue import Queue
from dispatch.store.redis import Redis
from tests.test_provenance import config
from tests.test_purge import campaign_file, enqueue, send_all

HERE = f"host {re.escape(socket.gethostname())} pid {os.getpid()}"
SINCE = r"since (\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d UTC"
OTHER = LockHolder("other-host", 4242, "dispatch purge", time.time(), "f00d")


@pytest.fixture
def clock() -> trio.testing.MockClock:
    """Real time, plus the jumps a test makes (its timeouts still guard against a hang)."""
    return trio.testing.MockClock(rate=1.0)


class SlowStep:
    """Makes one purge step (the receipt maps) wait until `proceed` is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered, self.proceed = trio.Event(), trio.Event()

        async def step(steps: PurgeSteps) -> int:
            self.entered.set()
            await self.proceed.wait()
            return 0

        monkeypatch.setattr(PurgeSteps, "drop_receipts", step)


class Renewals:
    """Sees each renewal of the lock; `after_jump` moves the clock to the next one."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.results: list[bool] = []
        self._done = trio.Event()
        renew = PurgeLock._renew

        async def seen(lock: PurgeLock) -> bool:
            result = await renew(lock)
            self.results.append(result)
            self._done.set()
            return result

        monkeypatch.setattr(PurgeLock, "_renew", seen)

    async def after_jump(self, clock: trio.testing.MockClock) -> bool:
        """Whether the lock was still ours at the renewal the jump brings."""
        self._done = trio.Event()
        clock.jump(RENEW_EVERY_S)
        await self._done.wait()
        return self.results[-1]


async def finished_campaign(redis: Redis, settings: Settings, tmp_path: Path) -> Keys:
    """Campaign c1, sent, every receipt in, finished long ago: due for the retention purge."""
    keys = Keys(settings.redis.key_prefix)
    await enqueue(redis, settings, campaign_file(tmp_path))
    await send_all(Queue(redis, keys, "worker"), keys)
    await redis.hset(keys.campaign("c1").counts, {"submitted": 0})
    await redis.hset(keys.campaign("c1").meta, {"finished_at": 1000})
    return keys


async def purged(redis: Redis, keys: Keys, into: list[PurgeReport | PurgeLockLost]) -> None:
    """Purge c1 in a task; its report, or the lock lost, goes `into`."""
    try:
        into.append(await purge_campaign(redis, keys, "c1"))
    except PurgeLockLost as exc:
        into.append(exc)


@dataclass
class Purging:
    """Campaign c1, due for purging, whose purge waits in a slow step; renewals seen."""

    keys: Keys
    step: SlowStep
    renewals: Renewals


@pytest.fixture
async def purging(redis: Redis, settings: Settings, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> Purging:
    return Purging(await finished_campaign(redis, settings, tmp_path), SlowStep(monkeypatch),
                   Renewals(monkeypatch))


def start_purge(who: str, nursery: trio.Nursery, redis: Redis, keys: Keys) -> None:
    """`dispatch purge` of c1, or a daemon's retention purge."""
    if who == "dispatch purge":
        nursery.start_soon(purge_campaign, redis, keys, "c1")
    else:
        nursery.start_soon(purge_forever, redis, keys, RetentionSettings(days=60), "FR",
                           who.removeprefix("dispatch run consumer "))


@pytest.mark.parametrize("who", ["dispatch purge", "dispatch run consumer worker-7"])
async def test_a_purge_cancelled_midway_leaves_no_lock_and_the_next_one_finishes_it(
        redis: Redis, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        who: str) -> None:
    keys = await finished_campaign(redis, settings, tmp_path)
    step = SlowStep(monkeypatch)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            start_purge(who, nursery, redis, keys)
            await step.entered.wait()
            holder = await read_holder(redis, keys)
            nursery.cancel_scope.cancel()  # Ctrl-C, or the daemon stopping
        assert await redis.exists([keys.purge_lock]) == 0
        assert await redis.hget(keys.campaign("c1").meta, "purged_at") is None
        monkeypatch.undo()
        report = await purge_campaign(redis, keys, "c1")
    assert holder is not None
    assert (holder.host, holder.pid, holder.command) == (socket.gethostname(), os.getpid(), who)
    assert (report.numbers, report.receipts) == (6, 4)  # the four delivered


async def test_the_lock_is_short_and_renewed_while_a_long_purge_runs(
        redis: Redis, purging: Purging, clock: trio.testing.MockClock) -> None:
    keys, step, renewals = purging.keys, purging.step, purging.renewals
    reports: list[PurgeReport | PurgeLockLost] = []
    with trio.fail_after(10 + 4 * RENEW_EVERY_S):  # the clock's jumps count
        async with trio.open_nursery() as nursery:
            nursery.start_soon(purged, redis, keys, reports)
            await step.entered.wait()
            assert 0 < await redis.pttl(keys.purge_lock) <= LOCK_TTL_S * 1000
            for _ in range(4):  # 80 s, past the TTL
                await redis.pexpire(keys.purge_lock, 5000)  # as if about to expire
                assert await renewals.after_jump(clock)
                assert await redis.pttl(keys.purge_lock) > 5000  # a full TTL again
            step.proceed.set()
        assert await redis.exists([keys.purge_lock]) == 0
    assert renewals.results == [True] * 4
    assert [r.numbers for r in reports if isinstance(r, PurgeReport)] == [6]


async def test_a_renewal_finding_the_lock_taken_stops_the_purge(
        redis: Redis, purging: Purging, clock: trio.testing.MockClock) -> None:
    keys, step, renewals = purging.keys, purging.step, purging.renewals
    results: list[PurgeReport | PurgeLockLost] = []
    with trio.fail_after(10 + RENEW_EVERY_S):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(purged, redis, keys, results)
            await step.entered.wait()
            await redis.set(keys.purge_lock, OTHER.value(), px=60_000)  # ours expired; taken
            assert not await renewals.after_jump(clock)
    [lost] = results
    assert isinstance(lost, PurgeLockLost)
    assert re.fullmatch(r"the purge lock was lost \(now held by host other-host pid 4242, "
                        rf"dispatch purge, {SINCE}, expires in (59|60) s\): the purge "
                        r"stopped half-way; the next purge finishes it", str(lost))
    assert not step.proceed.is_set()  # stopped in the step, not after it
    assert await redis.get(keys.purge_lock) == OTHER.value().encode()  # not ours to release
    assert await redis.hget(keys.campaign("c1").meta, "purged_at") is None


async def test_the_retention_purge_that_lost_its_lock_says_so_and_goes_on(
        redis: Redis, purging: Purging, clock: trio.testing.MockClock,
        caplog: pytest.LogCaptureFixture) -> None:
    keys, step, renewals = purging.keys, purging.step, purging.renewals
    retention = RetentionSettings(days=60, interval_s=3600)
    with trio.fail_after(10 + RENEW_EVERY_S), caplog.at_level(logging.ERROR):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(purge_forever, redis, keys, retention, "FR")
            await step.entered.wait()
            await redis.delete([keys.purge_lock])  # expired, and nobody took it
            assert not await renewals.after_jump(clock)
            while not caplog.records:  # the pass ends; the loop waits for the next one
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert [r.getMessage() for r in caplog.records] == [
        "retention purge stopped: the purge lock was lost (it expired before its renewal): "
        "the purge stopped half-way; the next purge finishes it"]


async def test_a_release_redis_does_not_answer_is_given_up_after_a_few_seconds(
        redis: Redis, settings: Settings, clock: trio.testing.MockClock,
        caplog: pytest.LogCaptureFixture) -> None:
    keys = Keys(settings.redis.key_prefix)
    lock = PurgeLock(redis, keys.purge_lock, LockHolder.here("dispatch purge"))

    async def no_answer(**_: object) -> None:
        await trio.sleep_forever()

    waited: list[float] = []

    async def release_while_cancelled() -> None:
        start = trio.current_time()
        with trio.CancelScope() as holder:
            holder.cancel()
            await lock.release()
        waited.append(trio.current_time() - start)

    with trio.fail_after(10 + RELEASE_TIMEOUT_S):
        assert await lock.take()
        lock._script = no_answer  # type: ignore[assignment]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(release_while_cancelled)
            await trio.testing.wait_all_tasks_blocked()
            clock.jump(RELEASE_TIMEOUT_S)
        ttl_ms = await redis.pttl(keys.purge_lock)
    assert RELEASE_TIMEOUT_S <= waited[0] < RELEASE_TIMEOUT_S + 5  # shielded, then given up
    assert 0 < ttl_ms <= LOCK_TTL_S * 1000  # left to its short TTL
    assert caplog.messages == ["purge lock not released: Redis did not answer within 5 s; "
                               "it expires within 60 s"]


async def test_purge_refused_says_who_holds_the_lock(
        redis: Redis, settings: Settings, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    keys, cfg = Keys(settings.redis.key_prefix), config(tmp_path, settings)
    with trio.fail_after(10):
        async with purge_lock(redis, keys, "dispatch run consumer w1") as held:
            assert held
            code = await trio.to_thread.run_sync(
                cli.main, ["purge", "--campaign", "c1", "--force", "--config", cfg])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert re.fullmatch(rf"dispatch purge: another purge is running \(held by {HERE}, "
                        rf"dispatch run consumer w1, {SINCE}, expires in (59|60) s\); try "
                        r"again when it has finished\n", captured.err), captured.err


async def test_purge_status_shows_the_holder_or_no_purge(
        redis: Redis, settings: Settings, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    keys, cfg = Keys(settings.redis.key_prefix), config(tmp_path, settings)

    async def status(*options: str) -> str:
        code = await trio.to_thread.run_sync(
            cli.main, ["purge", "--status", *options, "--config", cfg])
        captured = capsys.readouterr()
        assert (code, captured.err) == (0, "")
        return captured.out

    with trio.fail_after(10):
        assert await status() == "no purge running\n"
        assert json.loads(await status("--json")) == {"running": False}
        async with purge_lock(redis, keys) as held:
            assert held
            text, found = await status(), json.loads(await status("--json"))
        assert await status() == "no purge running\n"
    assert re.fullmatch(rf"a purge is running: held by {HERE}, dispatch purge, {SINCE}, "
                        r"expires in (59|60) s\n", text), text
    assert 0 < found.pop("expires_in_s") <= LOCK_TTL_S
    assert abs(found.pop("since") - time.time()) < 60
    assert found == {"running": True, "host": socket.gethostname(), "pid": os.getpid(),
                     "command": "dispatch purge"}


async def test_a_lock_of_an_older_dispatch_is_shown_without_a_holder(
        redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(10):
        await redis.set(keys.purge_lock, "0123456789abcdef", ex=6 * 3600)  # a bare token
        holder = await read_holder(redis, keys)
    assert holder is not None
    assert holder.describe() == "an older dispatch (who is not recorded), expires in 21600 s"


def test_status_and_force_do_not_go_together(
        settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["purge", "--status", "--force", "--config", config(tmp_path, settings)])
    assert (code, capsys.readouterr().err) == (
        2, "dispatch purge: --force purges: it does not go with --status\n")
