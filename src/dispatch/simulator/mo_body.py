"""The body of `POST /mo` (an MO injected by hand), read the same way for both sides — pure.

`{"from": "+33612345678", "to": "36111", "text": "STOP"}`, or a list of 1..1000 of them:
`from` the recipient, `to` the line (short code or number) it writes to, both addresses of
1..20 ASCII characters (a '+' prefix aside); `text` 1..1000 characters; optional
`system_id` (SMPP only: the receivers it is queued for). A malformed item is refused with
an `InvalidMo` naming the item and the field (dispatch.simulator.mo says how it is sent).
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

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
