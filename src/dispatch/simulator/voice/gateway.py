"""The voice side as a Trio service: the Calls route (served by the HTTP gateway's server),
one ticker that runs the calls' moments, and the callback poster.

Callbacks are posted one to a POST, form-encoded, as the providers do (BatchPoster with
batches of one: keep-alive connections, a few sender tasks per URL, retried with backoff,
then counted failed). The poster's listener ends a call whose 9 was posted, once that post
settles. No phone number is ever logged.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from typing import Any, Final

import httpx
import trio

from dispatch.httpserver import Request, Response
from dispatch.simulator.accounts import Accounts, Refusal
from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.http.poster import BatchPoster
from dispatch.simulator.http.receipts import retry_policy
from dispatch.simulator.voice.call import GATHER, Callback, encode_callback
from dispatch.simulator.voice.core import VoiceCore
from dispatch.simulator.voice.request import account_of, parse_call

FORM: Final = "application/x-www-form-urlencoded"
# Twice the receipts' senders: callbacks go one to a POST (up to 700 a second at the
# benchmark's load), so more round trips are in flight; not many more, as httpx's pool
# spends more CPU per request the more requests wait in it.
SENDERS_PER_URL: Final = 8
_ENCODER = json.JSONEncoder(separators=(",", ":"))


class VoiceGateway:
    def __init__(self, config: SimulatorConfig,
                 transport: httpx.AsyncBaseTransport | None = None,
                 id_prefix: str | None = None, accounts: Accounts | None = None) -> None:
        # Each account's auth token signs its callbacks as Twilio's do: the configured
        # ones, else the one a call was placed with (any is taken then). Shared with the
        # Messages API when the simulator serves both.
        self.accounts = accounts if accounts is not None else Accounts(config.voice_accounts)
        self.poster: BatchPoster[Callback] = BatchPoster(
            "voice callbacks", 1, retry_policy(config), encode_callback, transport,
            content_type=FORM, senders=SENDERS_PER_URL, sign=self._sign)
        # Its own random stream: calls shift none of the SMS side's draws.
        seed = None if config.seed is None else f"voice-{config.seed}"
        self.core = VoiceCore(config, random.Random(seed), self.poster, id_prefix)
        self.poster.listener = _Keypresses(self.core)
        self._tick_wake = trio.Event()

    async def calls(self, request: Request) -> Response:
        """POST /2010-04-01/Accounts/{AccountSid}/Calls.json"""
        account = account_of(request.path)
        if account is None:
            return _error(Refusal(404, 20404, f"no such path: {request.path}"))
        try:
            self.accounts.authenticate(account, request.headers.get("authorization"))
            call = parse_call(request.body)
        except Refusal as refusal:
            self.core.counters.rejected += 1
            return _error(refusal)
        try:
            status, answer = self.core.place(account, call, request.headers.get(
                "idempotency-key") or None, trio.current_time())
        except Refusal as refusal:
            return _error(refusal)
        return Response(status, _ENCODER.encode(answer).encode())

    def _sign(self, url: str, items: list[Callback], body: bytes) -> dict[str, str]:
        """X-Twilio-Signature with the call's account token (none known: unsigned)."""
        return self.accounts.signature(items[0].call.account, url, body)

    def stats(self) -> dict[str, Any]:
        posts = self.poster.counters
        return {"voice": {**self.core.counters.as_dict(), "callbacks": {
            "sent": posts.sent, "failed": posts.failed, "pending": posts.pending}}}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Run the calls and post their callbacks until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.poster.run)
            self.core.wakeup = self._tick_wake.set
            task_status.started()
            while True:
                self.core.advance(trio.current_time())
                due = self.core.next_due()
                await self._sleep_until(math.inf if due is None else due)

    async def _sleep_until(self, deadline: float) -> None:
        self._tick_wake = trio.Event()
        self.core.wakeup = self._tick_wake.set
        self.core.sleep_until = deadline
        with trio.move_on_at(deadline):
            await self._tick_wake.wait()
        self.core.sleep_until = -math.inf  # awake: nobody needs to wake it


class _Keypresses:
    """The poster's listener: a call whose 9 was posted ends when that post settles."""

    def __init__(self, core: VoiceCore) -> None:
        self._core = core

    def first_posted(self, items: Sequence[Callback]) -> None:
        pass

    def settled(self, items: Sequence[Callback], acknowledged: bool) -> None:
        now = trio.current_time()
        for item in items:
            if item.status == GATHER:
                self._core.gather_settled(item.call, acknowledged, now)


def _error(refusal: Refusal) -> Response:
    return refusal.response()
