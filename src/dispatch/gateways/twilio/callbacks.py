"""What a Twilio-style provider posts to the daemon's inbound port, form-encoded and
signed with X-Twilio-Signature (checked before these handlers read anything:
daemon/inbound/auth.py): a message's status (its StatusCallback) and a recipient's message
to one of the account's numbers (the number's inbound webhook). Each is handed to the
daemon's `Inbound` before the provider gets its answer, so nothing is acknowledged and
then lost: a STOP is on the suppression list before the provider hears 200.

Each gateway has routes of its own, `/twilio/<name>/status` and `/twilio/<name>/inbound`:
a reply's line depends on the gateway's settings (a Messaging Service's STOP applies to
the line the daemon sends it as), so one gateway's handler cannot read another's posts.
"""

from __future__ import annotations

import logging
from typing import Final
from urllib.parse import quote

from dispatch.gateways.base import INVALID_REPLY, Inbound
from dispatch.gateways.provider import CallbackError, Form, read_form, required
from dispatch.httpserver import Handler, Request, Response, error_response
from dispatch.vocabulary import InboundMessage, Receipt, StateCode

log = logging.getLogger(__name__)

# Final statuses and the state each leads to: `canceled` is a message that will never go
# (a scheduled one cancelled at the provider), failed as `failed` is.
FINAL_STATUSES: Final = {"delivered": StateCode.DELIVERED, "undelivered": StateCode.FAILED,
                         "failed": StateCode.FAILED, "canceled": StateCode.FAILED}
INTERMEDIATE_STATUSES: Final = frozenset({
    "queued", "accepted", "scheduled", "sending", "sent", "receiving", "received", "read",
    "partially_delivered"})
# The answer to an inbound message: TwiML that says nothing (answers go out through the
# API, from the daemon's answerer, once the STOP or HELP is recorded).
EMPTY_TWIML: Final = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
CODE_CHARS: Final = 12


def callback_paths(gateway: str) -> tuple[str, str]:
    """(status path, inbound path) of gateway `gateway` on the inbound port."""
    base = f"/twilio/{quote(gateway, safe='')}"
    return f"{base}/status", f"{base}/inbound"


class TwilioCallbacks:
    """The two routes of one gateway. `service_line`: (Messaging Service SID, the line the
    daemon sends its messages as) when the gateway sends through a service."""

    def __init__(self, inbound: Inbound, gateway: str, account_sid: str,
                 service_line: tuple[str, str] | None) -> None:
        self._inbound = inbound
        self._gateway = gateway
        self._account_sid = account_sid
        self._service_line = service_line

    def routes(self) -> dict[str, Handler]:
        status, inbound = callback_paths(self._gateway)
        return {status: self.status, inbound: self.message}

    async def status(self, request: Request) -> Response:
        try:
            receipt = status_receipt(read_form(request), self._account_sid)
        except CallbackError as exc:
            self._inbound.not_recorded("invalid")
            log.warning("gateway %s: status callback refused: %s", self._gateway, exc)
            return error_response(400, str(exc))
        if receipt is None:
            self._inbound.not_recorded("intermediate")
        else:
            await self._inbound.receipts([receipt], join_others=True)
        return Response(200, b"", "text/plain")

    async def message(self, request: Request) -> Response:
        try:
            message = inbound_message(read_form(request), self._account_sid,
                                      self._service_line, self._gateway)
        except CallbackError as exc:
            self._inbound.not_recorded(INVALID_REPLY)
            log.warning("gateway %s: inbound message refused: %s", self._gateway, exc)
            return error_response(400, str(exc))
        await self._inbound.messages([message])
        return Response(200, EMPTY_TWIML, "application/xml")


def status_receipt(form: Form, account_sid: str) -> Receipt | None:
    """A status callback as a final receipt; None for an intermediate status."""
    _check_account(form, account_sid)
    sid = _either(form, "MessageSid", "SmsSid")
    status = _either(form, "MessageStatus", "SmsStatus").lower()
    if status in INTERMEDIATE_STATUSES:
        return None
    code = FINAL_STATUSES.get(status)
    if code is None:
        raise CallbackError(f"unknown MessageStatus {status[:40]!r}")
    if code is StateCode.DELIVERED:
        return Receipt(sid, code, "twilio delivered")
    error = form.get("ErrorCode", "")[:CODE_CHARS] or "none"
    return Receipt(sid, code, f"twilio {status}, error {error}")


def inbound_message(form: Form, account_sid: str, service_line: tuple[str, str] | None,
                    gateway: str) -> InboundMessage:
    """A recipient's message. Its line is the number it was sent to, or, for a number of
    the gateway's Messaging Service, the line the daemon sends the service's messages as:
    the suppression list is kept by the line messages go out from."""
    _check_account(form, account_sid)
    required(form, "MessageSid")
    source, destination = required(form, "From"), required(form, "To")
    if service_line is not None and form.get("MessagingServiceSid") == service_line[0]:
        destination = service_line[1]
    return InboundMessage(source, destination, form.get("Body", ""), gateway)


def _either(form: Form, name: str, older: str) -> str:
    """A field the provider also posts under an older name (SmsSid, SmsStatus)."""
    value = form.get(name) or form.get(older)
    if not value:
        raise CallbackError(f"no {name}")
    return value


def _check_account(form: Form, account_sid: str) -> None:
    """A post naming another account is not this gateway's (a webhook pointed at the wrong
    gateway, or taken unsigned with inbound_auth = "none")."""
    posted = form.get("AccountSid")
    if posted is not None and posted != account_sid:
        raise CallbackError("AccountSid is not this gateway's account")
