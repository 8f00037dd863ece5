"""A message as the daemon handles it, decoded from its stream entry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

import msgpack


@dataclass(slots=True)
class Message:
    campaign: str
    entry_id: bytes
    number: str
    values: list[str] | None
    attempts: int = 0  # transient failures that count toward daemon.max_attempts
    waits: int = 0  # every retry, counted or not: drives the backoff
    # On a line (see lines.scheduler): the submissions its text takes (SMS parts), and
    # when they cannot all go at once, each part's offset from the first.
    parts: int = 1
    part_offsets: tuple[float, ...] = ()


class MessageSink(Protocol):
    """Takes one message back for sending (a gateway's channel, or its outlet)."""

    async def send(self, message: Message, /) -> None: ...


class UnreadableEntry(ValueError):
    """A stream entry whose payload is not what enqueue writes."""


def decode_entry(campaign: str, entry_id: bytes, payload: bytes | None) -> Message:
    if payload is None:
        raise UnreadableEntry("entry has no payload")
    try:
        number, values = msgpack.unpackb(payload)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise UnreadableEntry(f"payload is not [number, values]: {exc}") from None
    if not isinstance(number, str) or not (values is None or isinstance(values, list)):
        raise UnreadableEntry("payload has the wrong types")
    return Message(campaign, entry_id, number, values)


def message_reference(campaign: str, number: str) -> str:
    """Stable per campaign and recipient (the idempotency key); reveals no number."""
    digest = hashlib.blake2b(f"{campaign}\0{number}".encode(), digest_size=12).hexdigest()
    return f"{campaign}-{digest}"
