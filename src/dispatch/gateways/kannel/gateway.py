"""The Kannel gateway adapter (httpx): one sendsms POST per message (smsbox's text/plain
form: the text as the body, every other field an X-Kannel-* header), a batch's requests
out together on `concurrency` connections (docs/gateways/kannel.md).

POST rather than GET: the password stays out of URLs (where proxies and access logs keep
them) and the text is not percent-encoded, then checked character by character by httpx
(a third of the daemon's CPU per message with GET). The request still carries the password
and the callback token: no log line and no reason here holds a request or its headers (an
httpx error is described by its kind and the OS's reason only).

Each connection is a client of its own, lent to one request at a time: httpx's pool scans
its connections for each request waiting in it, a cost that grows with their square.

Kannel has no idempotency key: a request whose answer was lost may have been taken, and is
sent again (Retry with its fate unknown), as over SMPP.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Final
from urllib.parse import urlsplit

import httpx
import trio

from dispatch.gateways.base import Inbound
from dispatch.gateways.errors import NOT_SENT, GatewayErrors
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
from dispatch.gateways.provider import beside
from dispatch.gateways.responses import each_at_once
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
        self._fixed = {"X-Kannel-Username": config.username,
                       "X-Kannel-Password": config.password,
                       **({"X-Kannel-SMSC": config.smsc_id} if config.smsc_id else {})}
        self._dlr_base = _dlr_base(callback_url, config.inbound_secret)
        if not self._dlr_base.isascii():  # it goes in a header
            raise ConfigError("daemon.public_inbound_url: Kannel's dlr-url must be ASCII "
                              "(write an internationalised host in its xn-- form)")
        self._timeout_s = config.timeout_s
        self._reachability = Reachability()
        self._refused_logged_at = -REFUSED_LOG_S
        origin, self._path = _split_url(config.url)
        # Requests wait for a connection here, not inside httpx, where the wait would count
        # in the request's timeout and a message never sent would look sent (fate unknown).
        tls = httpx.create_ssl_context()  # one for all: each takes ~20 ms to build
        self._connections = Connections([
            httpx.AsyncClient(base_url=origin, timeout=config.timeout_s, transport=transport,
                              limits=httpx.Limits(max_connections=1), verify=tls)
            for _ in range(config.concurrency)])

    async def run(self, inbound: Inbound, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Nothing runs in the background: Kannel calls the daemon back (`callbacks`).
        Started once a probe said whether smsbox answers."""
        await run_probed(self._connections.clients[0], self._reachability, self._timeout_s,
                         task_status)

    def callbacks(self, inbound: Inbound) -> Mapping[str, Handler]:
        return KannelCallbacks(inbound, self.name).routes()

    def health(self) -> GatewayHealth:
        """Reachable when its last request (or the start's probe) got an HTTP answer."""
        return self._reachability.health()

    def parts(self, text: str) -> int:
        """The parts Kannel will send: what the line is charged."""
        return kannel_parts(text)

    async def aclose(self) -> None:
        for client in self._connections.clients:
            await client.aclose()

    async def submit(self, messages: Sequence[Outbound]) -> list[SubmitResult]:
        return await each_at_once(messages, Retry("not sent", counts=False), self._send)

    async def _send(self, message: Outbound) -> SubmitResult:
        parts = kannel_parts(message.text)
        if parts > self._max_parts:
            return Rejected(f"{parts} parts: more than max_parts ({self._max_parts}), which "
                            f"Kannel's max-messages would cut")
        if not message.sender.isascii():  # a header: smsbox takes ASCII only
            return Rejected("the sender is not ASCII: Kannel's X-Kannel-From cannot carry it")
        gateway_id = correlation_id(message.reference)
        async with self._connections.lent() as client:
            response = await self._post(client, self._headers(message, gateway_id),
                                        message.text)
        if isinstance(response, Retry):
            return response
        if response.status_code != 202:
            self._refused(response)
        return answer_result(response.status_code, response.text, gateway_id)

    def _headers(self, message: Outbound, gateway_id: str) -> dict[str, str]:
        headers = {**self._fixed, "Content-Type": "text/plain; charset=UTF-8",
                   "X-Kannel-From": message.sender, "X-Kannel-To": message.to,
                   "X-Kannel-Coding": coding_of(message.text)}
        if message.receipt:
            headers["X-Kannel-DLR-Mask"] = str(DLR_MASK)
            headers["X-Kannel-DLR-URL"] = (f"{self._dlr_base}&id={gateway_id}&type=%d"
                                           "&answer=%A")
        return headers

    async def _post(self, client: httpx.AsyncClient, headers: dict[str, str], text: str
                    ) -> httpx.Response | Retry:
        try:
            response = await client.post(self._path, headers=headers,
                                         content=text.encode())
        except NOT_SENT as exc:
            return self._failed(exc, Retry(f"Kannel unreachable: {describe(exc)}",
                                           counts=False, unsent=True))  # nothing was sent
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


class Connections:
    """Clients of one connection each, lent to one request at a time."""

    def __init__(self, clients: list[httpx.AsyncClient]) -> None:
        self.clients = clients
        self._give, self._take = trio.open_memory_channel[httpx.AsyncClient](len(clients))
        for client in clients:
            self._give.send_nowait(client)

    @asynccontextmanager
    async def lent(self) -> AsyncIterator[httpx.AsyncClient]:
        client = await self._take.receive()
        try:
            yield client
        finally:
            self._give.send_nowait(client)


def _split_url(url: str) -> tuple[str, str]:
    """(origin, path) of smsbox's sendsms URL; no path: Kannel's default."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/") or DEFAULT_PATH


def _dlr_base(callback_url: str, token: str) -> str:
    """The dlr-url up to the message's own fields: the daemon's report route, naming the
    gateway, with the token when there is one."""
    base = beside(callback_url, DLR_PATH)
    return f"{base}&{TOKEN_PARAM}={token}" if token else base
