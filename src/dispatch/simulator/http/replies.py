"""Replies over HTTP: recipients of the HTTP gateway's messages who answer.

Decided when a message is accepted (dispatch.simulator.replies), a reply waits for that
message's receipt to go out (acknowledged or given up), then `reply_delay_ms` (+ jitter)
more, and is posted to the MO URL as `[{"from": recipient, "to": sender, "text": ...}]`,
batched, retried and counted like receipts (poster.py). The MO URL is `--mo-url`, or the
message's callback URL with the path `/inbound` (the daemon serves both). A message
accepted without a callback URL has no receipt: its reply goes `receipt_delay_ms` after
acceptance, if `--mo-url` says where; otherwise it is counted failed.

MO injected by `POST /mo` (dispatch.simulator.mo) go the same way, at once, with their own
text, to `--mo-url` or the MO URL beside the callback URL of the latest message accepted
with one (none before such a message: `inject` says so). Those that are opt-outs are
tracked for `sent_after_stop` like the replies; GET /stats counts them under `mo_http`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import trio

from dispatch.simulator.config import DELIVERED, SimulatorConfig
from dispatch.simulator.http.poster import BatchPoster, hmac_signer
from dispatch.simulator.http.receipts import Receipt, retry_policy
from dispatch.simulator.mo_body import MoRequest
from dispatch.simulator.replies import ReplyBook, ReplyTicket

log = logging.getLogger(__name__)

MO_PATH = "/inbound"


@dataclass
class InjectedCounts:
    """MO injected over HTTP: queued, then acknowledged (2xx) or failed (given up)."""

    queued: int = 0
    acknowledged: int = 0
    failed: int = 0


def mo_url_for(callback_url: str) -> str:
    """The daemon's MO webhook beside its receipt callback: same origin and query (which
    names the gateway), path /inbound."""
    parts = urlsplit(callback_url)
    return urlunsplit((parts.scheme, parts.netloc, MO_PATH, parts.query, ""))


class HttpReplies:
    """Listens to the receipt poster (a reply follows its message's receipt)."""

    def __init__(self, config: SimulatorConfig, book: ReplyBook,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.book = book
        self.poster: BatchPoster[ReplyTicket] = BatchPoster(
            "replies", config.receipt_batch, retry_policy(config), self._encode, transport,
            sign=hmac_signer(config.callback_secret))
        self.injected = InjectedCounts()
        self.poster.listener = _Outcomes(book, self.injected)
        self._mo_url = config.mo_url or None
        self._last_callback: str | None = None  # of the latest message accepted with one
        self._receipt_delay_s = config.receipt_delay_ms / 1000
        self._urls: dict[str, str] = {}  # callback URL -> MO URL
        self._waiting: dict[str, tuple[str, ReplyTicket]] = {}  # gateway id -> reply
        self._warned = False

    def accepted(self, gateway_id: str, to: str, sender: str, text: str, status: str,
                 callback_url: str | None, now: float) -> None:
        """A message was accepted (not replayed): count it if the pair stopped or it is a
        confirmation, and decide whether its recipient replies."""
        if callback_url is not None:
            self._last_callback = callback_url
        book = self.book
        confirmation = text == book.confirmation_text
        if book.stopped or confirmation:
            book.accepted(to, sender, now, confirmation=confirmation)
        if status != DELIVERED or not book.active:
            return
        ticket = book.decide(to, sender)
        if ticket is None:
            return
        url = self._mo_url or (self._derived(callback_url) if callback_url else None)
        if url is None:
            self._unroutable(ticket)
        elif callback_url is None:
            self.poster.schedule(now + self._receipt_delay_s + book.delay(), url, ticket)
        else:
            self._waiting[gateway_id] = (url, ticket)

    def mo_url(self) -> str | None:
        """Where an injected MO goes: `--mo-url`, or /inbound beside the callback URL of the
        latest message accepted with one; None before any."""
        if self._mo_url is not None:
            return self._mo_url
        return self._derived(self._last_callback) if self._last_callback else None

    def inject(self, items: Sequence[MoRequest], now: float) -> str | None:
        """Post injected MO to the MO URL at once; returns that URL, None if none is known
        (nothing queued then)."""
        url = self.mo_url()
        if url is None:
            return None
        for item in items:
            ticket = (self.book.injected(item.source, item.destination, item.text)
                      or ReplyTicket(item.source, item.destination, is_reply=False,
                                     stop=False))
            ticket.text = item.text
            self.poster.schedule(now, url, ticket)
        self.injected.queued += len(items)
        return url

    def stats(self) -> dict[str, Any]:
        counts = self.injected
        pending = counts.queued - counts.acknowledged - counts.failed
        return {"mo_http": {**asdict(counts), "pending": pending}}

    # The receipt poster's listener.

    def first_posted(self, items: Sequence[Receipt]) -> None:
        pass

    def settled(self, items: Sequence[Receipt], acknowledged: bool) -> None:
        """Receipts went out (or were given up): their recipients may now reply."""
        waiting = self._waiting
        if not waiting:
            return
        now = trio.current_time()
        for gateway_id, _, _ in items:
            found = waiting.pop(gateway_id, None)
            if found is not None:
                self.poster.schedule(now + self.book.delay(), *found)

    def _derived(self, callback_url: str) -> str:
        url = self._urls.get(callback_url)
        if url is None:
            url = self._urls[callback_url] = mo_url_for(callback_url)
        return url

    def _unroutable(self, ticket: ReplyTicket) -> None:
        self.book.unroutable(ticket)
        if not self._warned:
            self._warned = True
            log.warning("replies: a message came without a callback URL and no --mo-url "
                        "is set: its reply cannot be sent (counted failed)")

    def _encode(self, tickets: list[ReplyTicket]) -> bytes:
        text = self.book.text
        return json.dumps([{"from": t.source, "to": t.line,
                            "text": text if t.text is None else t.text} for t in tickets],
                          separators=(",", ":"), ensure_ascii=False).encode()


class _Outcomes:
    """The reply poster's listener: tells the book what became of each reply (and counts
    the injected MO among them)."""

    def __init__(self, book: ReplyBook, injected: InjectedCounts) -> None:
        self._book = book
        self._injected = injected

    def first_posted(self, items: Sequence[ReplyTicket]) -> None:
        now = trio.current_time()
        for ticket in items:
            self._book.transmitted(ticket, now)

    def settled(self, items: Sequence[ReplyTicket], acknowledged: bool) -> None:
        now = trio.current_time()
        injected = 0
        for ticket in items:
            injected += not ticket.is_reply
            self._book.settled(ticket, acknowledged, now)
        if acknowledged:
            self._injected.acknowledged += injected
        else:
            self._injected.failed += injected
