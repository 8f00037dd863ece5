"""Metric families the daemon builds when it is scraped, from what its parts already hold
(custom prometheus_client collectors): nothing is measured for them on the hot path.

- BulkHistogram: a histogram by gateway filled a batch at a time (prometheus_client's
  Histogram takes one observation at a time, 0.7 µs each): dispatch_receipt_latency_seconds
  with the bucket counts receipt_apply.lua tallies in Redis, dispatch_queue_wait_seconds
  with a batch's waits counted here.
- GatewaySeries: dispatch_gateway_errors_total{gateway,code}, dispatch_gateway_up{gateway}
  and dispatch_smpp_binds{gateway,state}, read from each gateway (`errors`, `health()`).
- RouteSeries: dispatch_route_member_in_service{route,gateway},
  dispatch_route_switches_total{route,gateway,direction} and
  dispatch_route_rerouted_messages_total{route,gateway}, read from each route.
- CampaignSeries: dispatch_campaign_messages{campaign,state} and
  dispatch_queue_depth{campaign}, from the campaign counts read in Redis every few seconds
  by one daemon only (daemon/upkeep/campaign_gauges.py); a campaign's series go once it
  has been scraped finished, or is purged.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from dispatch.gateways.errors import GatewayErrors
from dispatch.gateways.health import GatewayHealth
from dispatch.gateways.route import RouteGateway
from dispatch.store.campaign_gauges import CampaignGauge
from dispatch.store.receipts import AgeCounts
from dispatch.vocabulary import ALL_STATES, QUEUED


class BulkHistogram(Collector):
    """A histogram by gateway, added to in bulk: a sum and a count per bucket at a time."""

    def __init__(self, name: str, documentation: str, bounds: Sequence[float]) -> None:
        self._name = name
        self._documentation = documentation
        self.bounds = tuple(float(bound) for bound in bounds)
        # As prometheus_client writes its own histograms' bounds ("1.0", "600.0").
        self._les = [repr(bound) for bound in self.bounds] + ["+Inf"]
        self._series: dict[str, tuple[list[int], list[float]]] = {}  # buckets, [sum]

    def series(self, gateway: str) -> None:
        """Show the gateway's series (zeros) before its first observation."""
        self._series.setdefault(gateway, ([0] * (len(self.bounds) + 1), [0.0]))

    def observe_all(self, gateway: str, values: Iterable[float]) -> None:
        """Many observations at once (bisect: a bucket's bound is its values' upper bound,
        included, as Prometheus' `le`)."""
        self.series(gateway)
        buckets, total = self._series[gateway]
        bounds = self.bounds
        for value in values:
            buckets[bisect_left(bounds, value)] += 1
            total[0] += value

    def add(self, gateway: str, ages: AgeCounts) -> None:
        """Receipts whose ages were counted in buckets (one count per bound, then above)."""
        self.series(gateway)
        buckets, total = self._series[gateway]
        for index, count in enumerate(ages.buckets):
            buckets[index] += count
        total[0] += ages.sum_s

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for gateway, (buckets, total) in sorted(self._series.items()):
            cumulative, running = [], 0
            for le, count in zip(self._les, buckets, strict=True):
                running += count
                cumulative.append((le, float(running)))
            family.add_metric([gateway], cumulative, total[0])
        return [family]

    def _family(self) -> HistogramMetricFamily:
        return HistogramMetricFamily(self._name, self._documentation, labels=["gateway"])


class Watched(Protocol):
    """What GatewaySeries reads of a gateway (every dispatch.gateways.base.Gateway)."""

    @property
    def name(self) -> str: ...

    @property
    def errors(self) -> GatewayErrors: ...

    def health(self) -> GatewayHealth: ...


class GatewaySeries(Collector):
    """Errors by code, reachability and SMPP binds of every gateway, read when scraped."""

    def __init__(self) -> None:
        self._gateways: list[Watched] = []

    def watch(self, gateway: Watched) -> None:
        self._gateways.append(gateway)

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        errors, up, binds = self._families()
        for gateway in self._gateways:
            for code, count in sorted(gateway.errors.counts.items()):
                errors.add_metric([gateway.name, code], count)
            health = gateway.health()
            up.add_metric([gateway.name], 1.0 if health.up else 0.0)
            if health.binds_total is not None:
                bound = health.binds_bound or 0
                binds.add_metric([gateway.name, "bound"], bound)
                binds.add_metric([gateway.name, "unbound"], max(0, health.binds_total - bound))
        return [errors, up, binds]

    @staticmethod
    def _families() -> tuple[CounterMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            CounterMetricFamily(
                "dispatch_gateway_errors", "Error answers and transport failures of each "
                "gateway, by code: the SMPP command_status name (ESME_RTHROTTLED...), the "
                "HTTP status (429, 503...), or timeout, connection_refused, disconnected, "
                "transport_error, item_error (an error in a batch answer), invalid_answer",
                labels=["gateway", "code"]),
            GaugeMetricFamily(
                "dispatch_gateway_up", "1 while the gateway can be reached (SMPP: a "
                "submitting bind is bound; HTTP, voice: the last request or the start's "
                "probe got an HTTP answer), else 0", labels=["gateway"]),
            GaugeMetricFamily(
                "dispatch_smpp_binds", "SMPP submitting binds of this daemon by state "
                "(bound, unbound), per gateway", labels=["gateway", "state"]),
        )


