"""A message as the daemon handles it, read from its stream entry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from dispatch.store.entries import Entry, unpack_entry
from dispatch.vocabulary import Outcome, StateCode


@dataclass(slots=True)
class Message:
    campaign: str
    entry_id: bytes
    number: str
    values: list[str] | None
    attempts: int = 0  # transient failures that count toward daemon.max_attempts
    waits: int = 0  # every retry, counted or not: drives the backoff
    throttled: bool = False  # the gateway throttled it before: no hint waited again
    # On a line (see lines.scheduler): the submissions its text takes (SMS parts), and
    # when they cannot all go at once, each part's offset from the first.
    parts: int = 1
    part_offsets: tuple[float, ...] = ()
    calls: int = 0  # a voice message: the calls placed for it by this daemon
    slot: str = ""  # a voice message: the time slot the recipient consented to


class MessageSink(Protocol):
    """Takes one message back for sending (a gateway's channel, or its outlet)."""

    async def send(self, message: Message, /) -> None: ...


def message_of(entry: Entry) -> Message:
    """The message a stream entry holds; UnreadableEntry when it holds none."""
    number, values, slot = unpack_entry(entry.payload)
    return Message(entry.campaign, entry.entry_id, number, values, slot=slot)


# Why a message of a cancelled campaign was never sent (sender, line feed), as recorded.
NOT_SENT_CANCELLED = "campaign cancelled before sending"


def outcome(message: Message, code: StateCode, detail: str) -> tuple[str, Outcome]:
    """What to record of `message`, by campaign (the recorder's batches are per campaign)."""
    return message.campaign, Outcome(message.entry_id, message.number, code, detail)


def message_reference(campaign: str, number: str) -> str:
    """Stable per campaign and recipient (the idempotency key); reveals no number."""
    digest = hashlib.blake2b(f"{campaign}\0{number}".encode(), digest_size=12).hexdigest()
    return f"{campaign}-{digest}"
