"""The daemon's own log lines: a gateway's outages as its senders see them, and a
campaign's lifecycle as the status refresh sees it."""

from __future__ import annotations

import logging

import pytest

from dispatch.daemon.campaign_log import CampaignLog
from dispatch.daemon.outbound.outages import GatewayOutage, GatewayOutages, outage_kind
from dispatch.gateways.smpp.submit import CONNECTION_LOST, NO_BIND, part_result
from dispatch.vocabulary import Accepted, Rejected, Retry, SubmitResult

LOGGER = "dispatch.test.lines"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def told(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, LOGGER)
    return caplog


@pytest.mark.parametrize(("result", "kind"), [
    (Retry("gateway timeout"), "gateway timeout"),
    (Retry("gateway unreachable: ConnectError"), "gateway unreachable: ConnectError"),
    (Retry("HTTP 503: maintenance for +33612345678"), "HTTP 503"),  # no free text
    (Retry("HTTP 408: slow"), "HTTP 408"),
    (NO_BIND, "no bind available"),
    (CONNECTION_LOST, CONNECTION_LOST.reason),
    (part_result(0x08, "", None), "ESME_RSYSERR (0x00000008)"),
    # It answered: not an outage.
    (part_result(0x58, "", None), None),  # ESME_RTHROTTLED
    (Retry("HTTP 429: slow down", throttled=True), None),
    (Retry("HTTP 409: line busy", counts=False), None),
    (Retry("HTTP 401: bad credentials", counts=False), None),
])
def test_what_a_result_to_retry_says_of_the_gateway(result: Retry, kind: str | None) -> None:
    assert outage_kind(result) == kind


