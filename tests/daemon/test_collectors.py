"""The metric families built when scraped (dispatch.daemon.collectors): the receipt latency
histogram added to in bulk reads as prometheus_client's own would; gateways' errors, reach
and binds come from what each gateway holds; campaign series show live campaigns and leave
once a finished one has been scraped."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import generate_latest

from dispatch.daemon.collectors import BulkHistogram, CampaignSeries, GatewaySeries
from dispatch.gateways.errors import GatewayErrors
from dispatch.gateways.health import GatewayHealth
from dispatch.store.campaign_gauges import CampaignGauge
from dispatch.store.receipts import AgeCounts
from dispatch.vocabulary import ALL_STATES

BOUNDS = (1, 10, 600)


def values(registry: CollectorRegistry, name: str) -> dict[tuple[str, ...], float]:
    """{label values: value} of the samples called `name`."""
    return {tuple(sample.labels.values()): sample.value
            for family in registry.collect() for sample in family.samples
            if sample.name == name}


def exposition(registry: CollectorRegistry) -> list[str]:
    """The sample lines of a scrape (no HELP or TYPE)."""
    return [line for line in generate_latest(registry).decode().splitlines()
            if not line.startswith("#")]


def test_bulk_receipt_ages_read_as_a_histogram_observed_one_at_a_time() -> None:
    ages = [0.5, 1.0, 3.0, 3.0, 700.0, 86_400.0 * 3]
    registry = CollectorRegistry()
    histogram = Histogram("latency_seconds", "Ages.", ["gateway"], buckets=BOUNDS,
                          registry=registry)
    for age in ages:
        histogram.labels("smpp").observe(age)
    bulk = CollectorRegistry()
    latency = BulkHistogram("latency_seconds", "Ages.", BOUNDS)
    bulk.register(latency)
    # Two batches: per bucket, each bound then above it.
    latency.add("smpp", AgeCounts(0.5 + 1.0 + 3.0, [2, 1, 0, 0]))
    latency.add("smpp", AgeCounts(3.0 + 700.0 + 86_400.0 * 3, [0, 1, 0, 2]))
    assert exposition(bulk) == [line for line in exposition(registry)
                                if "_created" not in line]


@given(st.lists(st.floats(-5, 5000, allow_nan=False) | st.sampled_from([1.0, 10.0, 600.0]),
                max_size=30), st.integers(1, 4))
def test_values_observed_in_bulk_read_as_observed_one_at_a_time(
        waits: list[float], batches: int) -> None:
    registry = CollectorRegistry()
    histogram = Histogram("wait_seconds", "Waits.", ["gateway"], buckets=BOUNDS,
                          registry=registry)
    child = histogram.labels("smpp")  # shown from the start, as the daemon's
    for wait in waits:
        child.observe(wait)
    bulk = CollectorRegistry()
    tallied = BulkHistogram("wait_seconds", "Waits.", BOUNDS)
    bulk.register(tallied)
    tallied.series("smpp")
    for start in range(batches):  # in a few batches, bounds included (le: inclusive)
        tallied.observe_all("smpp", waits[start::batches])
    expected = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in exposition(registry) if "_created" not in line}
    found = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
             for line in exposition(bulk)}
    assert found.keys() == expected.keys()
    for name, value in expected.items():
        assert found[name] == pytest.approx(value)  # the sum: added in another order


def test_a_gateway_shows_zeros_before_its_first_receipt() -> None:
    registry = CollectorRegistry()
    latency = BulkHistogram("latency_seconds", "Ages.", BOUNDS)
    registry.register(latency)
    latency.series("http")
    latency.series("http")  # twice: still zeros, not reset later
    latency.add("http", AgeCounts(2.0, [0, 1, 0, 0]))
    latency.series("http")
    assert values(registry, "latency_seconds_count") == {("http",): 1.0}
    assert values(registry, "latency_seconds_bucket") == {
        ("http", "1.0"): 0.0, ("http", "10.0"): 1.0, ("http", "600.0"): 1.0,
        ("http", "+Inf"): 1.0}
    assert values(registry, "latency_seconds_sum") == {("http",): 2.0}


class Gateway:
    """What GatewaySeries reads of a gateway."""

    def __init__(self, name: str, health: GatewayHealth) -> None:
        self.name = name
        self.errors = GatewayErrors()
        self._health = health

    def health(self) -> GatewayHealth:
        return self._health


def watched(*gateways: Gateway) -> CollectorRegistry:
    registry = CollectorRegistry()
    series = GatewaySeries()
    for gateway in gateways:
        series.watch(gateway)
    registry.register(series)
    return registry


def test_gateways_errors_by_code_reach_and_binds_are_read_when_scraped() -> None:
    smpp = Gateway("smpp", GatewayHealth(True, "bound", binds_bound=1, binds_total=3))
    http = Gateway("http", GatewayHealth(False, "unreachable", "refused"))
    fresh = Gateway("calls", GatewayHealth(None, "unknown"))  # no request yet: not up
    registry = watched(smpp, http, fresh)
    assert values(registry, "dispatch_gateway_errors_total") == {}
    smpp.errors.smpp_status(0x58, times=3)
    http.errors.http_status(429)
    http.errors.transport(ConnectionRefusedError())
    http.errors.http_status(429)
    assert values(registry, "dispatch_gateway_errors_total") == {
        ("smpp", "ESME_RTHROTTLED"): 3.0, ("http", "429"): 2.0,
        ("http", "connection_refused"): 1.0}
    assert values(registry, "dispatch_gateway_up") == {
        ("smpp",): 1.0, ("http",): 0.0, ("calls",): 0.0}
    # Binds: SMPP gateways only.
    assert values(registry, "dispatch_smpp_binds") == {
        ("smpp", "bound"): 1.0, ("smpp", "unbound"): 2.0}


def gauge(counts: dict[str, int], *, finished: bool = False, long_ago: bool = False,
          purged: bool = False) -> CampaignGauge:
    return CampaignGauge(dict.fromkeys(ALL_STATES, 0) | counts, finished, long_ago, purged)


def shown(registry: CollectorRegistry) -> dict[tuple[str, ...], float]:
    """{(campaign, state): messages} for states with messages, and queue depths."""
    found = {key: value for key, value in values(registry, "dispatch_campaign_messages")
             .items() if value}
    return found | {(campaign, "depth"): value for (campaign,), value
                    in values(registry, "dispatch_queue_depth").items()}


def series_of(updates: Iterable[dict[str, CampaignGauge]]) -> CollectorRegistry:
    registry = CollectorRegistry()
    series = CampaignSeries()
    registry.register(series)
    for update in updates:
        series.update(update)
    return registry


def test_a_campaign_shows_every_state_and_its_depth_while_it_runs() -> None:
    registry = series_of([{"c1": gauge({"queued": 5, "delivered": 3})}])
    every_state = values(registry, "dispatch_campaign_messages")
    assert set(every_state) == {("c1", state) for state in ALL_STATES}
    assert shown(registry) == {("c1", "queued"): 5.0, ("c1", "delivered"): 3.0,
                               ("c1", "depth"): 5.0}


def test_a_finished_campaign_is_scraped_once_finished_then_gone() -> None:
    series = CampaignSeries()
    registry = CollectorRegistry()
    registry.register(series)
    series.update({"c1": gauge({"queued": 1, "delivered": 1})})
    series.update({"c1": gauge({"delivered": 2}, finished=True)})
    # Read by anything but a scrape (get_sample_value): still there.
    assert shown(registry) == {("c1", "delivered"): 2.0, ("c1", "depth"): 0.0}
    assert registry.get_sample_value("dispatch_queue_depth", {"campaign": "c1"}) == 0.0
    assert shown(registry) == {("c1", "delivered"): 2.0, ("c1", "depth"): 0.0}
    series.scraped()  # a scrape showed it finished
    assert shown(registry) == {}
    series.update({"c1": gauge({"delivered": 2}, finished=True, long_ago=True)})
    assert shown(registry) == {}  # still finished: not back
    assert series.campaigns == []
    # More messages queued to it: live again.
    series.update({"c1": gauge({"queued": 4, "delivered": 2})})
    assert shown(registry) == {("c1", "queued"): 4.0, ("c1", "delivered"): 2.0,
                               ("c1", "depth"): 4.0}


def test_campaigns_over_before_the_daemon_looked_purged_or_deleted_are_not_shown() -> None:
    series = CampaignSeries()
    registry = CollectorRegistry()
    registry.register(series)
    series.update({"old": gauge({"delivered": 9}, finished=True, long_ago=True),
                   "purging": gauge({"queued": 2}, purged=True),
                   "live": gauge({"queued": 1}),
                   "doomed": gauge({"queued": 3})})
    assert series.campaigns == ["doomed", "live"]
    series.update({"live": gauge({"queued": 1}),
                   "doomed": gauge({"queued": 3}, purged=True)})
    assert series.campaigns == ["live"]
    series.update({})  # every campaign deleted
    assert shown(registry) == {}
