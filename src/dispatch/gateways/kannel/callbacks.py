"""What Kannel calls back on the daemon's inbound port, with GET, its fields in the query:
delivery reports (the dlr-url each submission carries: GET /kannel/dlr) and replies from
recipients (the sms-service's get-url the operator writes in kannel.conf: GET /kannel/mo),
handed to the daemon's `Inbound` before Kannel gets its answer.

Kannel retries a call that did not get 200 or 202 (smsbox's http-request-retry), so a
report or a STOP the daemon could not take is asked again; one that cannot be read gets
400 once per try, a line in the log and a count, never a traceback.

    dlr-url: /kannel/dlr?gateway=NAME&token=T&id=OUR_ID&type=%d&answer=%A   (sendsms.py)
    get-url: /kannel/mo?gateway=NAME&token=T&from=%p&to=%P&text=%b&charset=%C
"""

from __future__ import annotations

import logging
import re
from typing import Final
from urllib.parse import parse_qsl

from dispatch.gateways.base import INVALID_REPLY, CalledWithGet, Inbound
from dispatch.httpserver import Handler, Request, Response, error_response
from dispatch.vocabulary import InboundMessage, Receipt, StateCode

log = logging.getLogger(__name__)

DLR_PATH: Final = "/kannel/dlr"
MO_PATH: Final = "/kannel/mo"
TOKEN_PARAM: Final = "token"  # the query parameter of the shared token (daemon auth)
GATEWAY_FIELD: Final = "gateway"  # the callback URL's, naming the gateway
# Kannel's report types (%d) that end a message, and the state each one leads to:
# delivered to the phone, not delivered, refused by the SMSC after Kannel took it.
FINAL_TYPES: Final = {1: StateCode.DELIVERED, 2: StateCode.FAILED, 16: StateCode.FAILED}
INTERMEDIATE_TYPES: Final = frozenset({4, 8})  # queued on the SMSC, taken by the SMSC
REASON_CHARS: Final = 80
ID_CHARS: Final = 64
# The parts of an SMSC receipt's text worth keeping (the rest holds the message's text).
RECEIPT_FIELDS: Final = re.compile(r"\b(stat|err):(\S+)", re.IGNORECASE)
# The charsets Kannel names with %C (by default: UTF-8 for 7-bit, UTF-16BE for UCS-2, 8-BIT
# for binary), as Python knows them; another one is refused.
CHARSETS: Final = {"UTF-8": "utf-8", "UTF-16BE": "utf-16-be", "UCS-2": "utf-16-be",
                   "8-BIT": "latin-1", "ISO-8859-1": "latin-1", "WINDOWS-1252": "cp1252",
                   "ASCII": "ascii", "US-ASCII": "ascii"}


class CallbackError(ValueError):
    """A call that cannot be read; the message says what is wrong in it, never its text."""


class KannelCallbacks:
    """The two routes, handing what they read to `inbound` (`gateway`: the name replies
    are labelled with when the URL names none)."""

    def __init__(self, inbound: Inbound, gateway: str) -> None:
        self._inbound = inbound
        self._gateway = gateway

    def routes(self) -> dict[str, Handler]:
        return {DLR_PATH: CalledWithGet(self.report), MO_PATH: CalledWithGet(self.reply)}

    async def report(self, request: Request) -> Response:
        try:
            receipt = parse_report(query_fields(request))
        except CallbackError as exc:
            self._inbound.not_recorded("invalid")
            log.warning("Kannel delivery report refused: %s", exc)
            return error_response(400, str(exc))
        if receipt is None:
            self._inbound.not_recorded("intermediate")
            return _text("ignored: not final")
        await self._inbound.receipts([receipt], join_others=True)
        return _text("recorded")

    async def reply(self, request: Request) -> Response:
        try:
            fields = query_fields(request)
            message = parse_reply(fields, _text_field(fields, GATEWAY_FIELD) or self._gateway)
        except CallbackError as exc:
            self._inbound.not_recorded(INVALID_REPLY)
            log.warning("Kannel MO refused: %s", exc)
            return error_response(400, str(exc))
        await self._inbound.messages([message])
        # Empty: Kannel would send a body back to the recipient as an SMS (the sms-service
        # has max-messages = 0 and omit-empty as well); answers go out from the daemon.
        return _text("")


def query_fields(request: Request) -> dict[str, bytes]:
    """The query's fields as bytes (a repeated field: its last value): a text's charset
    is only known from another field."""
    pairs = parse_qsl(request.query, keep_blank_values=True, encoding="latin-1")
    return {name: value.encode("latin-1") for name, value in pairs}


def parse_report(fields: dict[str, bytes]) -> Receipt | None:
    """A final report as a Receipt; None for an intermediate one."""
    gateway_id = _text_field(fields, "id")
    if not gateway_id or len(gateway_id) > ID_CHARS:
        raise CallbackError(f"'id' must be the message's id (1 to {ID_CHARS} characters)")
    kind = _text_field(fields, "type")
    if not kind.isdigit() or not kind.isascii():
        raise CallbackError("'type' must be Kannel's report type (%d)")
    number = int(kind)
    if number in INTERMEDIATE_TYPES:
        return None
    if number not in FINAL_TYPES:
        raise CallbackError(f"unknown report type {number}")
    answer = fields.get("answer", b"").decode("utf-8", "replace")
    return Receipt(gateway_id, FINAL_TYPES[number], f"kannel {number}: {summary(answer)}")


def summary(answer: str) -> str:
    """Kannel's answer (%A) cut short: an SMSC receipt's stat and err, else its start (an
    SMSC refusal: "NACK/0x0000000b/..."); never a receipt's copy of the message text."""
    found = RECEIPT_FIELDS.findall(answer)
    if found:
        return " ".join(f"{name.lower()}:{value}" for name, value in found)[:REASON_CHARS]
    return " ".join(answer.split())[:REASON_CHARS] or "no answer"


def parse_reply(fields: dict[str, bytes], gateway: str) -> InboundMessage:
    source, destination = _text_field(fields, "from"), _text_field(fields, "to")
    if not source or not destination:
        raise CallbackError("'from' (%p) and 'to' (%P) are required")
    if "text" not in fields:
        raise CallbackError("'text' (%b) is required")
    text = _decoded(fields["text"], _text_field(fields, "charset") or "UTF-8")
    return InboundMessage(source, destination, text, gateway)


def _decoded(raw: bytes, charset: str) -> str:
    name = CHARSETS.get(charset.upper())
    if name is None:
        raise CallbackError(f"unknown charset {charset[:40]!r}")
    text = raw.decode(name, "replace")
    if "\0" in text:
        raise CallbackError("'text' holds a NUL character")
    return text


def _text_field(fields: dict[str, bytes], name: str) -> str:
    """A field that is text (UTF-8); "" when absent. A NUL is refused: it cannot be stored."""
    value = fields.get(name, b"").decode("utf-8", "replace")
    if "\0" in value:
        raise CallbackError(f"'{name}' holds a NUL character")
    return value


def _text(body: str) -> Response:
    return Response(200, body.encode(), "text/plain")
