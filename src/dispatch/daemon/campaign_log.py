"""A campaign's life in the log, as the daemon's status refresh sees it (about once a
second, dispatch.daemon.campaigns): started (its first message taken), paused, resumed,
cancelled, finished (nothing queued, in flight or awaiting a receipt), and sent again
after a top-up. One line per transition, from the campaign's counts and status in Redis,
so every daemon tells the same story; of `dispatch run --processes N`, worker 1 alone
(dispatch.logs.CAMPAIGN_LOGGER). What a daemon finds in its first refresh (a campaign
already running, paused or finished) is not a transition: nothing is logged for it. A
campaign that appears later is new: one whose first messages were taken before the next
refresh saw it still gets its started line (and its finished line, if it was that quick).

Lines carry the campaign id and counts, never a number or a text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from dispatch.logs import CAMPAIGN_LOGGER, fields
from dispatch.model import ACTIVE, CANCELLED, PAUSED
from dispatch.store.status import FINISHED, shown_status
from dispatch.vocabulary import (
    ALL_STATES,
    DELIVERED,
    EXPIRED,
    FAILED,
    IN_FLIGHT,
    QUEUED,
    SUBMITTED,
)

log = logging.getLogger(CAMPAIGN_LOGGER)

# Counts that say a message of the campaign was taken to be sent (suppressed ones may have
# been settled at enqueue, cancelled ones by a cancel: neither means it started).
_TAKEN = (IN_FLIGHT, SUBMITTED, DELIVERED, FAILED, EXPIRED)


@dataclass
class _Seen:
    status: str  # as shown: active, paused, cancelled or finished
    started: bool


class CampaignLog:
    def __init__(self, logger: logging.Logger = log) -> None:
        self._log = logger
        self._seen: dict[str, _Seen] = {}
        self._first_round = True  # the campaigns found at start: not transitions

    def round_done(self) -> None:
        """Every campaign of a refresh was given: later ones are new campaigns."""
        self._first_round = False

    def refreshed(self, campaign_id: str, status: str, counts: Mapping[str, int],
                  gateway: str = "") -> None:
        """The campaign's stored status and counts by state, as just read."""
        shown = shown_status(status, counts)
        started = any(counts.get(state, 0) for state in _TAKEN)
        seen = self._seen.get(campaign_id)
        self._seen[campaign_id] = _Seen(shown, started or (seen is not None and seen.started))
        if seen is None:
            if self._first_round:
                return  # as found at start: not a transition
            seen = _Seen(ACTIVE, started=False)  # new since: as if seen just before
        if started and not seen.started and shown != CANCELLED:
            queued, taken = counts.get(QUEUED, 0), counts.get(IN_FLIGHT, 0)
            self._line("campaign %s started: first messages taken, %d queued, %d in flight "
                       "(gateway %s)", campaign_id, queued, taken, gateway or "-",
                       event="campaign_started", campaign=campaign_id, gateway=gateway,
                       queued=queued, in_flight=taken)
        if shown == seen.status:
            return
        if shown == FINISHED:
            self._finished(campaign_id, counts)
        elif shown == CANCELLED:
            unsent = counts.get(QUEUED, 0) + counts.get(IN_FLIGHT, 0)
            self._line("campaign %s cancelled: %d messages not sent yet will not be",
                       campaign_id, unsent, event="campaign_cancelled", campaign=campaign_id,
                       unsent=unsent)
        elif shown == PAUSED:
            self._line("campaign %s paused: %d messages queued", campaign_id,
                       counts.get(QUEUED, 0), event="campaign_paused", campaign=campaign_id,
                       queued=counts.get(QUEUED, 0))
        elif shown == ACTIVE and seen.status == PAUSED:
            self._line("campaign %s resumed: %d messages queued", campaign_id,
                       counts.get(QUEUED, 0), event="campaign_resumed", campaign=campaign_id,
                       queued=counts.get(QUEUED, 0))
        elif shown == ACTIVE and seen.status == FINISHED:
            self._line("campaign %s sending again: %d more messages queued", campaign_id,
                       counts.get(QUEUED, 0), event="campaign_topped_up",
                       campaign=campaign_id, queued=counts.get(QUEUED, 0))

    def forget(self, campaign_id: str) -> None:
        self._seen.pop(campaign_id, None)

    def _finished(self, campaign_id: str, counts: Mapping[str, int]) -> None:
        settled = {state: counts.get(state, 0) for state in ALL_STATES
                   if state not in (QUEUED, IN_FLIGHT, SUBMITTED)}
        self._line("campaign %s finished: %d messages: %s", campaign_id, sum(settled.values()),
                   ", ".join(f"{count} {state}" for state, count in settled.items()),
                   event="campaign_finished", campaign=campaign_id, **settled)

    def _line(self, message: str, *args: object, **values: object) -> None:
        self._log.info(message, *args, extra=fields(**values))
