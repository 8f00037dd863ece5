"""The twilio gateway: SMS through a Twilio-style Messages API (docs/gateways/twilio.md).

    gateway = TwilioGateway("sms", settings.gateways["sms"], callback_url)
    results = await gateway.submit(messages)   # one Accepted (the sid) or other each

The API has no batch: a message is one `POST .../Messages.json`; a batch's requests go
out side by side, at most `concurrency` in flight for the whole gateway (a limiter, so no
request waits in the client's pool, where a wait would look like a lost answer). Accepted
means the provider created the message; its fate comes back through the StatusCallback.

The API has no idempotency key either: a request whose answer was lost (a read timeout,
a connection cut after the request went out, a 5xx) is sent again, and the provider may
then send that SMS twice. Only those are retried with their fate unknown; a request that
certainly never reached the provider (no connection could be made) waits without using
an attempt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import httpx
import trio

from dispatch.gateways.base import Inbound
from dispatch.gateways.errors import INVALID_ANSWER, NOT_SENT, TIMEOUT
from dispatch.gateways.health import GatewayHealth, describe
from dispatch.gateways.provider import AccountGateway, account_path, beside, check_account
from dispatch.gateways.responses import json_or_none, retry_after
from dispatch.gateways.twilio.answers import (
    CONFIG_STATUSES,
    UNSUBSCRIBED,
    error_label,
    provider_code,
    submission_result,
)
from dispatch.gateways.twilio.callbacks import TwilioCallbacks, callback_paths
from dispatch.httpserver import Handler
from dispatch.settings import GatewaySettings
from dispatch.vocabulary import Accepted, InboundMessage, Outbound, Retry, SubmitResult

# The text of the opt-out handed over on a 21610: its first word makes it a STOP, the
# rest says in the audit where it came from (the recipient did not write it).
UNSUBSCRIBED_TEXT = "STOP (twilio error 21610: the recipient unsubscribed at the provider)"


def check_config(name: str, config: GatewaySettings) -> None:
    """What a message needs; ConfigError names the key (never a secret's value)."""
    check_account(name, config, "twilio")


def build(name: str, config: GatewaySettings, callback_url: str) -> TwilioGateway:
    """The composition root's builder: the provider posts back beside `callback_url`."""
    return TwilioGateway(name, config, callback_url)


class TwilioGateway(AccountGateway):
    places_calls = False

    def __init__(self, name: str, config: GatewaySettings, callback_url: str,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        check_config(name, config)
        super().__init__(name, config, transport, "messages wait")
        self._account_sid = config.account_sid
        self._service = config.messaging_service_sid
        self._messages_path = account_path(config, "Messages")
        status_path, _ = callback_paths(name)
        # "" (no inbound port): no StatusCallback, no receipt.
        self._status_url = beside(callback_url, status_path) if callback_url else ""
        self._in_flight = trio.CapacityLimiter(config.concurrency)
        self._refused = False  # the last answer refused the account's settings
        self._inbound: Inbound | None = None  # where a 21610's opt-out goes

    async def run(self, inbound: Inbound, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._inbound = inbound
        await super().run(inbound, task_status=task_status)

    def callbacks(self, inbound: Inbound) -> Mapping[str, Handler]:
        self._inbound = inbound
        service_line = (self._service, self.sender) if self._service else None
        return TwilioCallbacks(inbound, self.name, self._account_sid, service_line).routes()

    def health(self) -> GatewayHealth:
        """Reachable when its last request (or the start's probe) got an HTTP answer;
        down ("refused") while the provider refuses the account's settings."""
        health = self._reachability.health()
        return dataclasses.replace(health, state="refused") if self._refused else health

    def _form(self, message: Outbound) -> dict[str, str]:
        form = {"To": message.to, "Body": message.text}
        if self._service:
            form["MessagingServiceSid"] = self._service
        else:
            form["From"] = message.sender
        if self._status_url and message.receipt:
            form["StatusCallback"] = self._status_url
        return form

    async def _send(self, message: Outbound) -> SubmitResult:
        async with self._in_flight:
            try:
                response = await self._client.post(self._messages_path,
                                                   data=self._form(message))
            except httpx.HTTPError as exc:
                return self._no_answer(exc)
        payload = json_or_none(response)
        result = submission_result(response.status_code, payload, retry_after(response))
        self._answered(response.status_code, payload, result)
        if provider_code(payload) == UNSUBSCRIBED and message.receipt:
            await self._unsubscribed(message)
        return result

    def _no_answer(self, exc: httpx.HTTPError) -> Retry:
        """A request that got no answer: never sent (waits, no attempt used), or sent with
        its fate unknown (a retry may send the SMS twice)."""
        if isinstance(exc, NOT_SENT):
            self._reachability.failed(f"unreachable: {describe(exc)}")
            self.errors.transport(exc)
            return Retry(f"provider unreachable: {type(exc).__name__}", counts=False,
                         unsent=True)
        if isinstance(exc, httpx.TimeoutException):
            self._reachability.failed("timeout")
            self.errors.count(TIMEOUT)
            return Retry("no answer from the provider in time: fate unknown")
        self._reachability.failed(f"connection lost: {describe(exc)}")
        self.errors.transport(exc)
        return Retry(f"connection lost before the answer ({type(exc).__name__}): "
                     "fate unknown")

    def _answered(self, status: int, payload: object, result: SubmitResult) -> None:
        """Health and counts: an answer refusing the account's settings (every message
        would get it) reports the gateway down and says so in the log."""
        self._refused = status in CONFIG_STATUSES
        if self._refused:
            self._reachability.failed(f"the provider refused the account's settings "
                                      f"(HTTP {status})")
            self._refusals.refused(status, "the account's settings",
                                   "url, account_sid and auth_token")
        else:
            self._reachability.answered()
        if status >= 300:
            self.errors.count(error_label(status, payload))
        elif not isinstance(result, Accepted):
            self.errors.count(INVALID_ANSWER)

    async def _unsubscribed(self, message: Outbound) -> None:
        """The recipient unsubscribed at the provider (texted STOP to the number, which
        the provider then enforces): an opt-out of this line, so that the daemon stops
        trying too, even if that STOP never reached it. The message itself is rejected."""
        if self._inbound is not None:
            await self._inbound.messages([InboundMessage(
                message.to, message.sender, UNSUBSCRIBED_TEXT, self.name)])
