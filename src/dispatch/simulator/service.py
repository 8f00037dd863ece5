"""The simulator as a Trio service: the HTTP gateway plus the receipt and reply posters,
and the SMSC beside them when `smpp_port` is set. Both protocols share one ledger
(`accepted` and `duplicates` count across them), one outcome count, one reply book
(`replies`, `sent_after_stop`) and one GET /stats. `POST /mo` injects MO over SMPP when
the SMSC can take them, else over HTTP to the daemon's /inbound (dispatch.simulator.mo).
The voice side (the Calls API, with its own book under `voice` in /stats) and the
Messages API (the `twilio` kind's, under `twilio`: the HTTP side's ledger, faults,
outcomes and reply book, the voice side's accounts) are always served on the HTTP port."""

from __future__ import annotations

import random
from typing import Any

import httpx
import trio

from dispatch.httpserver import Limits, Request, Response, serve_http
from dispatch.simulator.accounts import PREFIX as ACCOUNTS_PREFIX
from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.http.faults import FaultDecider
from dispatch.simulator.http.gateway import HttpGateway
from dispatch.simulator.http.receipts import ReceiptPoster
from dispatch.simulator.http.replies import HttpReplies
from dispatch.simulator.journal import Journal, PreviousLife, previous_life
from dispatch.simulator.ledger import GatewayCounters, Ledger
from dispatch.simulator.live_faults import FaultsRoute, LiveFaults
from dispatch.simulator.mo import MoRoute
from dispatch.simulator.replies import ReplyBook
from dispatch.simulator.smsc.control import SmscControl
from dispatch.simulator.smsc.lean.server import LeanSmsc
from dispatch.simulator.smsc.policy import RateLimiter
from dispatch.simulator.smsc.server import Smsc
from dispatch.simulator.smsc.stats import SmscCounters
from dispatch.simulator.twilio.gateway import MO_PATH as TWILIO_MO_PATH
from dispatch.simulator.twilio.gateway import TwilioMessages
from dispatch.simulator.twilio.request import SUFFIX as MESSAGES_SUFFIX
from dispatch.simulator.voice.gateway import VoiceGateway


