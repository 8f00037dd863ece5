"""Messages from recipients (MO): decode, reassemble split ones — pure (time passed in).

Parts of one message may arrive over different binds, so one MoAssembler serves a whole
gateway. A part is acknowledged once it is held here: a crash before the last part arrives
loses the parts held (the SMSC will not resend what it was told it delivered).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from dispatch import text
from dispatch.smpp.pdu import ShortMessagePdu
from dispatch.smpp.reassembly import Incomplete, Reassembler
from dispatch.smpp.udh import message_content
from dispatch.vocabulary import InboundMessage

INTERNATIONAL = 1  # type of number


@dataclass(frozen=True, slots=True)
class MoPart:
    source: str
    destination: str
    reference: int | None  # None: a message in one part
    total: int
    sequence: int
    payload: bytes
    data_coding: int

    @property
    def key(self) -> Hashable:
        return (self.source, self.destination, self.reference)


@dataclass(frozen=True, slots=True)
class Completed:
    """A whole message, and the parts it was made of (to put back if recording fails)."""

    message: InboundMessage
    parts: tuple[MoPart, ...]
    sequence: int  # the part whose arrival completed the message


def address(digits: str, ton: int) -> str:
    """An address as the daemon records it: E.164 with "+" when the SMSC says international."""
    if ton == INTERNATIONAL and digits and not digits.startswith("+"):
        return "+" + digits
    return digits


def storable(body: str) -> str:
    """A decoded text as it is recorded: NULs (padding some SMSCs add, or bytes that were
    never text: latin-1 or UCS-2 00) dropped at the end and marked U+FFFD inside, so the
    text reads the same in every tool. (Decoding already replaced what is not text of its
    alphabet, lone UCS-2 surrogates included: text.decode never raises.)"""
    if "\0" not in body:
        return body
    return body.rstrip("\0").replace("\0", "\ufffd")


class MoAssembler:
    def __init__(self, gateway: str, *, max_parts: int = 10_000,
                 timeout_s: float = 600.0) -> None:
        self.gateway = gateway
        self._parts: Reassembler[MoPart] = Reassembler(max_parts=max_parts,
                                                       timeout_s=timeout_s)

    @property
    def parts_held(self) -> int:
        return self._parts.parts_held

    def add(self, pdu: ShortMessagePdu, now: float) -> Completed | None:
        """The whole message if `pdu` completes one (a single-part one does), else None."""
        source = address(pdu.source_addr, pdu.source_addr_ton)
        destination = address(pdu.destination_addr, pdu.dest_addr_ton)
        content = message_content(pdu.esm_class, pdu.short_message, pdu.tlvs)
        concat = content.concat
        if concat is None or concat.total < 2:
            whole = MoPart(source, destination, None, 1, 1, content.payload, pdu.data_coding)
            return self._completed([whole], 1)
        part = MoPart(source, destination, concat.reference, concat.total, concat.sequence,
                      content.payload, pdu.data_coding)
        parts = self._parts.add(part.key, part.total, part.sequence, part, now)
        return None if parts is None else self._completed(parts, part.sequence)

    def put_back(self, completed: Completed, now: float) -> None:
        """Hold a message's parts again but the last to arrive, which the SMSC will resend
        (it was answered "try later")."""
        for part in completed.parts:
            if part.reference is not None and part.sequence != completed.sequence:
                self._parts.add(part.key, part.total, part.sequence, part, now)

    def expire(self, now: float) -> list[InboundMessage]:
        """Messages whose missing parts never came: what did arrive, so nothing is lost."""
        return [self._incomplete(group) for group in self._parts.expire(now)]

    def _completed(self, parts: list[MoPart], sequence: int) -> Completed:
        first = parts[0]
        body = storable(text.decode(b"".join(part.payload for part in parts),
                                    first.data_coding))
        message = InboundMessage(first.source, first.destination, body, self.gateway)
        return Completed(message, tuple(parts), sequence)

    def _incomplete(self, group: Incomplete[MoPart]) -> InboundMessage:
        parts = [group.parts[seq] for seq in sorted(group.parts)]
        return self._completed(parts, 0).message