class RouteSeries(Collector):
    """Which members of each route are in service, their switches and the messages moved
    off them, read when scraped (every series shown from the start, zeros included)."""

    def __init__(self) -> None:
        self._routes: list[RouteGateway] = []

    def watch(self, route: RouteGateway) -> None:
        self._routes.append(route)

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        in_service, switches, rerouted = self._families()
        for route in self._routes:
            for member in route.members:
                in_service.add_metric([route.name, member],
                                      1.0 if route.in_service(member) else 0.0)
                for direction in ("out", "back"):
                    switches.add_metric([route.name, member, direction],
                                        route.switches.get((member, direction), 0))
                rerouted.add_metric([route.name, member], route.rerouted.get(member, 0))
        return [in_service, switches, rerouted]

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, CounterMetricFamily, CounterMetricFamily]:
        return (
            GaugeMetricFamily(
                "dispatch_route_member_in_service", "1 while a route sends through this "
                "member gateway, 0 while the member is out of service after failing",
                labels=["route", "gateway"]),
            CounterMetricFamily(
                "dispatch_route_switches", "Switches of a route's traffic: a member taken "
                "out of service (direction out: its messages go to the next member) or "
                "back in service (back)", labels=["route", "gateway", "direction"]),
            CounterMetricFamily(
                "dispatch_route_rerouted_messages", "Messages a member gateway surely did "
                "not take (no connection, an error answer), sent on through another member",
                labels=["route", "gateway"]),
        )


class CampaignSeries(Collector):
    """Per-campaign gauges from the latest counts read in Redis (`update`). A finished
    campaign is shown until a scrape has shown it finished (`scraped`), then no more while
    it stays finished (more messages queued to it bring it back); a purged campaign is not
    shown."""

    def __init__(self) -> None:
        self._shown: dict[str, Mapping[str, int]] = {}
        self._leaving: set[str] = set()  # finished: shown at the next scrape, then gone
        self._gone: set[str] = set()  # scraped finished, or purged: not shown again

    def update(self, campaigns: Mapping[str, CampaignGauge]) -> None:
        """The campaigns as read now (every campaign there is)."""
        for campaign in self._shown.keys() - campaigns.keys():  # deleted
            self._drop(campaign)
        self._gone &= campaigns.keys()
        for campaign, gauge in campaigns.items():
            if gauge.purged or (gauge.finished and gauge.finished_long_ago
                                and campaign not in self._shown):
                self._drop(campaign)  # nothing to show: it ended before this daemon looked
                self._gone.add(campaign)
            elif not gauge.finished:
                self._gone.discard(campaign)
                self._leaving.discard(campaign)
                self._shown[campaign] = gauge.counts
            elif campaign not in self._gone:
                self._shown[campaign] = gauge.counts
                self._leaving.add(campaign)

    @property
    def campaigns(self) -> list[str]:
        """The campaigns shown now."""
        return sorted(self._shown)

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        messages, depth = self._families()
        for campaign, counts in sorted(self._shown.items()):
            for state in ALL_STATES:
                messages.add_metric([campaign, state], counts.get(state, 0))
            depth.add_metric([campaign], counts.get(QUEUED, 0))
        yield messages
        yield depth

    def scraped(self) -> None:
        """A scrape (GET /metrics) has shown the finished campaigns: gone from the next.
        Not done by `collect`, which also runs when anything reads the registry
        (get_sample_value): that would drop a campaign before Prometheus saw it finished."""
        for campaign in self._leaving:
            self._shown.pop(campaign, None)
            self._gone.add(campaign)
        self._leaving.clear()

    def _drop(self, campaign: str) -> None:
        self._shown.pop(campaign, None)
        self._leaving.discard(campaign)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "dispatch_campaign_messages", "Messages of each live campaign by state "
                "(queued, in_flight, submitted, delivered, failed, expired, suppressed, "
                "cancelled), read in Redis every few seconds; exported by one daemon only "
                "(daemon.campaign_metrics; worker 1 of --processes)",
                labels=["campaign", "state"]),
            GaugeMetricFamily(
                "dispatch_queue_depth", "Messages queued and not yet taken, by live "
                "campaign, read in Redis every few seconds; exported by one daemon only "
                "(daemon.campaign_metrics; worker 1 of --processes)", labels=["campaign"]),
        )