class Simulator:
    """One simulated gateway; inspect `ledger` and `stats()` in tests."""

    def __init__(self, config: SimulatorConfig,
                 receipt_transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        # What an earlier simulator on the same journal took and owed (journal.py).
        self._previous = previous_life(config.journal) if config.journal else PreviousLife()
        self.ledger = Ledger(journal=Journal(config.journal) if config.journal else None)
        self.replies = ReplyBook(config)
        self.receipts = ReceiptPoster(config, receipt_transport)
        self.http_replies = HttpReplies(config, self.replies, receipt_transport)
        self.receipts.listener = self.http_replies  # a reply follows its message's receipt
        faults = FaultDecider(config, random.Random(config.seed))
        self.live_faults = faults.live = LiveFaults()  # POST /faults; both protocols
        counters = GatewayCounters()
        lines = RateLimiter(config.line_rate, config.line_burst) if config.line_rate \
            else None
        self.gateway = HttpGateway(self.ledger, faults, self.receipts, counters,
                                   self.http_replies, lines)
        self.gateway.add_stats(self.replies.stats)
        self.gateway.add_stats(self.http_replies.stats)
        self.voice = VoiceGateway(config, receipt_transport)
        # The Messages API: the voice side's accounts, the HTTP side's faults and outcomes.
        self.twilio = TwilioMessages(config, self.ledger, self.replies, faults,
                                     self.voice.accounts, receipt_transport)
        self.gateway.add_prefix_route(ACCOUNTS_PREFIX, "POST", self._account_api)
        self.gateway.add_stats(self.voice.stats)
        self.gateway.add_stats(self.twilio.stats)
        self.gateway.add_route(TWILIO_MO_PATH, "POST", self.twilio.inject)
        self.smsc: Smsc | None = None  # the full SMSC
        self.lean_smsc: LeanSmsc | None = None  # or the lean one (--lean): no MO, no faults
        self.smpp_port: int | None = None  # once serving
        control = None
        if config.smpp_lean:
            self.lean_smsc = self._add_lean_smsc(counters)
        elif config.smpp_port is not None:
            self.smsc, control = self._add_smsc(counters)
        else:
            self.gateway.add_stats(_no_smsc_stats)
        # Last: the lines of both protocols, over what the SMSC's stats said.
        self.gateway.add_stats(lambda: self._line_violations(counters))
        self.gateway.add_route("/mo", "POST", MoRoute(self.http_replies, control))
        self.gateway.add_route("/faults", "POST", FaultsRoute(self.live_faults))
        self._http_scope = trio.CancelScope()

    def _add_smsc(self, counters: GatewayCounters) -> tuple[Smsc, SmscControl]:
        # Its own random stream: the SMSC's draws do not shift the HTTP side's.
        seed = None if self.config.seed is None else f"smsc-{self.config.seed}"
        smsc = Smsc(self.config, self.ledger, counters.outcomes, random.Random(seed),
                    self.replies)
        smsc.core.policy.live = self.live_faults
        control = SmscControl(smsc)
        self.gateway.add_route("/disconnect", "POST", control.disconnect)
        self.gateway.add_stats(smsc.stats)
        return smsc, control

    def _add_lean_smsc(self, counters: GatewayCounters) -> LeanSmsc:
        seed = None if self.config.seed is None else f"smsc-{self.config.seed}"
        smsc = LeanSmsc(self.config, self.ledger, counters.outcomes, random.Random(seed))
        self.gateway.add_stats(smsc.stats)
        return smsc

    @property
    def any_smsc(self) -> Smsc | LeanSmsc | None:
        return self.smsc or self.lean_smsc

    async def _account_api(self, request: Request) -> Response:
        """The Twilio-style APIs under one account path: Messages, else Calls."""
        if request.path.endswith(MESSAGES_SUFFIX):
            return await self.twilio.messages(request)
        return await self.voice.calls(request)

    def _line_violations(self, counters: GatewayCounters) -> dict[str, int]:
        smsc = self.any_smsc.counters.line_violations if self.any_smsc is not None else 0
        return {"line_violations": smsc + counters.line_violations}

    def stats(self) -> dict[str, Any]:
        """What GET /stats answers."""
        return self.gateway.stats()

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        """Serve until cancelled; reports the bound HTTP port once listening (and the
        SMSC's, if any, is in `smpp_port` by then)."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.receipts.run)
            await nursery.start(self.http_replies.poster.run)
            await nursery.start(self.voice.run)
            await nursery.start(self.twilio.run)
            if self.any_smsc is not None:
                self.smpp_port = await nursery.start(self.any_smsc.serve)
            self._take_up_previous_life()
            port = await nursery.start(self._serve_http)
            task_status.started(port)

    def _take_up_previous_life(self) -> None:
        """What an earlier simulator on the journal took counts as taken, and the receipts
        it owed are sent now (SMPP: once the account binds), before anything is served."""
        previous, now = self._previous, trio.current_time()
        for reference, key, gateway_id in previous.accepted:
            self.ledger.restore(reference, key, gateway_id)
        for reference in previous.recorded:
            self.ledger.restore(reference)
        for callback_url, gateway_id, reference, status in previous.http_receipts:
            self.receipts.schedule(now, callback_url, (gateway_id, reference, status))
        if self.smsc is not None:
            for system_id, job in previous.smpp_receipts:
                self.smsc.core.deliveries.schedule_receipt(now, system_id, job, None)
        self._previous = PreviousLife()

    async def stop_accepting(self, grace_s: float) -> None:
        """Close the listeners and the SMPP connections (answering what they sent), then
        send pending receipts, the HTTP replies they release and the voice callbacks due,
        for at most `grace_s` (calls still in progress are left: they end with the
        process). The caller cancels `serve` afterwards."""
        self._http_scope.cancel()
        self.receipts.flush_now()
        self.voice.poster.flush_now()
        self.twilio.poster.flush_now()
        with trio.move_on_after(grace_s):
            if self.any_smsc is not None:
                await self.any_smsc.stop(grace_s)
            await self.receipts.wait_idle()
            self.http_replies.poster.flush_now()
            await self.http_replies.poster.wait_idle()
            await self.voice.poster.wait_idle()
            await self.twilio.poster.wait_idle()

    async def _serve_http(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
                          ) -> None:
        with self._http_scope:
            await serve_http(self.gateway, self.config.host, self.config.http_port,
                             what="HTTP", setting="--http-port", limits=GATEWAY_LIMITS,
                             task_status=task_status)


# A gateway takes what the daemon sends: batches of any configured size (16 MiB: as
# before the inbound port's bounds), from any number of senders.
GATEWAY_LIMITS = Limits(max_connections=4096, max_body_bytes=16 * 1024 * 1024,
                        request_timeout_s=60.0)


def _no_smsc_stats() -> dict[str, Any]:
    return {"smpp": SmscCounters().as_dict(), "line_violations": 0, "lines_seen": 0}


async def serve_simulator(config: SimulatorConfig, *,
                          task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Run a simulator until cancelled; `task_status.started(bound_port)` once listening."""
    await Simulator(config).serve(task_status=task_status)
