"""What the campaign gauges read in Redis (dispatch.store.campaign_gauges), on the real
Redis of the session: every campaign's counts by state, and whether it is finished, long
finished or being purged; campaigns that appear or go between reads."""

from __future__ import annotations

from pathlib import Path

from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.campaign_gauges import CampaignGauges
from dispatch.store.campaign_meta import FINISHED_AT, PURGE_STARTED_AT
from dispatch.store.redis import Redis
from dispatch.vocabulary import ALL_STATES
from tests.daemon.conftest import enqueue


async def test_nothing_to_read_before_any_campaign(redis: Redis, settings: Settings) -> None:
    assert await CampaignGauges(redis, Keys(settings.redis.key_prefix)).read() == {}


async def test_an_enqueued_campaign_reads_queued_with_every_state(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    await enqueue(redis, settings, tmp_path, 3)  # campaign c1
    (gauge,) = (await CampaignGauges(redis, Keys(settings.redis.key_prefix)).read()).values()
    assert gauge.counts == dict.fromkeys(ALL_STATES, 0) | {"queued": 3}
    assert (gauge.finished, gauge.finished_long_ago, gauge.purged) == (False, False, False)


async def test_finished_then_stamped_then_purging(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    await enqueue(redis, settings, tmp_path, 3)
    keys = Keys(settings.redis.key_prefix)
    gauges = CampaignGauges(redis, keys)
    await gauges.read()  # c1 known: read in the first round trip from now on
    campaign = keys.campaign("c1")
    # Every message final (as receipts leave them): finished, from the counts alone.
    await redis.hset(campaign.counts, {"queued": 0, "delivered": 2, "failed": 1})
    c1 = (await gauges.read())["c1"]
    assert c1.counts["delivered"] == 2 and c1.counts["failed"] == 1
    assert (c1.finished, c1.finished_long_ago, c1.purged) == (True, False, False)
    # The retention pass stamped it: finished before a daemon that starts now looks.
    await redis.hset(campaign.meta, {FINISHED_AT: "1800000000"})
    c1 = (await gauges.read())["c1"]
    assert (c1.finished, c1.finished_long_ago, c1.purged) == (True, True, False)
    await redis.hset(campaign.meta, {PURGE_STARTED_AT: "1800000100"})
    assert (await gauges.read())["c1"].purged


async def test_campaigns_that_appear_or_go_between_reads(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    keys = Keys(settings.redis.key_prefix)
    gauges = CampaignGauges(redis, keys)
    await enqueue(redis, settings, tmp_path, 2)
    assert list(await gauges.read()) == ["c1"]
    # Another appears (its counts read at once, in a second round trip) ...
    await redis.sadd(keys.campaigns, ["c2"])
    await redis.hset(keys.campaign("c2").counts, {"queued": 5})
    read = await gauges.read()
    assert list(read) == ["c1", "c2"]
    assert read["c2"].counts["queued"] == 5 and not read["c2"].finished
    # ... and one goes (deleted by a purge's end).
    await redis.srem(keys.campaigns, ["c1"])
    assert list(await gauges.read()) == ["c2"]
