"""The Messages API's decisions and book — pure (times passed in; what is posted back is
handed to a sink that posts it).

Accepting a message, in this order:
1. the recipient unsubscribed from that line at the provider (they texted STOP to it, and
   no START since): 400, code 21610, counted in `unsubscribed` — the provider enforces
   opt-outs itself, so a daemon that ignored a STOP meets this;
2. otherwise 201 with a sid "SM" + 32 hex digits and status `queued`. The shared ledger
   counts it (`accepted`, or `duplicates` for the same text to the same number from the
   same line again: the API has no idempotency key, so a request sent again after a lost
   answer is a second SMS), and its number's count goes up (`messages_per_number`).
Its outcome is drawn from the SMS outcome mix; with a StatusCallback it then goes through
`sent` (at once) and its final status (after the receipt delay): delivered; undelivered
(error 30003 for an undeliverable one, 30008 for an expired one); failed (30007, filtered,
for a rejected one, with no `sent` before).

MO (a recipient's message to a line: a reply decided by the reply book, or one injected by
POST /twilio/mo) are posted to the number's inbound webhook; an opt-out among them
unsubscribes the pair at the moment it is posted (START, UNSTOP... subscribe it again).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final, NamedTuple, Protocol
from urllib.parse import urlsplit, urlunsplit

from dispatch.policy.keywords import Intent, classify
from dispatch.simulator.accounts import Refusal
from dispatch.simulator.config import (
    DELIVERED,
    EXPIRED,
    OUTCOME_NAMES,
    REJECTED,
    UNDELIVERABLE,
)
from dispatch.simulator.http.faults import FaultDecider
from dispatch.simulator.ledger import Ledger
from dispatch.simulator.mo_body import MoRequest
from dispatch.simulator.replies import ReplyBook, ReplyTicket, pair_key
from dispatch.simulator.twilio.request import MessageRequest, body_digest

API_VERSION: Final = "2010-04-01"
# The statuses each outcome posts, in order, with the ErrorCode of a failure.
STATUSES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    DELIVERED: (("sent", ""), ("delivered", "")),
    UNDELIVERABLE: (("sent", ""), ("undelivered", "30003")),
    EXPIRED: (("sent", ""), ("undelivered", "30008")),
    REJECTED: (("failed", "30007"),),
}
# The number a Messaging Service's messages come from, and its recipients write to.
SERVICE_NUMBER: Final = "+15005550006"
INBOUND_PATH_END: Final = "inbound"  # dispatch's webhook sits beside its status callback


class Post(NamedTuple):
    """One form POST to the daemon: a status callback, or an MO (`ticket`)."""

    account: str  # whose token signs it
    fields: tuple[tuple[str, str], ...]
    ticket: ReplyTicket | None = None


class PostSink(Protocol):
    def schedule(self, due: float, url: str, item: Post) -> None:
        """Post `item` to `url` at `due`."""


@dataclass
class MessagesCounters:
    requests: int = 0  # POSTs to .../Messages.json
    accepted: int = 0  # 201, duplicates included
    duplicates: int = 0  # the same text to the same number from the same line again
    refused: int = 0  # 4xx for the request itself: credentials, form (21211, 21602...)
    unsubscribed: int = 0  # 400 21610: to a recipient who unsubscribed from the line
    throttled: int = 0  # injected 429 (code 20429)
    server_errors: int = 0  # injected 5xx
    lost_responses: int = 0  # accepted, then answered 503 anyway
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOME_NAMES, 0))
    mo: dict[str, int] = field(default_factory=lambda: {"queued": 0, "acknowledged": 0,
                                                        "failed": 0})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def inbound_url_for(status_url: str) -> str:
    """dispatch's inbound webhook beside a status callback URL (…/status -> …/inbound),
    with its query (which names the gateway)."""
    parts = urlsplit(status_url)
    path = parts.path.rsplit("/", 1)[0] + "/" + INBOUND_PATH_END
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class MessagesCore:
    def __init__(self, ledger: Ledger, book: ReplyBook, faults: FaultDecider,
                 sink: PostSink, inbound_url: str = "", id_prefix: str | None = None
                 ) -> None:
        self.counters = MessagesCounters()
        self.per_number: Counter[str] = Counter()  # messages accepted per recipient
        self._ledger = ledger
        self._book = book
        self._faults = faults
        self._sink = sink
        self._inbound_url = inbound_url or None
        self._latest_callback: str | None = None
        self._unsubscribed: set[tuple[str, str]] = set()
        self._confirmation = body_digest(book.confirmation_text)
        # 8 hex digits per run (sids stay unique across restarts) + 24 of counter.
        self._prefix = "SM" + (id_prefix if id_prefix is not None else secrets.token_hex(4))
        self._counter = 0

    def accept(self, account: str, request: MessageRequest, now: float) -> dict[str, Any]:
        """The 201 answer's JSON for a valid, authenticated request; raises Refusal for a
        recipient who unsubscribed from the line."""
        if pair_key(request.to, request.sender) in self._unsubscribed:
            self.counters.unsubscribed += 1
            raise Refusal(400, 21610, "Attempt to send to unsubscribed recipient")
        self._count(request, now)
        sid = self._new_sid()
        outcome = self._faults.outcome()
        self.counters.outcomes[outcome] += 1
        if request.callback is not None:
            self._latest_callback = request.callback
            done = self._post_statuses(account, sid, request, outcome, now)
            if outcome == DELIVERED:
                self._maybe_reply(account, request, done)
        sender = SERVICE_NUMBER if request.service else request.sender
        return {"sid": sid, "account_sid": account, "status": "queued", "to": request.to,
                "from": sender, "num_segments": "1", "api_version": API_VERSION,
                "messaging_service_sid": request.sender if request.service else None,
                "error_code": None, "error_message": None}

    def _count(self, request: MessageRequest, now: float) -> None:
        counters = self.counters
        counters.accepted += 1
        key = f"twilio\0{request.to}\0{request.sender}\0{request.digest.hex()}"
        counters.duplicates += not self._ledger.record(key)
        self.per_number[request.to] += 1
        book = self._book
        confirmation = request.digest == self._confirmation
        if book.stopped or confirmation:
            book.accepted(request.to, request.sender, now, confirmation=confirmation)

    def _post_statuses(self, account: str, sid: str, request: MessageRequest, outcome: str,
                       now: float) -> float:
        """Schedule the message's status callbacks; returns when the final one is due."""
        assert request.callback is not None
        statuses = STATUSES[outcome]
        final_due = now + self._faults.receipt_delay()
        for index, (status, error) in enumerate(statuses):
            due = final_due if index == len(statuses) - 1 else now
            self._sink.schedule(due, request.callback,
                                Post(account, _status_fields(account, sid, request, status,
                                                             error)))
        return final_due

    def _maybe_reply(self, account: str, request: MessageRequest, delivered_at: float
                     ) -> None:
        """The recipient answers, if the reply book says so, after the delivery."""
        if not self._book.active:
            return
        ticket = self._book.decide(request.to, request.sender)
        if ticket is None:
            return
        url = self.inbound_url()
        if url is None:
            self._book.unroutable(ticket)
            return
        self._sink.schedule(delivered_at + self._book.delay(), url,
                            self._mo_post(account, ticket, self._book.text))

    def inbound_url(self) -> str | None:
        """Where MO go: the configured webhook, else dispatch's beside the latest status
        callback URL; None before any."""
        if self._inbound_url is not None:
            return self._inbound_url
        return inbound_url_for(self._latest_callback) if self._latest_callback else None

    def inject(self, account: str, url: str, items: Sequence[MoRequest], now: float) -> None:
        """MO injected by hand, posted at once."""
        for item in items:
            ticket = (self._book.injected(item.source, item.destination, item.text)
                      or ReplyTicket(item.source, item.destination, is_reply=False,
                                     stop=False))
            ticket.text = item.text
            self._sink.schedule(now, url, self._mo_post(account, ticket, item.text))
        self.counters.mo["queued"] += len(items)

    def _mo_post(self, account: str, ticket: ReplyTicket, text: str) -> Post:
        fields = [("MessageSid", sid := self._new_sid()), ("SmsSid", sid),
                  ("AccountSid", account), ("From", ticket.source), ("Body", text),
                  ("NumMedia", "0"), ("NumSegments", "1"), ("ApiVersion", API_VERSION)]
        if ticket.line.startswith("MG"):  # to a number of the Messaging Service
            fields += [("To", SERVICE_NUMBER), ("MessagingServiceSid", ticket.line)]
        else:
            fields.append(("To", ticket.line))
        return Post(account, tuple(fields), ticket)

    def mo_posted(self, ticket: ReplyTicket, now: float) -> None:
        """An MO goes out: the provider applies the recipient's STOP or START itself."""
        intent = classify(ticket.text if ticket.text is not None else self._book.text)
        if intent is Intent.OPT_OUT:
            self._unsubscribed.add(ticket.key)
        elif intent is Intent.OPT_IN:
            self._unsubscribed.discard(ticket.key)
        self._book.transmitted(ticket, now)

    def mo_settled(self, ticket: ReplyTicket, acknowledged: bool, now: float) -> None:
        if not ticket.is_reply:
            self.counters.mo["acknowledged" if acknowledged else "failed"] += 1
        self._book.settled(ticket, acknowledged, now)

    def stats(self) -> dict[str, Any]:
        per_count = Counter(self.per_number.values())
        return {**self.counters.as_dict(), "numbers": len(self.per_number),
                "messages_per_number": {str(n): per_count[n] for n in sorted(per_count)}}

    def _new_sid(self) -> str:
        self._counter += 1
        return f"{self._prefix}{self._counter:024x}"


def _status_fields(account: str, sid: str, request: MessageRequest, status: str,
                   error: str) -> tuple[tuple[str, str], ...]:
    fields = [("MessageSid", sid), ("SmsSid", sid), ("MessageStatus", status),
              ("SmsStatus", status), ("AccountSid", account), ("To", request.to),
              ("ApiVersion", API_VERSION)]
    if request.service:
        fields += [("From", SERVICE_NUMBER), ("MessagingServiceSid", request.sender)]
    else:
        fields.append(("From", request.sender))
    if error:
        fields.append(("ErrorCode", error))
    return tuple(fields)

