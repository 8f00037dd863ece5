"""HTTP gateway adapter (httpx): single or batch submissions with an idempotency key.

The key is the message reference, stable across retries and restarts, so a submission
retried after a lost answer or a crash is answered with the first acceptance instead of
sending a second SMS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import trio

from dispatch.gateways.base import Inbound
from dispatch.gateways.errors import (
    INVALID_ANSWER,
    ITEM_ERROR,
    NOT_SENT,
    TIMEOUT,
    GatewayErrors,
)
from dispatch.gateways.health import GatewayHealth, Reachability, describe, run_probed
from dispatch.gateways.http.callbacks import HttpCallbacks
from dispatch.gateways.responses import retry_after
from dispatch.httpserver import Handler
from dispatch.settings import GatewaySettings
from dispatch.vocabulary import Accepted, Outbound, Rejected, Retry, SubmitResult, retry_all

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# Error answers after which the message may be sent elsewhere (Retry.unsent): the gateway
# itself said it did not do it. Not 502 or 504: those come from a proxy, and the gateway
# behind it may have taken the message.
NOT_TAKEN_STATUSES = frozenset({408, 425, 429, 500, 503})


def build(name: str, config: GatewaySettings, callback_url: str) -> HttpGateway:
    """The composition root's builder: receipts are posted to `callback_url`."""
    return HttpGateway(name, config, callback_url)


class HttpGateway:
    # No bound of its own on the submissions outstanding (each sender has one request).
    outstanding: int | None = None
    places_calls = False

    def __init__(self, name: str, config: GatewaySettings, callback_url: str,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.name = name
        self.sender = config.sender
        self.batch_size = config.batch_size
        self.concurrency = config.concurrency
        self._callback_url = callback_url or None
        self._timeout_s = config.timeout_s
        self._reachability = Reachability()
        self.errors = GatewayErrors()
        limits = httpx.Limits(max_connections=config.concurrency,
                              max_keepalive_connections=config.concurrency)
        self._client = httpx.AsyncClient(base_url=config.url, timeout=config.timeout_s,
                                         limits=limits, transport=transport)

    async def run(self, inbound: Inbound, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Nothing runs in the background: receipts and replies are posted to the daemon's
        inbound port (`callbacks`). Started once a probe said whether the gateway answers."""
        await run_probed(self._client, self._reachability, self._timeout_s, task_status)

    def callbacks(self, inbound: Inbound) -> Mapping[str, Handler]:
        """The routes of the inbound port where the gateway posts receipts and replies."""
        return HttpCallbacks(inbound).routes()

    def health(self) -> GatewayHealth:
        """Reachable when its last request (or the start's probe) got an HTTP answer."""
        return self._reachability.health()

    def parts(self, text: str) -> int:
        """One request per message, whatever its length: the gateway splits it."""
        return 1

    async def aclose(self) -> None:
        await self._client.aclose()

    async def submit(self, messages: Sequence[Outbound]) -> list[SubmitResult]:
        if self.batch_size == 1 and len(messages) == 1:
            return [await self._submit_one(messages[0])]
        return await self._submit_batch(messages)

    async def _submit_one(self, message: Outbound) -> SubmitResult:
        body = {"reference": message.reference, "to": message.to, "from": message.sender,
                "text": message.text, "callback_url": self._callback_for([message])}
        response = await self._post("/sms", body, {"Idempotency-Key": message.reference})
        if isinstance(response, Retry):
            return response
        if response.status_code == 200:
            return _accepted(response.json(), self.errors)
        return _error_result(response)

    async def _submit_batch(self, messages: Sequence[Outbound]) -> list[SubmitResult]:
        body = {"callback_url": self._callback_for(messages), "messages": [
            {"reference": m.reference, "to": m.to, "from": m.sender, "text": m.text,
             "idempotency_key": m.reference} for m in messages]}
        response = await self._post("/sms/batch", body, {})
        if isinstance(response, Retry):
            return retry_all(len(messages), response)
        if response.status_code != 200:
            return [_error_result(response)] * len(messages)
        return _batch_results(response, messages, self.errors)

    def _callback_for(self, messages: Sequence[Outbound]) -> str | None:
        """Where receipts go; None (no receipt) when no message asks for one. A batch shares
        one callback: the daemon never mixes answers with campaign messages."""
        return self._callback_url if any(m.receipt for m in messages) else None

    async def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]
                    ) -> httpx.Response | Retry:
        try:
            response = await self._client.post(path, json=body, headers=headers)
        except NOT_SENT as exc:
            self._reachability.failed(f"unreachable: {describe(exc)}")
            self.errors.transport(exc)
            return Retry(f"gateway unreachable: {type(exc).__name__}", unsent=True)
        except httpx.TimeoutException:
            self._reachability.failed("timeout")
            self.errors.count(TIMEOUT)
            return Retry("gateway timeout")
        except httpx.HTTPError as exc:
            self._reachability.failed(f"unreachable: {describe(exc)}")
            self.errors.transport(exc)
            return Retry(f"gateway unreachable: {type(exc).__name__}")
        self._reachability.answered()
        if response.status_code != 200:
            self.errors.http_status(response.status_code)
        return response


def _accepted(payload: Any, errors: GatewayErrors) -> SubmitResult:
    gateway_id = payload.get("id") if isinstance(payload, dict) else None
    if not isinstance(gateway_id, str) or not gateway_id:
        # Accepted without an id we can match receipts on: do not resend blindly.
        errors.count(INVALID_ANSWER)
        return Retry("gateway answered 200 without a message id")
    return Accepted(gateway_id)


def _error_result(response: httpx.Response) -> SubmitResult:
    reason = f"HTTP {response.status_code}: {_error_text(response)}"
    status = response.status_code
    if status == 429:  # throttled: not taken, only asked to wait
        return Retry(reason, retry_after(response), counts=False, throttled=True, unsent=True)
    if status in TRANSIENT_STATUSES or status >= 500:
        return Retry(reason, retry_after(response), unsent=status in NOT_TAKEN_STATUSES)
    return Rejected(reason)


def _batch_results(response: httpx.Response, messages: Sequence[Outbound],
                   errors: GatewayErrors) -> list[SubmitResult]:
    try:
        results = response.json()["results"]
    except (ValueError, KeyError, TypeError):
        errors.count(INVALID_ANSWER)
        return retry_all(len(messages), Retry("gateway batch answer is not readable"))
    if not isinstance(results, list) or len(results) != len(messages):
        errors.count(INVALID_ANSWER)
        return retry_all(len(messages),
                         Retry("gateway batch answer has the wrong number of results"))
    return [_batch_item(item, errors) for item in results]


def _batch_item(item: Any, errors: GatewayErrors) -> SubmitResult:
    if isinstance(item, dict) and "error" in item:
        errors.count(ITEM_ERROR)
        reason = str(item["error"])
        return Rejected(reason) if item.get("permanent", True) else Retry(reason, unsent=True)
    return _accepted(item, errors)


def _error_text(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.reason_phrase or "error"
    if isinstance(payload, dict) and "error" in payload:
        return str(payload["error"])[:200]
    return response.reason_phrase or "error"