def test_a_gateway_outage_is_told_from_what_its_submissions_get_back(
        told: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    outage = GatewayOutage("default", clock=clock, logger=logging.getLogger(LOGGER))
    down: list[SubmitResult] = [Retry("gateway unreachable: ConnectError")] * 20
    outage.answered([Accepted("a1"), Rejected("invalid")])
    for _ in range(25):  # 20 s down, 4 senders: a submission every 0.2 s, then a minute
        outage.answered(down)
        clock.now += 0.2
    outage.answered([Retry("throttled", throttled=True)])  # it answers again
    assert [r.getMessage() for r in told.records] == [
        "gateway default failing: gateway unreachable: ConnectError",
        "gateway default recovered after 5.0 s: 500 messages to retry in all "
        "(last: gateway unreachable: ConnectError)"]
    assert told.records[0].fields == {  # type: ignore[attr-defined]
        "event": "outage_started", "dependency": "gateway", "gateway": "default",
        "kind": "gateway unreachable: ConnectError"}


def test_a_submission_with_any_message_through_is_the_gateway_answering(
        told: pytest.LogCaptureFixture) -> None:
    outage = GatewayOutage("g", clock=FakeClock(), logger=logging.getLogger(LOGGER))
    outage.answered([Retry("no response: fate unknown"), Accepted("x")])
    outage.answered([])  # nothing sent: nothing said
    assert not outage.log.failing
    assert told.records == []


def test_the_senders_of_a_gateway_share_its_outage() -> None:
    outages = GatewayOutages()
    assert outages.of("a") is outages.of("a")
    assert outages.of("a") is not outages.of("b")


# Campaign lifecycle.

def counts(**values: int) -> dict[str, int]:
    return values


def test_a_campaign_life_is_told_once_per_transition(told: pytest.LogCaptureFixture) -> None:
    book = CampaignLog(logging.getLogger(LOGGER))
    book.refreshed("c1", "active", counts(queued=100), "default")  # first sight: silent
    book.refreshed("c1", "active", counts(queued=100), "default")
    book.refreshed("c1", "active", counts(queued=90, in_flight=10), "default")
    book.refreshed("c1", "active", counts(queued=80, submitted=20), "default")
    book.refreshed("c1", "paused", counts(queued=80, delivered=20), "default")
    book.refreshed("c1", "paused", counts(queued=80, delivered=20), "default")
    book.refreshed("c1", "active", counts(queued=80, delivered=20), "default")
    book.refreshed("c1", "active", counts(submitted=3, delivered=95, suppressed=2), "default")
    book.refreshed("c1", "active", counts(delivered=96, failed=2, suppressed=2), "default")
    book.refreshed("c1", "active", counts(delivered=96, failed=2, suppressed=2), "default")
    book.refreshed("c1", "active", counts(queued=50, delivered=96, failed=2, suppressed=2))
    assert [r.getMessage() for r in told.records] == [
        "campaign c1 started: first messages taken, 90 queued, 10 in flight (gateway "
        "default)",
        "campaign c1 paused: 80 messages queued",
        "campaign c1 resumed: 80 messages queued",
        "campaign c1 finished: 100 messages: 96 delivered, 2 failed, 0 expired, "
        "2 suppressed, 0 cancelled",
        "campaign c1 sending again: 50 more messages queued"]
    assert [r.fields["event"] for r in told.records] == [  # type: ignore[attr-defined]
        "campaign_started", "campaign_paused", "campaign_resumed", "campaign_finished",
        "campaign_topped_up"]
    assert told.records[3].fields["delivered"] == 96  # type: ignore[attr-defined]


def test_a_cancelled_campaign_is_told_once_and_never_finishes(
        told: pytest.LogCaptureFixture) -> None:
    book = CampaignLog(logging.getLogger(LOGGER))
    book.refreshed("c2", "paused", counts(queued=40))
    book.refreshed("c2", "cancelled", counts(queued=40))
    book.refreshed("c2", "cancelled", counts(cancelled=40))
    assert [r.getMessage() for r in told.records] == [
        "campaign c2 cancelled: 40 messages not sent yet will not be"]


def test_what_a_daemon_finds_at_start_is_not_a_transition(
        told: pytest.LogCaptureFixture) -> None:
    book = CampaignLog(logging.getLogger(LOGGER))
    book.refreshed("running", "active", counts(queued=5, submitted=5))
    book.refreshed("done", "active", counts(delivered=10))
    book.refreshed("held", "paused", counts(queued=10))
    book.refreshed("running", "active", counts(queued=2, submitted=8))  # started before
    book.refreshed("done", "active", counts(delivered=10))
    assert told.records == []


def test_a_small_campaign_sent_within_a_refresh_starts_and_finishes(
        told: pytest.LogCaptureFixture) -> None:
    book = CampaignLog(logging.getLogger(LOGGER))
    book.refreshed("c3", "active", counts(queued=2))
    book.refreshed("c3", "active", counts(delivered=2))
    assert [r.getMessage() for r in told.records] == [
        "campaign c3 started: first messages taken, 0 queued, 0 in flight (gateway -)",
        "campaign c3 finished: 2 messages: 2 delivered, 0 failed, 0 expired, 0 suppressed, "
        "0 cancelled"]


def test_a_campaign_new_since_start_is_told_even_when_its_first_look_is_late(
        told: pytest.LogCaptureFixture) -> None:
    """Enqueued while the daemon runs, its messages taken (even all sent) before the next
    refresh: its first sight is a transition, unlike what the first refresh found."""
    book = CampaignLog(logging.getLogger(LOGGER))
    book.refreshed("old", "active", counts(queued=5, submitted=5))
    book.round_done()
    book.refreshed("old", "active", counts(queued=5, submitted=5))
    book.refreshed("new", "active", counts(queued=100, in_flight=96))
    book.refreshed("quick", "active", counts(delivered=3))
    book.round_done()
    assert [r.getMessage() for r in told.records] == [
        "campaign new started: first messages taken, 100 queued, 96 in flight (gateway -)",
        "campaign quick started: first messages taken, 0 queued, 0 in flight (gateway -)",
        "campaign quick finished: 3 messages: 3 delivered, 0 failed, 0 expired, "
        "0 suppressed, 0 cancelled"]
