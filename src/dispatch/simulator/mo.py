"""`POST /mo`: an MO (a recipient's message to a line, STOP say) injected by hand, on the
simulator's HTTP port, delivered the way the daemon takes MO: over SMPP when an SMSC runs,
else over HTTP.

Body (dispatch.simulator.mo_body): `{"from": "+33612345678", "to": "36111", "text":
"STOP"}` or a list of 1..1000 of them, each with an optional `"system_id"` (SMPP only).

Which way, for the whole request:
- SMPP (dispatch.simulator.smsc.control) when the SMSC runs and a receiver is bound, or
  every item names a `system_id` (held until one of its receivers binds): queued as
  deliver_sm. 202 `{"messages": n, "parts": p}`.
- else HTTP (dispatch.simulator.http.replies) when no item names a `system_id` and an MO
  URL is known: `--mo-url`, or /inbound beside the callback URL of the latest message the
  HTTP gateway accepted with one. Posted at once as `[{"from", "to", "text"}]` (batched,
  retried like replies). 202 `{"messages": n, "url": URL}`.
- else 409 saying what is missing (no receiver bound, no MO URL known).
400 naming the item and field at fault, a `system_id` that is not an account, or a
`system_id` without an SMSC. Opt-outs injected either way are tracked for
`sent_after_stop` (dispatch.simulator.replies).
"""

from __future__ import annotations

from collections.abc import Sequence

import trio

from dispatch.httpserver import Request, Response, error_response, json_response
from dispatch.simulator.http.replies import HttpReplies
from dispatch.simulator.mo_body import MoRequest, parse_mo
from dispatch.simulator.smsc.control import SmscControl

NO_URL = ("no MO URL known: start the simulator with --mo-url, or let the daemon send a "
          "message with a callback URL first")
NO_RECEIVER = ("no SMPP receiver is bound: give every message a system_id to hold it "
               "until one binds")


class MoRoute:
    """The /mo route: SMPP when it can go there, else HTTP."""

    def __init__(self, http: HttpReplies, smsc: SmscControl | None) -> None:
        self._http = http
        self._smsc = smsc

    async def __call__(self, request: Request) -> Response:
        try:
            items = parse_mo(request.json())
        except ValueError as exc:  # InvalidMo, or not JSON
            return error_response(400, str(exc))
        refused = self._refused(items)
        if refused is not None:
            return error_response(400, refused)
        if self._smsc is not None and self._smsc.can_queue(items):
            return json_response(self._smsc.queue(items), 202)
        return self._over_http(items)

    def _refused(self, items: Sequence[MoRequest]) -> str | None:
        if self._smsc is not None:
            unknown = self._smsc.unknown_system_id(items)
            return None if unknown is None else f"unknown system_id {unknown!r}"
        named = next((i for i, item in enumerate(items) if item.system_id is not None), None)
        if named is None:
            return None
        return f"message {named}: 'system_id' is for the SMSC, which is not running " \
               "(--smpp-port)"

    def _over_http(self, items: Sequence[MoRequest]) -> Response:
        if any(item.system_id for item in items):
            return error_response(409, NO_RECEIVER)
        url = self._http.inject(items, trio.current_time())
        if url is None:
            reason = NO_URL if self._smsc is None else f"{NO_RECEIVER}; {NO_URL}"
            return error_response(409, reason)
        return json_response({"messages": len(items), "url": url}, 202)
