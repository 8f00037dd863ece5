"""The Kannel gateway adapter (httpx): one sendsms GET per message, a batch's requests out
together on at most `concurrency` connections (docs/gateways/kannel.md).

The request's URL carries the sendsms-user's password and the callback token: no log line
and no reason here holds a URL (an httpx error is described by its kind and the OS's
reason only), and the daemon keeps httpx's own request log off.

Kannel has no idempotency key: a request whose answer was lost may have been taken, and is
sent again (Retry with its fate unknown), as over SMPP.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Final
from urllib.parse import urlsplit

import httpx
import trio

from dispatch.gateways.base import Inbound
from dispatch.gateways.errors import GatewayErrors
from dispatch.gateways.health import GatewayHealth, Reachability, describe, run_probed
from dispatch.gateways.kannel.callbacks import DLR_PATH, TOKEN_PARAM, KannelCallbacks
from dispatch.gateways.kannel.sendsms import (
    AUTH_FAILED,
    DEFAULT_PATH,
    DLR_MASK,
    answer_result,
    coding_of,
    correlation_id,
    kannel_parts,
)
from dispatch.gateways.responses import each_at_once
from dispatch.gateways.voice.gateway import beside
from dispatch.httpserver import Handler
from dispatch.settings import ConfigError, GatewaySettings
from dispatch.vocabulary import Outbound, Rejected, Retry, SubmitResult

log = logging.getLogger(__name__)

REFUSED_LOG_S: Final = 60.0  # credentials refused: one ERROR line a minute at most
# What Kannel's URLs may carry untouched: it reads any `%` as one of its escape codes.
URL_SAFE: Final = re.compile(r"[A-Za-z0-9._~-]+")


def check_config(name: str, config: GatewaySettings) -> None:
    """What a sendsms needs; ConfigError names the key (never a secret's value)."""
    for key in ("username", "password"):
        if not getattr(config, key):
            raise ConfigError(f"gateways.{name}.{key}: required for a kannel gateway (its "
                              f"sendsms-user's)")
    if not URL_SAFE.fullmatch(name):
        raise ConfigError(f"gateways.{name}: a kannel gateway's name goes in the dlr-url "
                          f"Kannel calls: letters, digits and -._~ only")
    if config.inbound_secret and not URL_SAFE.fullmatch(config.inbound_secret):
        raise ConfigError(f"gateways.{name}.inbound_secret: goes in the URLs Kannel calls "
                          f"as a token: letters, digits and -._~ only")
    if urlsplit(config.url).scheme not in ("http", "https"):
        raise ConfigError(f"gateways.{name}.url: expected smsbox's http:// sendsms URL")


def build(name: str, config: GatewaySettings, callback_url: str) -> KannelGateway:
    """The composition root's builder: Kannel calls back beside `callback_url`."""
    return KannelGateway(name, config, callback_url)


class KannelGateway:
    # No bound of its own on the submissions outstanding: Kannel queues what it takes.
    outstanding: int | None = None
    places_calls = False

    def __init__(self, name: str, config: GatewaySettings, callback_url: str,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        check_config(name, config)
        self.name = name
        self.sender = config.sender
        self.batch_size = config.batch_size
        self.concurrency = config.concurrency
        self.errors = GatewayErrors()
        self._max_parts = config.max_parts
        self._credentials = {"username": config.username, "password": config.password}
        self._smsc = {"smsc": config.smsc_id} if config.smsc_id else {}
        self._dlr_base = _dlr_base(callback_url, config.inbound_secret)
        self._timeout_s = config.timeout_s
        self._reachability = Reachability()
        self._refused_logged_at = -REFUSED_LOG_S
        # Requests wait for a connection here, not inside httpx, where the wait would count
        # in the request's timeout and a message never sent would look sent (fate unknown).
        self._connections = trio.CapacityLimiter(config.concurrency)
        origin, self._path = _split_url(config.url)
        limits = httpx.Limits(max_connections=config.concurrency,
                              max_keepalive_connections=config.concurrency)
        self._client = httpx.AsyncClient(base_url=origin, timeout=config.timeout_s,
                                         limits=limits, transport=transport)

    async def run(self, inbound: Inbound, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Nothing runs in the background: Kannel calls the daemon back (`callbacks`).
        Started once a probe said whether smsbox answers."""
        await run_probed(self._client, self._reachability, self._timeout_s, task_status)

    def callbacks(self, inbound: Inbound) -> Mapping[str, Handler]:
        return KannelCallbacks(inbound, self.name).routes()

    def health(self) -> GatewayHealth:
        """Reachable when its last request (or the start's probe) got an HTTP answer."""
        return self._reachability.health()

    def parts(self, text: str) -> int:
        """The parts Kannel will send: what the line is charged."""
        return kannel_parts(text)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def submit(self, messages: Sequence[Outbound]) -> list[SubmitResult]:
        return await each_at_once(messages, Retry("not sent", counts=False), self._send)

    async def _send(self, message: Outbound) -> SubmitResult:
        parts = kannel_parts(message.text)
        if parts > self._max_parts:
            return Rejected(f"{parts} parts: more than max_parts ({self._max_parts}), which "
                            f"Kannel's max-messages would cut")
        gateway_id = correlation_id(message.reference)
        async with self._connections:
            response = await self._get(self._query(message, gateway_id))
        if isinstance(response, Retry):
            return response
        if response.status_code != 202:
            self._refused(response)
        return answer_result(response.status_code, response.text, gateway_id)

    def _query(self, message: Outbound, gateway_id: str) -> dict[str, str]:
        query = {**self._credentials, **self._smsc, "from": message.sender,
                 "to": message.to, "text": message.text, "charset": "UTF-8",
                 "coding": coding_of(message.text)}
        if message.receipt:
            query["dlr-mask"] = str(DLR_MASK)
            query["dlr-url"] = f"{self._dlr_base}&id={gateway_id}&type=%d&answer=%A"
        return query

    async def _get(self, query: dict[str, str]) -> httpx.Response | Retry:
        try:
            response = await self._client.get(self._path, params=query)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return self._failed(exc, Retry(f"Kannel unreachable: {describe(exc)}",
                                           counts=False))  # nothing was sent
        except httpx.TimeoutException as exc:
            return self._failed(exc, Retry("no answer from Kannel in time: fate unknown"))
        except httpx.HTTPError as exc:
            return self._failed(exc, Retry(f"Kannel connection lost: {describe(exc)}: fate "
                                           f"unknown"))
        self._reachability.answered()
        return response

    def _failed(self, exc: httpx.HTTPError, retry: Retry) -> Retry:
        timed_out = isinstance(exc, httpx.TimeoutException)
        self._reachability.failed("timeout" if timed_out else f"unreachable: {describe(exc)}")
        self.errors.transport(exc)  # "timeout", "connection_refused", "disconnected"...
        return retry

    def _refused(self, response: httpx.Response) -> None:
        """Count an error answer; say once a minute that the credentials are refused."""
        self.errors.http_status(response.status_code)
        if response.status_code != 403 or not response.text.startswith(AUTH_FAILED):
            return
        now = trio.current_time()
        if now - self._refused_logged_at >= REFUSED_LOG_S:
            self._refused_logged_at = now
            log.error("gateway %s: Kannel refused the credentials (HTTP 403): check "
                      "username and password against its sendsms-user; messages wait",
                      self.name)


def _split_url(url: str) -> tuple[str, str]:
    """(origin, path) of smsbox's sendsms URL; no path: Kannel's default."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/") or DEFAULT_PATH


def _dlr_base(callback_url: str, token: str) -> str:
    """The dlr-url up to the message's own fields: the daemon's report route, naming the
    gateway, with the token when there is one."""
    base = beside(callback_url, DLR_PATH)
    return f"{base}&{TOKEN_PARAM}={token}" if token else base
