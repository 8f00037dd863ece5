"""The campaigns the daemon serves, refreshed from Redis about once a second.

Templates are compiled once per campaign, so rendering a message is a cheap call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import trio

from dispatch.daemon.campaign_log import CampaignLog
from dispatch.model import ACTIVE, Share
from dispatch.policy.calls import CallPolicy
from dispatch.policy.sending import Action, SendPolicy, SlotPolicies, send_policy
from dispatch.store.campaign_meta import CampaignMeta, MetaStore
from dispatch.template import compile_template
from dispatch.vocabulary import CallScript

log = logging.getLogger(__name__)
Renderer = Callable[[Sequence[str] | None], str]
Scripter = Callable[[Sequence[str] | None], CallScript]


# Where most recipients are: a campaign whose window is closed there is not read from
# (its messages would only wait in memory); the few whose own zone is open wait for it.
MAIN_ZONE = "Europe/Paris"


@dataclass(frozen=True)
class Campaign:
    id: str
    gateway: str
    sender: str  # the identity its messages go out with (its gateway's)
    render: Renderer
    policy: SendPolicy  # sending window in the recipient's local time, holidays, deadline
    identity: str = ""  # the party or candidate its text names (enqueue --sender)
    pool: str = ""  # its pool of lines (each message goes out from one); "": `sender`
    script: Scripter | None = None  # a voice campaign: each call's script
    calls: CallPolicy | None = None  # a voice campaign: what a call's end leads to
    slots: SlotPolicies | None = None  # a voice campaign: its window, by consent slot

    def policy_for(self, slot: str) -> SendPolicy:
        """The policy for a recipient who consented to `slot` ("": the campaign's);
        WindowError when the slot cannot be used."""
        return self.slots.for_slot(slot) if self.slots is not None and slot else self.policy


class CampaignBook:
    def __init__(self, store: MetaStore, senders: Mapping[str, str],
                 pools: Mapping[str, str] | None = None) -> None:
        """`senders`: the sender identity of each configured gateway; `pools`: the gateway
        of each configured pool of lines."""
        self._store = store
        self._senders = senders
        self._pools = pools or {}
        self._refused: set[str] = set()  # campaigns logged as not sendable here
        self._refreshed = trio.Event()
        self.campaigns: dict[str, Campaign] = {}
        self.queued: dict[str, int] = {}
        # Campaign status (active, paused, cancelled), re-read on every refresh so that
        # `dispatch campaign pause|resume|cancel` takes effect within a refresh period.
        self.status: dict[str, str] = {}
        # Weight and priority among the campaigns of a pool, re-read likewise.
        self.shares: dict[str, Share] = {}
        # The meta's revision each campaign was loaded at: a change on purpose (`dispatch
        # campaign set`: window, deadline...) bumps it and the campaign is loaded again.
        self._revisions: dict[str, int] = {}
        self._lifecycle = CampaignLog()  # started, paused, resumed, cancelled, finished

    def sendable(self, gateways: Sequence[str], *, active_only: bool = False) -> list[str]:
        """Every campaign this daemon can send (its gateway is configured); with
        `active_only`, those neither paused nor cancelled (what to read new from)."""
        now = time.time()
        return [c.id for c in self.campaigns.values() if c.gateway in gateways
                and (not active_only or self._readable(c, now))]

    def _readable(self, campaign: Campaign, now: float) -> bool:
        """Active, and its window not closed where most of its recipients are."""
        if self.status.get(campaign.id, ACTIVE) != ACTIVE:
            return False
        return campaign.policy.decide_zone(MAIN_ZONE, now).action is not Action.WAIT

    def gateway_of(self, campaign_id: str) -> str:
        """The gateway a campaign sends through ("" when unknown)."""
        campaign = self.campaigns.get(campaign_id)
        return campaign.gateway if campaign is not None else ""

    def identity_of(self, campaign_id: str) -> str:
        """Who a campaign's text names ("" when unknown)."""
        campaign = self.campaigns.get(campaign_id)
        return campaign.identity if campaign is not None else ""

    def share_of(self, campaign_id: str) -> Share:
        return self.shares.get(campaign_id, Share())

    def status_of(self, campaign_id: str) -> str:
        return self.status.get(campaign_id, ACTIVE)

    async def refresh(self) -> None:
        for campaign_id in await self._store.campaign_ids():
            if campaign_id not in self.campaigns:
                await self._reload(campaign_id)
        await self._refresh_live()
        self._lifecycle.round_done()
        self._refreshed.set()
        self._refreshed = trio.Event()

    async def wait_refreshed(self) -> None:
        """Until the next refresh is done (statuses are fresh)."""
        await self._refreshed.wait()

    def _campaign(self, meta: CampaignMeta) -> Campaign | None:
        if meta.text is None:
            return None  # being created right now (seen on the next refresh), or purged
        campaign_id, gateway, pool = meta.campaign_id, meta.gateway, meta.pool
        if pool and self._pools.get(pool) != gateway:
            self._refuse(campaign_id, f"its pool {pool!r} is not configured on gateway "
                                      f"{gateway!r} here")
            return None
        try:
            render = compile_template(meta.text)
            policy = send_policy(meta.schedule)
            if meta.voice and meta.calls is None:
                raise ValueError("its call policy is damaged")
        except ValueError as exc:  # enqueue checks these; this is a damaged meta
            log.error("campaign %s cannot be sent (%s): not sending it", campaign_id, exc)
            return None
        sender = "" if pool else self._senders.get(gateway, "")
        script = _scripter(meta, render) if meta.voice else None
        slots = SlotPolicies(policy) if meta.voice else None
        return Campaign(campaign_id, gateway, sender, render, policy, meta.sender_identity,
                        pool, script, meta.calls, slots)

    def _refuse(self, campaign_id: str, reason: str) -> None:
        """Log once (the campaign is looked at again on every refresh) and leave it queued."""
        if campaign_id not in self._refused:
            self._refused.add(campaign_id)
            log.error("campaign %s cannot be sent by this daemon: %s", campaign_id, reason)

    async def _refresh_live(self) -> None:
        """Queue depth, status and share of every campaign, in one round trip."""
        if not self.campaigns:
            return
        for campaign_id, live in (await self._store.live(list(self.campaigns))).items():
            self.queued[campaign_id] = live.queued
            self.status[campaign_id] = live.status
            self.shares[campaign_id] = live.share
            self._lifecycle.refreshed(campaign_id, live.status, live.counts,
                                      self.campaigns[campaign_id].gateway)
            if self._revisions.get(campaign_id) != live.revision:
                log.info("campaign %s changed (revision %d): loading it again", campaign_id,
                         live.revision)
                await self._reload(campaign_id)

    async def _reload(self, campaign_id: str) -> None:
        """Load (or load again) a campaign from its meta."""
        meta = await self._store.read(campaign_id)
        campaign = self._campaign(meta)
        if campaign is not None:
            self.campaigns[campaign_id] = campaign
            self._revisions[campaign_id] = meta.revision


def _scripter(meta: CampaignMeta, render: Renderer) -> Scripter:
    """Each call's script: the preamble, then the recording or the text read aloud."""
    preamble, audio_url = meta.preamble, meta.audio_url
    if audio_url:
        script = CallScript(preamble, audio_url)
        return lambda values: script
    return lambda values: CallScript(preamble, say=render(values))
