"""HTTP control of the SMSC, on the simulator's HTTP port:

- `POST /mo`: `{"from": "+33612345678", "to": "CAMPAIGN", "text": "STOP"}`, or a list of
  them, optionally with `"system_id"`: queued as deliver_sm (esm_class 0, long texts in
  UDH-concatenated parts) for the receivers of that system_id, by default the first one
  bound. 202 `{"messages": n, "parts": p}`; 409 if no receiver is bound
  and no system_id was given; 400 naming the item and field at fault.
- `POST /disconnect`: `{"mode": "close"}` (the default) or `{"mode": "unbind"}`, applied
  to every current SMPP connection. 200 `{"connections": n, "mode": ...}`.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from dispatch.httpserver import Request, Response, error_response, json_response
from dispatch.simulator.smsc.server import MODES, Smsc

MAX_MO_TEXT: Final = 1_000
MAX_ADDRESS: Final = 20  # SMPP addresses are C-strings of 21 octets
MAX_MO_BATCH: Final = 1_000


class MoRequest(NamedTuple):
    source: str
    destination: str
    text: str
    system_id: str | None


class InvalidMo(ValueError):
    """A /mo item is malformed; the message names the item and the field."""


def parse_mo(body: Any) -> list[MoRequest]:
    items = body if isinstance(body, list) else [body]
    if not 1 <= len(items) <= MAX_MO_BATCH:
        raise InvalidMo(f"give 1..{MAX_MO_BATCH} messages, got {len(items)}")
    return [_parse_item(item, index) for index, item in enumerate(items)]


def _parse_item(item: Any, index: int) -> MoRequest:
    where = f"message {index}"
    if not isinstance(item, dict):
        raise InvalidMo(f"{where}: must be a JSON object")
    source = _address(item, "from", where)
    destination = _address(item, "to", where)
    text = item.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_MO_TEXT:
        raise InvalidMo(f"{where}: 'text' must be a string of 1..{MAX_MO_TEXT} characters")
    system_id = item.get("system_id")
    if system_id is not None and not (isinstance(system_id, str) and system_id):
        raise InvalidMo(f"{where}: 'system_id' must be a non-empty string")
    return MoRequest(source, destination, text, system_id)


def _address(item: dict[str, Any], name: str, where: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value.removeprefix("+") \
            or len(value.removeprefix("+")) > MAX_ADDRESS or not value.isascii() \
            or "\0" in value:
        raise InvalidMo(f"{where}: '{name}' must be an address of 1..{MAX_ADDRESS} ASCII "
                        "characters (a '+' prefix aside)")
    return value


class SmscControl:
    """The /mo and /disconnect routes."""

    def __init__(self, smsc: Smsc) -> None:
        self.smsc = smsc

    async def mo(self, request: Request) -> Response:
        try:
            items = parse_mo(request.json())
        except ValueError as exc:  # InvalidMo, or not JSON
            return error_response(400, str(exc))
        accounts = self.smsc.config.accounts
        unknown = [item.system_id for item in items
                   if accounts and item.system_id is not None and item.system_id not in accounts]
        if unknown:
            return error_response(400, f"unknown system_id {unknown[0]!r}")
        receivers = self.smsc.bound_receivers()
        if any(item.system_id is None for item in items) and not receivers:
            return error_response(409, "no receiver is bound: give a system_id to hold "
                                       "the MO until one binds")
        parts = 0
        for item in items:
            system_id = item.system_id or receivers[0]
            parts += self.smsc.send_mo(system_id, item.source, item.destination, item.text)
        return json_response({"messages": len(items), "parts": parts}, 202)

    async def disconnect(self, request: Request) -> Response:
        try:
            body = request.json() if request.body.strip() else {}
        except ValueError as exc:
            return error_response(400, str(exc))
        mode = body.get("mode", "close") if isinstance(body, dict) else None
        if mode not in MODES:
            return error_response(400, f"'mode' must be one of {', '.join(MODES)}")
        return json_response({"connections": self.smsc.disconnect_all(mode), "mode": mode})
