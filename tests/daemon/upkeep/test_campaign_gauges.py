"""The campaign series refreshed from the real Redis (daemon.upkeep.campaign_gauges) and
served on GET /metrics: a campaign's counts show, its finished state is scraped once and
then gone; Redis out of reach is counted, and the series keep their last values."""

from __future__ import annotations

from pathlib import Path

import coredis
from prometheus_client.parser import text_string_to_metric_families

from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.upkeep.campaign_gauges import CampaignGaugeRefresher
from dispatch.httpserver import Request
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.campaign_gauges import CampaignGauges
from dispatch.store.redis import Redis
from tests.daemon.conftest import enqueue
from tests.e2e.harness import free_port

METRICS = Request("GET", "/metrics", "", {}, b"")


async def scrape(metrics: DaemonMetrics) -> dict[tuple[str, ...], float]:
    """{(name, campaign[, state]): value} of the campaign series in a GET /metrics."""
    reply = await metrics.handle(METRICS)
    assert reply.status == 200
    return {(sample.name, *sample.labels.values()): sample.value
            for family in text_string_to_metric_families(reply.body.decode())
            for sample in family.samples
            if sample.name in ("dispatch_campaign_messages", "dispatch_queue_depth")}


async def test_a_campaign_shows_until_a_scrape_saw_it_finished(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    keys = Keys(settings.redis.key_prefix)
    metrics = DaemonMetrics()
    refresher = CampaignGaugeRefresher(CampaignGauges(redis, keys), metrics)
    await enqueue(redis, settings, tmp_path, 4)
    await refresher.refresh_once()
    running = await scrape(metrics)
    assert running[("dispatch_queue_depth", "c1")] == 4
    assert running[("dispatch_campaign_messages", "c1", "queued")] == 4
    await redis.hset(keys.campaign("c1").counts, {"queued": 0, "delivered": 4})
    await refresher.refresh_once()
    finished = await scrape(metrics)
    assert finished[("dispatch_queue_depth", "c1")] == 0
    assert finished[("dispatch_campaign_messages", "c1", "delivered")] == 4
    await refresher.refresh_once()
    assert await scrape(metrics) == {}


async def test_redis_out_of_reach_is_counted_and_the_series_stay(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    metrics = DaemonMetrics()
    await enqueue(redis, settings, tmp_path, 2)
    await CampaignGaugeRefresher(CampaignGauges(redis, Keys(settings.redis.key_prefix)),
                                 metrics).refresh_once()
    # Nothing listens on that port: every command fails to connect.
    gone: Redis = coredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}",
                                         decode_responses=False)
    async with gone:
        refresher = CampaignGaugeRefresher(
            CampaignGauges(gone, Keys(settings.redis.key_prefix)), metrics)
        await refresher.refresh_once()
    assert metrics.registry.get_sample_value(
        "dispatch_redis_errors_total", {"operation": "campaign_metrics"}) == 1
    assert (await scrape(metrics))[("dispatch_queue_depth", "c1")] == 2
