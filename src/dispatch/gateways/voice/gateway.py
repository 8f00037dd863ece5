"""The voice gateway: calls placed through a programmable-voice provider (docs/VOICE.md).

    gateway = VoiceGateway("calls", settings.gateways["calls"], callback_url)
    results = await gateway.submit(calls)      # one Accepted (the call's id) or other each

A call is one request; a batch's requests go out together, on at most `concurrency`
connections. Accepted means placed: the call then rings, and its end comes back through
the status callback (`callbacks`). The message reference (with its attempt) is the
request's Idempotency-Key: a provider that honours it answers a request sent again after a
lost answer with the call already placed; one that does not may place it twice, as an
SMSC may send an SMS twice.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from dispatch.gateways.base import Inbound
from dispatch.gateways.errors import TIMEOUT
from dispatch.gateways.health import describe
from dispatch.gateways.provider import AccountGateway, account_path, beside, check_account
from dispatch.gateways.responses import json_or_none, retry_after
from dispatch.gateways.voice.callbacks import GATHER_PATH, STATUS_PATH, VoiceCallbacks
from dispatch.gateways.voice.calls import placement_result
from dispatch.gateways.voice.twiml import ScriptTooLong, call_twiml
from dispatch.httpserver import Handler
from dispatch.settings import ConfigError, GatewaySettings
from dispatch.vocabulary import Outbound, Rejected, Retry, SubmitResult


def check_config(name: str, config: GatewaySettings) -> None:
    """What a call needs; ConfigError names the key (never a secret's value)."""
    check_account(name, config, "voice")
    if config.ring_timeout_s <= 0:
        raise ConfigError(f"gateways.{name}.ring_timeout_s: must be more than 0")


def build(name: str, config: GatewaySettings, callback_url: str) -> VoiceGateway:
    """The composition root's builder: the provider posts back beside `callback_url`."""
    return VoiceGateway(name, config, callback_url)


class VoiceGateway(AccountGateway):
    places_calls = True

    def __init__(self, name: str, config: GatewaySettings, callback_url: str,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        check_config(name, config)
        super().__init__(name, config, transport, "calls wait")
        self._ring_timeout = str(round(config.ring_timeout_s))
        self._calls_path = account_path(config, "Calls")
        self._status_url = beside(callback_url, STATUS_PATH)
        self._gather_url = beside(callback_url, GATHER_PATH)

    def callbacks(self, inbound: Inbound) -> Mapping[str, Handler]:
        return VoiceCallbacks(inbound, self.name).routes()

    async def _send(self, message: Outbound) -> SubmitResult:
        """Place one call (a call is one placement, whatever it says)."""
        if message.script is None:
            return Rejected("not a call: a voice gateway places calls only")
        try:
            twiml = call_twiml(message.script, self._gather_url)
        except ScriptTooLong as exc:
            return Rejected(str(exc))
        form = {"To": message.to, "From": message.sender, "Twiml": twiml,
                "StatusCallback": self._status_url, "StatusCallbackMethod": "POST",
                "StatusCallbackEvent": "completed", "MachineDetection": "Enable",
                "Timeout": self._ring_timeout}
        try:
            response = await self._client.post(self._calls_path, data=form,
                                               headers={"Idempotency-Key": message.reference})
        except httpx.TimeoutException:
            self._reachability.failed("timeout")
            self.errors.count(TIMEOUT)
            return Retry("no answer from the provider: fate unknown")
        except httpx.HTTPError as exc:
            self._reachability.failed(f"unreachable: {describe(exc)}")
            self.errors.transport(exc)
            return Retry(f"provider unreachable: {type(exc).__name__}")
        self._reachability.answered()
        if response.status_code >= 300:
            self.errors.http_status(response.status_code)
        if response.status_code in (401, 403):
            self._refusals.refused(response.status_code)
        return placement_result(response.status_code, json_or_none(response),
                                retry_after(response))
