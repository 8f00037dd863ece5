"""The Messages API as a Trio service: the route (served by the HTTP gateway's server,
beside the Calls API), the poster of what goes back to the daemon, and POST /twilio/mo.

Every post to the daemon is one form POST, signed with X-Twilio-Signature by the
account's token (BatchPoster with batches of one: keep-alive connections, a few sender
tasks per URL, retried with backoff, then counted failed). Faults are the HTTP gateway's
(one FaultDecider, the live ones of POST /faults included): 429 with code 20429 and
Retry-After, 5xx, answers held back past the client's timeout, answers lost after the
message was accepted. No phone number and no text is ever logged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import urlencode

import httpx
import trio

from dispatch.httpserver import Request, Response, error_response, json_response
from dispatch.simulator.accounts import Accounts, Refusal, account_of
from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.http.faults import FaultDecider
from dispatch.simulator.http.poster import BatchPoster
from dispatch.simulator.http.receipts import retry_policy
from dispatch.simulator.ledger import Ledger
from dispatch.simulator.mo_body import parse_mo
from dispatch.simulator.replies import ReplyBook
from dispatch.simulator.twilio.core import MessagesCore, Post
from dispatch.simulator.twilio.request import SUFFIX, parse_message

FORM: Final = "application/x-www-form-urlencoded"
SENDERS_PER_URL: Final = 8  # posts go one to a request: more round trips in flight
MO_PATH: Final = "/twilio/mo"
NO_WEBHOOK: Final = ("no inbound webhook known: start the simulator with "
                     "--twilio-inbound-url, or let the daemon send a message with a "
                     "StatusCallback first")
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def encode_post(items: list[Post]) -> bytes:
    (item,) = items
    return urlencode(item.fields).encode()


class TwilioMessages:
    def __init__(self, config: SimulatorConfig, ledger: Ledger, book: ReplyBook,
                 faults: FaultDecider, accounts: Accounts,
                 transport: httpx.AsyncBaseTransport | None = None,
                 id_prefix: str | None = None) -> None:
        self.accounts = accounts
        self.poster: BatchPoster[Post] = BatchPoster(
            "twilio callbacks", 1, retry_policy(config), encode_post, transport,
            content_type=FORM, senders=SENDERS_PER_URL, sign=self._sign)
        self.core = MessagesCore(ledger, book, faults, self.poster,
                                 config.twilio_inbound_url, id_prefix)
        self.poster.listener = _MoOutcomes(self.core)
        self._faults = faults

    async def messages(self, request: Request) -> Response:
        """POST /2010-04-01/Accounts/{AccountSid}/Messages.json"""
        account = account_of(request.path, SUFFIX)
        if account is None:
            return Refusal(404, 20404, f"no such path: {request.path}").response()
        counters = self.core.counters
        counters.requests += 1
        now = trio.current_time()
        try:
            self.accounts.authenticate(account, request.headers.get("authorization"))
        except Refusal as refusal:
            counters.refused += 1
            return refusal.response()
        fault = self._fault(now)
        if fault is not None:
            return await self._delayed(fault)
        try:
            answer = self.core.accept(account, parse_message(request.body), now)
        except Refusal as refusal:
            counters.refused += refusal.code != 21610  # counted in `unsubscribed`
            return await self._delayed(refusal.response())
        if self._faults.lose_response():
            counters.lost_responses += 1
            return await self._delayed(Refusal(503, 20503, "Service Unavailable").response())
        return await self._delayed(Response(201, _ENCODER.encode(answer).encode()))

    def _fault(self, now: float) -> Response | None:
        status = self._faults.request_fault(now)
        if status is None:
            return None
        if status == 429:
            self.core.counters.throttled += 1
            return Refusal(429, 20429, "Too Many Requests").response({"retry-after": "1"})
        self.core.counters.server_errors += 1
        return Refusal(status, 20500, "Internal Server Error").response()

    async def _delayed(self, response: Response) -> Response:
        latency = self._faults.response_latency(trio.current_time())
        if latency:
            await trio.sleep(latency)
        return response

    async def inject(self, request: Request) -> Response:
        """POST /twilio/mo: `{"from", "to", "text"}` or a list of them (as POST /mo),
        posted at once to the inbound webhook, signed by the account's token. 202
        `{"messages": n, "url": URL}`; 409 when no webhook or account is known yet."""
        try:
            items = parse_mo(request.json())
        except ValueError as exc:
            return error_response(400, str(exc))
        if any(item.system_id is not None for item in items):
            return error_response(400, "'system_id' is for the SMSC, not this API")
        account = self.accounts.latest or self.accounts.only()
        url = self.core.inbound_url()
        if url is None or account is None:
            return error_response(409, NO_WEBHOOK)
        self.core.inject(account, url, items, trio.current_time())
        return json_response({"messages": len(items), "url": url}, 202)

    def _sign(self, url: str, items: list[Post], body: bytes) -> dict[str, str]:
        return self.accounts.signature(items[0].account, url, body)

    def stats(self) -> dict[str, Any]:
        posts = self.poster.counters
        return {"twilio": {**self.core.stats(), "callbacks": {
            "sent": posts.sent, "failed": posts.failed, "pending": posts.pending}}}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Post what goes back to the daemon until cancelled."""
        await self.poster.run(task_status=task_status)


class _MoOutcomes:
    """The poster's listener: what became of each MO (status callbacks need nothing)."""

    def __init__(self, core: MessagesCore) -> None:
        self._core = core

    def first_posted(self, items: Sequence[Post]) -> None:
        now = trio.current_time()
        for item in items:
            if item.ticket is not None:
                self._core.mo_posted(item.ticket, now)

    def settled(self, items: Sequence[Post], acknowledged: bool) -> None:
        now = trio.current_time()
        for item in items:
            if item.ticket is not None:
                self._core.mo_settled(item.ticket, acknowledged, now)
