"""What the gateway kinds speaking a Twilio-style REST API share (voice: the Calls API,
twilio: the Messages API): the account's settings and its authenticated client, the URLs
the provider is given for its callbacks, the form bodies it posts back, the masking of
numbers in its error messages, and the one loud line a minute when it refuses the
credentials.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Final
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import trio

from dispatch.gateways.base import Inbound
from dispatch.gateways.errors import GatewayErrors
from dispatch.gateways.health import GatewayHealth, Reachability, run_probed
from dispatch.gateways.responses import each_at_once
from dispatch.httpserver import Request
from dispatch.settings import ConfigError, GatewaySettings
from dispatch.vocabulary import Outbound, Retry, SubmitResult

log = logging.getLogger(__name__)

API_VERSION: Final = "2010-04-01"
REFUSED_LOG_S: Final = 60.0  # credentials refused: one ERROR line a minute at most
CONFIG_RETRY_S: Final = 30.0  # credentials refused: messages wait, the operator is told
_DIGITS: Final = re.compile(r"\+?\d{6,}")  # a phone number, not an error code

Form = Mapping[str, str]


class CallbackError(ValueError):
    """A callback's body is not what the API posts; the message says what is missing."""


def check_account(name: str, config: GatewaySettings, kind: str) -> None:
    """The URL and the account a request needs; ConfigError names the key (never a
    secret's value)."""
    for key in ("url", "account_sid", "auth_token"):
        if not getattr(config, key):
            raise ConfigError(f"gateways.{name}.{key}: required for a {kind} gateway")


def account_client(config: GatewaySettings, transport: httpx.AsyncBaseTransport | None
                   ) -> httpx.AsyncClient:
    """The provider's client: HTTP Basic `account_sid:auth_token`, `concurrency`
    connections. The token lives in the auth object only: httpx names the URL in its
    errors, never the credentials, and the adapters log the error's type alone."""
    limits = httpx.Limits(max_connections=config.concurrency,
                          max_keepalive_connections=config.concurrency)
    return httpx.AsyncClient(
        base_url=config.url, timeout=config.timeout_s, limits=limits, transport=transport,
        auth=httpx.BasicAuth(config.account_sid, config.auth_token))


def account_path(config: GatewaySettings, resource: str) -> str:
    """`/2010-04-01/Accounts/{AccountSid}/{resource}.json`"""
    return f"/{API_VERSION}/Accounts/{config.account_sid}/{resource}.json"


class AccountGateway:
    """What the gateways on such an account share: the Gateway interface but for what
    they send (`_send`: one message's request, never raising for a provider's fault) and
    the callbacks they serve."""

    # No bound of its own on the requests outstanding: a line scheduler hands out freely.
    outstanding: int | None = None

    def __init__(self, name: str, config: GatewaySettings,
                 transport: httpx.AsyncBaseTransport | None, waiting: str) -> None:
        self.name = name
        self.sender = config.sender
        self.batch_size = config.batch_size
        self.concurrency = config.concurrency
        self._timeout_s = config.timeout_s
        self._reachability = Reachability()
        self._refusals = RefusalLog(name, waiting)
        self.errors = GatewayErrors()
        self._client = account_client(config, transport)

    async def run(self, inbound: Inbound, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Nothing runs in the background: the provider posts to the daemon (`callbacks`).
        Started once a probe said whether the provider answers."""
        await run_probed(self._client, self._reachability, self._timeout_s, task_status)

    def health(self) -> GatewayHealth:
        """Reachable when its last request (or the start's probe) got an HTTP answer."""
        return self._reachability.health()

    def parts(self, text: str) -> int:
        """One request per message, whatever it says: the provider splits a long text."""
        return 1

    async def aclose(self) -> None:
        await self._client.aclose()

    async def submit(self, messages: Sequence[Outbound]) -> list[SubmitResult]:
        return await each_at_once(messages, Retry("not sent"), self._send)

    async def _send(self, message: Outbound) -> SubmitResult:
        raise NotImplementedError


def beside(callback_url: str, path: str) -> str:
    """`path` beside the callback URL, with its query (which names the gateway: the
    daemon checks the provider's signature with this gateway's auth token)."""
    query = urlsplit(callback_url).query
    return urljoin(callback_url, path.lstrip("/")) + (f"?{query}" if query else "")


def masked(text: str) -> str:
    """A provider's message with any run of digits that may be a phone number masked."""
    return _DIGITS.sub("…", text)


def read_form(request: Request) -> Form:
    """An application/x-www-form-urlencoded body (a repeated field: its last value)."""
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise CallbackError("the body is not UTF-8") from None
    # Percent-escapes that are not UTF-8 (a lone surrogate's %ED%A0%80) decode as U+FFFD;
    # a NUL (%00) would be stored as is: refused.
    form = {name: values[-1] for name, values in parse_qs(text, keep_blank_values=True).items()}
    for name, value in form.items():
        if "\0" in name or "\0" in value:
            raise CallbackError(f"field {name[:40].replace(chr(0), '?')!r} holds a NUL "
                                "character")
    return form


def required(form: Form, name: str) -> str:
    """The field's value; CallbackError when it is missing or empty."""
    value = form.get(name, "")
    if not value:
        raise CallbackError(f"no {name}")
    return value


class RefusalLog:
    """One ERROR line a minute at most while the provider refuses the configuration: every
    request fails alike, and the journal must show the cause, not a flood."""

    def __init__(self, gateway: str, waiting: str) -> None:
        self._gateway = gateway
        self._waiting = waiting  # what waits meanwhile: "calls wait", "messages wait"
        self._logged_at = -REFUSED_LOG_S

    def refused(self, status: int, what: str = "the credentials",
                check: str = "account_sid and auth_token") -> None:
        now = trio.current_time()
        if now - self._logged_at >= REFUSED_LOG_S:
            self._logged_at = now
            log.error("gateway %s: the provider refused %s (HTTP %d): check %s; %s",
                      self._gateway, what, status, check, self._waiting)
