"""Messages to submit_sm PDUs, and responses to outcomes — pure.

A long message goes as UDH-concatenated parts (esm_class 0x40, 8-bit reference) and asks
for a receipt on its last part only, so one receipt comes back per message and the
message's gateway id is the last part's. Every part carries the message reference in the
vendor TLV 0x1501: the simulator's ledger detects duplicates with it; real SMSCs skip
unknown TLVs.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from dispatch import text
from dispatch.gateways.smpp.batch import SubmitPart
from dispatch.settings import GatewaySettings
from dispatch.smpp.constants import StatusClass, classify_status, status_name
from dispatch.smpp.fast import SubmitBodies
from dispatch.smpp.pdu import SubmitSm, Tlvs
from dispatch.smpp.receipts import normalise_message_id
from dispatch.smpp.udh import UDHI, with_concat
from dispatch.vocabulary import Accepted, Outbound, Rejected, Retry, SubmitResult

REFERENCE_TAG: Final = 0x1501
THROTTLED_AFTER_S: Final = 1.0  # the earliest a throttled message is worth resending
ID_BASES: Final[dict[str, int | None]] = {"": None, "hex": 16, "dec": 10}
MAX_ADDRESS: Final = 20  # source_addr / destination_addr: 21 octets with the NUL


def id_base(setting: str) -> int | None:
    """A GatewaySettings *_id_base value ("", "hex", "dec") as normalise_message_id's base."""
    return ID_BASES[setting]


@dataclass(frozen=True, slots=True)
class Plan:
    """The PDUs of a batch, and which of them make up each message."""

    pdus: list[SubmitSm]
    # Per message: (first PDU index, PDU count), or the rejection decided before sending.
    spans: list[tuple[int, int] | Rejected]

    def starts(self) -> list[bool]:
        """For each PDU, whether it starts a message; then True for the end of the batch."""
        starts = [False] * (len(self.pdus) + 1)
        for span in self.spans:
            if not isinstance(span, Rejected):
                starts[span[0]] = True
        starts[-1] = True
        return starts


# What a message's parts are made of: source and destination addresses, the text's
# encoding and its encoded parts.
_Checked = tuple[str, str, text.Encoding, tuple[bytes, ...]]


class PartBuilder:
    def __init__(self, config: GatewaySettings, rng: random.Random | None = None) -> None:
        self.sender = config.sender
        self._source_ton = config.source_ton
        self._source_npi = config.source_npi
        self._dest_ton = config.dest_ton
        self._dest_npi = config.dest_npi
        self._registered_delivery = config.registered_delivery
        self._bodies = SubmitBodies(config.source_ton, config.source_npi, config.dest_ton,
                                    config.dest_npi, REFERENCE_TAG)
        start = (rng or random.Random()).randrange(256)
        self._references = itertools.count(start)  # concatenation reference, mod 256

    def plan(self, messages: Sequence[Outbound]) -> Plan:
        pdus: list[SubmitSm] = []
        spans: list[tuple[int, int] | Rejected] = []
        for message in messages:
            parts = self.parts(message)
            if isinstance(parts, Rejected):
                spans.append(parts)
            else:
                spans.append((len(pdus), len(parts)))
                pdus.extend(parts)
        return Plan(pdus, spans)

    def ready(self, message: Outbound) -> list[SubmitPart] | Rejected:
        """As `parts`, but a one-part message (most of them) comes as its submit_sm's body
        in bytes (fast.SubmitBodies): a third of the cost of a SubmitSm built and encoded."""
        checked = self._checked(message)
        if isinstance(checked, Rejected):
            return checked
        source, destination, encoding, encoded = checked
        if len(encoded) == 1:
            body = self._bodies.body(
                source, destination, self._registered_delivery if message.receipt else 0,
                text.DATA_CODING[encoding], encoded[0], _reference_value(message))
            if body is not None:
                return [body]
        return list(self._pdus(message, checked))

    def parts(self, message: Outbound) -> list[SubmitSm] | Rejected:
        checked = self._checked(message)
        return checked if isinstance(checked, Rejected) else self._pdus(message, checked)

    def _checked(self, message: Outbound) -> _Checked | Rejected:
        """The message's source and destination addresses, its text's encoding and
        encoded parts; or why it cannot be sent."""
        destination = message.to.removeprefix("+")
        source = message.sender or self.sender
        problem = _address_problem(source, destination)
        if problem:
            return Rejected(problem)
        try:
            encoding, encoded = _encoded_parts(message.text)
        except text.TextEncodingError as exc:
            return Rejected(f"text cannot be encoded: {exc}")
        return source, destination, encoding, encoded

    def _pdus(self, message: Outbound, checked: _Checked) -> list[SubmitSm]:
        source, destination, encoding, encoded = checked
        tlvs: Tlvs = {REFERENCE_TAG: _reference_value(message)}
        data_coding = text.DATA_CODING[encoding]
        if len(encoded) == 1:  # most messages: one part, no concatenation
            return [self._pdu(source, destination, encoded[0], data_coding, 0,
                              self._registered_delivery if message.receipt else 0, tlvs)]
        payloads = with_concat(list(encoded), next(self._references) & 0xFF)
        last = len(payloads) - 1 if message.receipt else -1  # -1: no part asks
        return [self._pdu(source, destination, payload, data_coding, UDHI,
                          self._registered_delivery if i == last else 0, tlvs)
                for i, payload in enumerate(payloads)]

    def _pdu(self, source: str, destination: str, payload: bytes, data_coding: int,
             esm_class: int, registered_delivery: int, tlvs: Tlvs) -> SubmitSm:
        # Every field in order (one per message: keywords cost a third more): sequence,
        # status, service_type, source ton/npi/addr, destination ton/npi/addr, esm_class,
        # protocol_id, priority_flag, schedule_delivery_time, validity_period,
        # registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id,
        # short_message, tlvs.
        return SubmitSm(
            0, 0, "", self._source_ton, self._source_npi, source, self._dest_ton,
            self._dest_npi, destination, esm_class, 0, 0, "", "", registered_delivery, 0,
            data_coding, 0, payload, tlvs)


