"""The deliver_sm the SMSC sends: delivery receipts in several dialects, and MO — pure.

A receipt is a deliver_sm with esm_class 0x04, from the message's destination to its
source, carrying the TLVs receipted_message_id (the id as submit_sm_resp gave it) and
message_state, and the text (dates in UTC)

    id:<id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD
    err:000 text:<first 20 characters>

`--receipt-format` picks a dialect seen in the wild:
- `standard`: as above;
- `long-dates`: dates with seconds, YYMMDDhhmmss;
- `capital-text`: `Text:` instead of `text:`;
- `hex-ids`: submit_sm_resp (and the TLV) give the id in decimal, the text in upper-case hex;
- `no-text`: no text field at all.
"""

from __future__ import annotations

import time
from typing import Final, NamedTuple

from dispatch import text
from dispatch.simulator.config import DELIVERED, ERROR_CODES, EXPIRED, REJECTED, UNDELIVERABLE
from dispatch.smpp.constants import Tag
from dispatch.smpp.pdu import DeliverSm
from dispatch.smpp.receipts import DELIVERY_RECEIPT, MessageState
from dispatch.smpp.udh import UDHI, with_concat

STATES: Final[dict[str, tuple[str, MessageState]]] = {
    DELIVERED: ("DELIVRD", MessageState.DELIVERED),
    UNDELIVERABLE: ("UNDELIV", MessageState.UNDELIVERABLE),
    EXPIRED: ("EXPIRED", MessageState.EXPIRED),
    REJECTED: ("REJECTD", MessageState.REJECTED),
}
TON_INTERNATIONAL: Final = 1
TON_NETWORK_SPECIFIC: Final = 3  # short codes
TON_ALPHANUMERIC: Final = 5
SHORT_CODE_DIGITS: Final = 6
NPI_E164: Final = 1

# (source_ton, source_npi, source_addr, dest_ton, dest_npi, destination_addr)
Route = tuple[int, int, str, int, int, str]


class ReceiptJob(NamedTuple):
    """What a receipt needs, kept from acceptance until it is due (no PDU held that long)."""

    message_id: str  # as submit_sm_resp gave it
    outcome: str
    submitted: float  # time.time() of the acceptance
    preview: str
    route: Route  # of the receipt: from the message's destination to its source


def response_id(ledger_id: str, receipt_format: str) -> str:
    """The message_id of submit_sm_resp for a ledger id (hex digits)."""
    if receipt_format == "hex-ids":
        try:
            return str(int(ledger_id, 16))
        except ValueError:
            return ledger_id
    return ledger_id


def text_id(message_id: str, receipt_format: str) -> str:
    if receipt_format == "hex-ids" and message_id.isdigit():
        return f"{int(message_id):X}"
    return message_id


class DateStamps:
    """YYMMDDhhmm[ss] in UTC, formatted once per second rather than once per receipt."""

    def __init__(self, with_seconds: bool) -> None:
        self._format = "%y%m%d%H%M%S" if with_seconds else "%y%m%d%H%M"
        self._cache: dict[int, str] = {}

    def stamp(self, unix_time: float) -> str:
        second = int(unix_time)
        found = self._cache.get(second)
        if found is None:
            if len(self._cache) > 1000:
                self._cache.clear()
            found = self._cache[second] = time.strftime(self._format, time.gmtime(second))
        return found


class ReceiptWriter:
    def __init__(self, receipt_format: str) -> None:
        self.format = receipt_format
        self._dates = DateStamps(receipt_format == "long-dates")
        self._text_key = {"capital-text": " Text:", "no-text": ""}.get(receipt_format, " text:")

    def text(self, job: ReceiptJob, done: float) -> str:
        stat = STATES[job.outcome][0]
        delivered = "001" if job.outcome == DELIVERED else "000"
        dates = self._dates
        body = (f"id:{text_id(job.message_id, self.format)} sub:001 dlvrd:{delivered} "
                f"submit date:{dates.stamp(job.submitted)} done date:{dates.stamp(done)} "
                f"stat:{stat} err:{ERROR_CODES[job.outcome]}")
        return body + self._text_key + job.preview if self._text_key else body

    def pdu(self, job: ReceiptJob, done: float) -> DeliverSm:
        source_ton, source_npi, source, dest_ton, dest_npi, destination = job.route
        return DeliverSm(
            source_addr_ton=source_ton, source_addr_npi=source_npi, source_addr=source,
            dest_addr_ton=dest_ton, dest_addr_npi=dest_npi, destination_addr=destination,
            esm_class=DELIVERY_RECEIPT,
            short_message=self.text(job, done).encode("ascii", "replace"),
            tlvs={Tag.RECEIPTED_MESSAGE_ID: job.message_id,
                  Tag.MESSAGE_STATE: STATES[job.outcome][1]},
        )


def address(value: str) -> tuple[int, int, str]:
    """(ton, npi, address) of a number (`+33612345678` or digits), a short code (at most
    SHORT_CODE_DIGITS digits, no "+": network specific) or an alphanumeric name."""
    digits = value.removeprefix("+")
    if not digits.isdigit():
        return TON_ALPHANUMERIC, 0, value
    if len(digits) <= SHORT_CODE_DIGITS and not value.startswith("+"):
        return TON_NETWORK_SPECIFIC, 0, digits
    return TON_INTERNATIONAL, NPI_E164, digits


def mo_pdus(source: str, destination: str, message: str, reference: int) -> list[DeliverSm]:
    """A mobile-originated message as deliver_sm parts (UDH-concatenated if long)."""
    return routed_mo_pdus((*address(source), *address(destination)), message, reference)


def routed_mo_pdus(route: Route, message: str, reference: int) -> list[DeliverSm]:
    """An MO along `route` (addresses with their ton and npi, as a message came: a reply
    goes back with them unchanged)."""
    encoding = text.choose_encoding(message)
    payloads = text.split(message)
    source_ton, source_npi, source_addr, dest_ton, dest_npi, dest_addr = route
    esm_class = UDHI if len(payloads) > 1 else 0
    return [DeliverSm(source_addr_ton=source_ton, source_addr_npi=source_npi,
                      source_addr=source_addr, dest_addr_ton=dest_ton, dest_addr_npi=dest_npi,
                      destination_addr=dest_addr, esm_class=esm_class,
                      data_coding=text.DATA_CODING[encoding], short_message=short)
            for short in with_concat(payloads, reference & 0xFF)]
