"""The simulated HTTP SMS gateway: routes, fault injection, acceptance.

Request handling is the hot path: parse, validate, one ledger lookup and one schedule
append per message, one JSON encode per response. No message text is kept, and no phone
number is ever logged.

Lines: with `--line-rate`, each sender ("from") is metered like the SMSC's lines, and a
message over its line's rate is counted in `line_violations`, but accepted: this API has
no per-message throttling answer, and the count is what a drill checks.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from dispatch.httpserver import Request, Response, error_response, json_response
from dispatch.simulator.http.faults import FaultDecider
from dispatch.simulator.http.messages import (
    InvalidBody,
    Submission,
    batch_item_reference,
    parse_batch,
    parse_batch_item,
    parse_single,
)
from dispatch.simulator.http.receipts import ReceiptPoster
from dispatch.simulator.http.replies import HttpReplies
from dispatch.simulator.ledger import GatewayCounters, Ledger
from dispatch.simulator.smsc.policy import RateLimiter

Route = Callable[[Request], Awaitable[Response]]
StatsSource = Callable[[], dict[str, Any]]
# One encoder for every answer: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))


class HttpGateway:
    """The request handler given to dispatch.httpserver.serve_http."""

    def __init__(self, ledger: Ledger, faults: FaultDecider, receipts: ReceiptPoster,
                 counters: GatewayCounters | None = None,
                 replies: HttpReplies | None = None, lines: RateLimiter | None = None
                 ) -> None:
        self.ledger = ledger
        self._lines = lines
        self.counters = counters or GatewayCounters()
        self._faults = faults
        self._receipts = receipts
        self._replies = replies
        self._routes: dict[str, tuple[str, Route]] = {
            "/sms": ("POST", self._sms),
            "/sms/batch": ("POST", self._sms_batch),
            "/stats": ("GET", self._stats),
            "/healthz": ("GET", self._healthz),
        }
        # Paths with a variable part (the voice side's account): looked at only when no
        # exact path matches, so /sms pays nothing for them.
        self._prefixes: list[tuple[str, tuple[str, Route]]] = []
        self._stats_sources: list[StatsSource] = []

    def add_route(self, path: str, method: str, route: Route) -> None:
        """Serve `route` at `path` too (the SMSC's control routes)."""
        self._routes[path] = (method, route)

    def add_prefix_route(self, prefix: str, method: str, route: Route) -> None:
        """Serve `route` at every path starting with `prefix` (it reads the rest)."""
        self._prefixes.append((prefix, (method, route)))

    def add_stats(self, source: StatsSource) -> None:
        """Merge what `source()` returns into GET /stats (top-level keys)."""
        self._stats_sources.append(source)

    async def __call__(self, request: Request) -> Response:
        route = self._routes.get(request.path) or self._prefix_route(request.path)
        if route is None:
            return error_response(404, f"no such path: {request.path}")
        method, handle = route
        if request.method != method:
            return json_response({"error": f"{request.path} accepts {method} only"}, 405,
                                 {"allow": method})
        return await handle(request)

    def _prefix_route(self, path: str) -> tuple[str, Route] | None:
        for prefix, route in self._prefixes:
            if path.startswith(prefix):
                return route
        return None

    def stats(self) -> dict[str, Any]:
        stats = self._own_stats()
        for source in self._stats_sources:
            stats.update(source())
        return stats

    def _own_stats(self) -> dict[str, Any]:
        counters, ledger, receipts = self.counters, self.ledger, self._receipts.counters
        return {
            "accepted": ledger.accepted, "duplicates": ledger.duplicates,
            "replays": ledger.replays, "submissions": counters.submissions,
            "requests": counters.requests, "rejected_invalid": counters.rejected_invalid,
            "faults": {"429": counters.throttled, "500": counters.server_errors,
                       "lost_response": counters.lost_responses,
                       "5xx_by_status": dict(counters.server_errors_by_status)},
            "receipts": {"sent": receipts.sent, "pending": receipts.pending,
                         "failed": receipts.failed, "skipped": receipts.skipped,
                         "posts": receipts.posts, "post_failures": receipts.post_failures},
            "outcomes": dict(counters.outcomes),
        }

    async def _stats(self, request: Request) -> Response:
        return json_response(self.stats())

    async def _healthz(self, request: Request) -> Response:
        return json_response({"ok": True})

    async def _sms(self, request: Request) -> Response:
        fault = self._injected_fault()
        if fault is not None:
            return await self._delayed(fault)
        self.counters.submissions += 1
        try:
            body = request.json()
            submission, callback_url = parse_single(body, request.headers.get("idempotency-key"))
        except ValueError as exc:  # InvalidBody, or not JSON
            self.counters.rejected_invalid += 1
            return await self._delayed(error_response(400, str(exc)))
        gateway_id = self._submit(submission, body, callback_url, trio.current_time())
        return await self._answer({"id": gateway_id, "reference": submission.reference})

    async def _sms_batch(self, request: Request) -> Response:
        fault = self._injected_fault()
        if fault is not None:
            return await self._delayed(fault)
        try:
            items, callback_url = parse_batch(request.json())
        except ValueError as exc:
            self.counters.rejected_invalid += 1
            return await self._delayed(error_response(400, str(exc)))
        now = trio.current_time()
        results = [self._batch_item(item, callback_url, now) for item in items]
        return await self._answer({"results": results})

    def _batch_item(self, item: Any, callback_url: str | None, now: float) -> dict[str, Any]:
        self.counters.submissions += 1
        try:
            submission = parse_batch_item(item)
        except InvalidBody as exc:
            self.counters.rejected_invalid += 1
            return {"reference": batch_item_reference(item), "error": str(exc),
                    "permanent": True}
        return {"reference": submission.reference,
                "id": self._submit(submission, item, callback_url, now)}

    def _submit(self, submission: Submission, message: dict[str, Any],
                callback_url: str | None, now: float) -> str:
        """Accept (or replay) one valid message (`message`: its validated body); returns
        its gateway id."""
        gateway_id, accepted_now = self.ledger.submit(*submission)
        if self._lines is not None and not self._lines.allow(message["from"], now):
            self.counters.line_violations += 1
        if accepted_now:
            status = self._faults.outcome()
            self.counters.outcomes[status] += 1
            if callback_url is None:
                self._receipts.skip()
            else:
                due = now + self._faults.receipt_delay()
                self._receipts.schedule(due, callback_url,
                                        (gateway_id, submission.reference, status))
                if self.ledger.journal is not None:  # owed, even after a kill
                    self.ledger.journal.http_receipt(callback_url, gateway_id,
                                                     submission.reference, status)
            if self._replies is not None:
                self._replies.accepted(gateway_id, message["to"], message["from"],
                                       message["text"], status, callback_url, now)
        return gateway_id

    def _injected_fault(self) -> Response | None:
        self.counters.requests += 1
        status = self._faults.request_fault(trio.current_time())
        if status is None:
            return None
        if status == 429:
            self.counters.throttled += 1
            return json_response({"error": "throttled"}, 429, {"retry-after": "1"})
        self.counters.count_server_error(status)
        return error_response(status, f"injected server error {status}")

    async def _answer(self, payload: dict[str, Any]) -> Response:
        """A 200 with `payload`, unless the lost-response fault turns it into a 504 (a proxy
        whose wait ran out: the gateway took the messages, the answer was lost)."""
        self.ledger.flush()
        if self._faults.lose_response():
            self.counters.lost_responses += 1
            return await self._delayed(error_response(504, "gateway timeout"))
        return await self._delayed(Response(200, _ENCODER.encode(payload).encode()))

    async def _delayed(self, response: Response) -> Response:
        latency = self._faults.response_latency(trio.current_time())
        if latency:
            await trio.sleep(latency)
        return response