def part_count(message_text: str) -> int:
    """The submit_sm a text takes (1 if it cannot be encoded: it is refused as one)."""
    try:
        return len(_encoded_parts(message_text)[1])
    except text.TextEncodingError:
        return 1


@functools.lru_cache(maxsize=256)
def _encoded_parts(message_text: str) -> tuple[text.Encoding, tuple[bytes, ...]]:
    """The encoding and part payloads of a text. Cached: a campaign without placeholders
    sends one text to every recipient, and encoding it is a fifth of a submission's cost."""
    encoding = text.choose_encoding(message_text)
    return encoding, tuple(text.split_encoded(text.encode(message_text, encoding), encoding))


def _reference_value(message: Outbound) -> bytes:
    """The REFERENCE_TAG TLV's value: the message reference as a C-string."""
    return message.reference.encode() + b"\0"


def _address_problem(source: str, destination: str) -> str:
    if not destination.isdigit() or len(destination) > MAX_ADDRESS:
        return "destination is not a number SMPP can carry (digits, at most 20)"
    if not source or len(source) > MAX_ADDRESS or not source.isascii():
        return f"sender {source!r} cannot be an SMPP source_addr (1 to 20 ASCII characters)"
    return ""


# Responses.

NO_RESPONSE: Final = Retry("no response: fate unknown")
CONNECTION_LOST: Final = Retry("connection lost with the request outstanding: fate unknown")
NO_BIND: Final = Retry("no bind available", 1.0, counts=False, unsent=True)


def part_result(status: int, message_id: str, base: int | None) -> SubmitResult:
    """The outcome of one submit_sm_resp (or generic_nack) for its part."""
    if status == 0:
        return Accepted(normalise_message_id(message_id, base))
    kind = classify_status(status)
    reason = f"{status_name(status)} (0x{status:08x})"
    if kind is StatusClass.THROTTLED:  # not taken: wait, without using up an attempt
        return Retry(reason, THROTTLED_AFTER_S, counts=False, throttled=True, unsent=True)
    if kind is StatusClass.PERMANENT:
        return Rejected(reason)
    return Retry(reason, unsent=True)  # the SMSC answered: it did not take the part


def message_result(parts: Sequence[SubmitResult | None]) -> SubmitResult:
    """A message's outcome from its parts': a rejected part rejects the message, then a part
    to retry retries it (never as unsent once a part was taken: the recipient may have it);
    else it is accepted under the last part's id (the receipt's)."""
    retry: Retry | None = None
    for result in parts:
        if isinstance(result, Rejected):
            return result
        if not isinstance(result, Accepted) and retry is None:
            retry = result if result is not None else NO_RESPONSE
    if retry is not None:
        if retry.unsent and any(isinstance(result, Accepted) for result in parts):
            return replace(retry, unsent=False)
        return retry
    last = parts[-1]
    if not isinstance(last, Accepted) or not last.gateway_id:
        # Accepted, but no id to match its receipt on (see HttpGateway: same choice).
        return Retry("accepted without a message id")
    return last
