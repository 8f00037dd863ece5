"""HTTP control of the SMSC, on the simulator's HTTP port:

- `POST /mo` (routed by dispatch.simulator.mo; body in dispatch.simulator.mo_body): the
  SMPP side queues each MO as deliver_sm (esm_class 0, long texts in UDH-concatenated
  parts) for the receivers of its `system_id`, by default the first one bound; a
  `system_id` with no receiver bound holds it until one binds. 202
  `{"messages": n, "parts": p}`; 400 for a `system_id` that is not an account.
- `POST /disconnect`: `{"mode": "close"}` (the default) or `{"mode": "unbind"}`, applied
  to every current SMPP connection. 200 `{"connections": n, "mode": ...}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dispatch.httpserver import Request, Response, error_response, json_response
from dispatch.simulator.mo_body import MoRequest
from dispatch.simulator.smsc.server import MODES, Smsc


class SmscControl:
    """The SMPP side of /mo, and the /disconnect route."""

    def __init__(self, smsc: Smsc) -> None:
        self.smsc = smsc

    def unknown_system_id(self, items: Sequence[MoRequest]) -> str | None:
        """The first `system_id` that is not an account (None when accounts are open)."""
        accounts = self.smsc.config.accounts
        return next((item.system_id for item in items if accounts
                     and item.system_id is not None and item.system_id not in accounts),
                    None)

    def can_queue(self, items: Sequence[MoRequest]) -> bool:
        """A receiver is bound, or every item names the system_id to hold it for."""
        return bool(self.smsc.bound_receivers()) or all(item.system_id for item in items)

    def queue(self, items: Sequence[MoRequest]) -> dict[str, Any]:
        """Queue the MO as deliver_sm (call when `can_queue`); what /mo answers."""
        receivers = self.smsc.bound_receivers()
        parts = 0
        for item in items:
            system_id = item.system_id or receivers[0]
            parts += self.smsc.send_mo(system_id, item.source, item.destination, item.text)
        return {"messages": len(items), "parts": parts}

    async def disconnect(self, request: Request) -> Response:
        try:
            body = request.json() if request.body.strip() else {}
        except ValueError as exc:
            return error_response(400, str(exc))
        mode = body.get("mode", "close") if isinstance(body, dict) else None
        if mode not in MODES:
            return error_response(400, f"'mode' must be one of {', '.join(MODES)}")
        return json_response({"connections": self.smsc.disconnect_all(mode), "mode": mode})
