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

import logging
from collections.abc import Mapping, Sequence
from typing import Final
from urllib.parse import urljoin, urlsplit

import httpx
import trio

from dispatch.gateways.base import Inbound
from dispatch.gateways.errors import TIMEOUT, GatewayErrors
from dispatch.gateways.health import GatewayHealth, Reachability, describe, run_probed
from dispatch.gateways.responses import each_at_once, json_or_none, retry_after
from dispatch.gateways.voice.callbacks import GATHER_PATH, STATUS_PATH, VoiceCallbacks
from dispatch.gateways.voice.calls import placement_result
from dispatch.gateways.voice.twiml import ScriptTooLong, call_twiml
from dispatch.httpserver import Handler
from dispatch.settings import ConfigError, GatewaySettings
from dispatch.vocabulary import Outbound, Rejected, Retry, SubmitResult

log = logging.getLogger(__name__)

API_VERSION: Final = "2010-04-01"
REFUSED_LOG_S: Final = 60.0  # credentials refused: one ERROR line a minute at most


def check_config(name: str, config: GatewaySettings) -> None:
    """What a call needs; ConfigError names the key (never a secret's value)."""
    for key in ("url", "account_sid", "auth_token"):
        if not getattr(config, key):
            raise ConfigError(f"gateways.{name}.{key}: required for a voice gateway")
    if config.ring_timeout_s <= 0:
        raise ConfigError(f"gateways.{name}.ring_timeout_s: must be more than 0")


def build(name: str, config: GatewaySettings, callback_url: str) -> VoiceGateway:
    """The composition root's builder: the provider posts back beside `callback_url`."""
    return VoiceGateway(name, config, callback_url)


def beside(callback_url: str, path: str) -> str:
    """`path` beside the callback URL, with its query (which names the gateway: the
    daemon checks the provider's signature with this gateway's auth token)."""
    query = urlsplit(callback_url).query
    return urljoin(callback_url, path.lstrip("/")) + (f"?{query}" if query else "")


class VoiceGateway:
    # No bound of its own on the calls being placed (each sender has one request out).
    outstanding: int | None = None
    places_calls = True

    def __init__(self, name: str, config: GatewaySettings, callback_url: str,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        check_config(name, config)
        self.name = name
        self.sender = config.sender
        self.batch_size = config.batch_size
        self.concurrency = config.concurrency
        self._ring_timeout = str(round(config.ring_timeout_s))
        self._calls_path = f"/{API_VERSION}/Accounts/{config.account_sid}/Calls.json"
        self._status_url = beside(callback_url, STATUS_PATH)
        self._gather_url = beside(callback_url, GATHER_PATH)
        self._refused_logged_at = -REFUSED_LOG_S
        self._timeout_s = config.timeout_s
        self._reachability = Reachability()
        self.errors = GatewayErrors()
        limits = httpx.Limits(max_connections=config.concurrency,
                              max_keepalive_connections=config.concurrency)
        self._client = httpx.AsyncClient(
            base_url=config.url, timeout=config.timeout_s, limits=limits, transport=transport,
            auth=httpx.BasicAuth(config.account_sid, config.auth_token))

    async def run(self, inbound: Inbound, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Nothing runs in the background: the provider posts to the daemon (`callbacks`).
        Started once a probe said whether the provider answers."""
        await run_probed(self._client, self._reachability, self._timeout_s, task_status)

    def callbacks(self, inbound: Inbound) -> Mapping[str, Handler]:
        return VoiceCallbacks(inbound, self.name).routes()

    def health(self) -> GatewayHealth:
        """Reachable when its last request (or the start's probe) got an HTTP answer."""
        return self._reachability.health()

    def parts(self, text: str) -> int:
        """A call is one placement, whatever it says."""
        return 1

    async def aclose(self) -> None:
        await self._client.aclose()

    async def submit(self, messages: Sequence[Outbound]) -> list[SubmitResult]:
        return await each_at_once(messages, Retry("not placed"), self._place)

    async def _place(self, message: Outbound) -> SubmitResult:
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
            self._credentials_refused(response.status_code)
        return placement_result(response.status_code, json_or_none(response),
                                retry_after(response))

    def _credentials_refused(self, status: int) -> None:
        now = trio.current_time()
        if now - self._refused_logged_at >= REFUSED_LOG_S:
            self._refused_logged_at = now
            log.error("gateway %s: the provider refused the credentials (HTTP %d): check "
                      "account_sid and auth_token; calls wait", self.name, status)
