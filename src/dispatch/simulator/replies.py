"""Recipients who answer (MO): who replies, once per line, and what came of it — pure.

Who: a recipient replies when a keyed hash of their number (its digits, without "+"),
keyed by the seed, falls under `reply_share`: the same numbers reply whatever the order of
the messages, over HTTP and SMPP alike (`ReplyDecider`, which tests use to predict them);
without a seed the key is random. Only a recipient whose message was delivered replies (an
undelivered SMS cannot be answered), once per line (sender address) it received from.

Bookkeeping (`ReplyBook`): replies decided, sent (transmitted at least once), acknowledged
(HTTP 2xx, deliver_sm_resp ESME_ROK for every part) and failed (given up); pending is what
is neither acknowledged nor failed. For each (number, line) whose opt-out the daemon
acknowledged it keeps the time of that acknowledgement, and `sent_after_stop` counts the
messages accepted for such a pair afterwards (`sent_after_stop_max_ms`: the longest time
between an acknowledgement and such a message, to tell a race from a STOP ignored).
Every opt-out MO the simulator delivers counts there: the replies (when their text is an
opt-out, per dispatch.policy.keywords), and the injected ones (POST /mo over SMPP or HTTP,
--mo-rate over SMPP). Memory: one entry per reply or opt-out MO, none per message.

Confirmations: the rules allow one confirmation per opt-out, with no campaign content. A
message whose text is exactly `confirmation_text` (the daemon's confirmation; the flag says
which when the daemon's is configured otherwise) is counted once per (number, line) in
`confirmations`, whenever it comes, and not in `sent_after_stop`; a second one to the same
pair, like any other message after the STOP, is counted in `sent_after_stop`. Nothing marks
a confirmation on the wire (no operator would carry such a mark): the simulator recognises
the text, as an auditor reading the messages would.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from typing import Any, Final

from dispatch.policy.keywords import Intent, classify
from dispatch.simulator.config import SimulatorConfig
from dispatch.text import DATA_CODING, GSM7, UCS2, choose_encoding, encode

_SCALE: Final = float(1 << 64)


def pair_key(number: str, line: str) -> tuple[str, str]:
    """(number digits, line): a number written with or without "+" is one recipient."""
    return number.removeprefix("+"), line


class ReplyDecider:
    """Whether the owner of a number replies: a keyed hash under the share."""

    def __init__(self, share: float, seed: int | None) -> None:
        self.share = share
        self._key = (b"dispatch-replies-%d" % seed if seed is not None
                     else secrets.token_bytes(32))

    def replies(self, number: str) -> bool:
        if self.share <= 0:
            return False
        digest = hashlib.blake2b(number.removeprefix("+").encode(), key=self._key,
                                 digest_size=8).digest()
        return int.from_bytes(digest, "big") / _SCALE < self.share


class ReplyTicket:
    """One MO on its way to the daemon; for SMPP, `route` and `system_id` say where."""

    __slots__ = ("is_reply", "key", "line", "parts_left", "route", "sent", "sent_at",
                 "settled", "source", "stop", "system_id", "text")

    def __init__(self, source: str, line: str, *, is_reply: bool, stop: bool) -> None:
        self.source = source  # the recipient, as the MO's "from"
        self.line = line  # the sender address the recipient answers
        self.key = pair_key(source, line)
        self.is_reply = is_reply  # decided here (counted in `replies`), not injected
        self.stop = stop  # its text is an opt-out
        self.parts_left = 1
        self.sent = False
        self.sent_at = 0.0  # when its first part first went out (trio clock)
        self.settled = False
        self.route: tuple[int, int, str, int, int, str] | None = None
        self.system_id = ""
        self.text: str | None = None  # an injected MO's own text (None: the reply text)


class ReplyBook:
    def __init__(self, config: SimulatorConfig) -> None:
        self.decider = ReplyDecider(config.reply_share, config.seed)
        self.text = config.reply_text
        self.text_is_stop = classify(config.reply_text) is Intent.OPT_OUT
        self._delay_s = config.reply_delay_ms / 1000
        self._jitter_s = config.reply_jitter_ms / 1000
        seed = None if config.seed is None else f"replies-{config.seed}"
        self._rng = random.Random(seed)  # its own stream: replies shift no other draw
        self._replied: set[tuple[str, str]] = set()
        self.stopped: dict[tuple[str, str], float] = {}  # pair -> trio time of the ack
        # Per opt-out MO acknowledged: (first sent, seconds until its acknowledgement). A
        # daemon acknowledges once the opt-out is recorded, so this bounds that delay.
        self.stop_acks: list[tuple[float, float]] = []
        self.sent_after_stop = 0
        self.longest_after_stop = 0.0  # seconds between a STOP's ack and a later message
        self.confirmation_text = config.confirmation_text
        # The confirmation as a single-part submit_sm carries it: data_coding -> payload.
        self.confirmation_payloads = _payloads(config.confirmation_text)
        self._confirmed: set[tuple[str, str]] = set()
        self.confirmations = 0
        self.decided = self.sent = self.acknowledged = self.failed = 0

    @property
    def active(self) -> bool:
        return self.decider.share > 0

    # Deciding.

    def decide(self, source: str, line: str) -> ReplyTicket | None:
        """A ticket if the recipient `source` replies to `line` now (first time only)."""
        key = pair_key(source, line)
        if key in self._replied or not self.decider.replies(key[0]):
            return None
        self._replied.add(key)
        self.decided += 1
        return ReplyTicket(source, line, is_reply=True, stop=self.text_is_stop)

    def injected(self, source: str, line: str, text: str) -> ReplyTicket | None:
        """A ticket for an MO injected by hand or at a rate, if it is an opt-out."""
        if classify(text) is not Intent.OPT_OUT:
            return None  # nothing to watch: only an opt-out makes later messages wrong
        return ReplyTicket(source, line, is_reply=False, stop=True)

    def delay(self) -> float:
        """Seconds between the receipt going out and the reply."""
        if self._jitter_s:
            return self._delay_s + self._rng.uniform(0, self._jitter_s)
        return self._delay_s

    # What became of them.

    def accepted(self, number: str, line: str, now: float, *,
                 confirmation: bool = False) -> None:
        """A message for `number` from `line` was accepted (call only if `stopped`, or for
        a `confirmation`: its text is the confirmation text)."""
        key = pair_key(number, line)
        if confirmation and key not in self._confirmed:
            self._confirmed.add(key)
            self.confirmations += 1
            return
        stopped_at = self.stopped.get(key)
        if stopped_at is not None:
            self.sent_after_stop += 1
            self.longest_after_stop = max(self.longest_after_stop, now - stopped_at)

    def transmitted(self, ticket: ReplyTicket, now: float) -> None:
        if not ticket.sent:
            ticket.sent, ticket.sent_at = True, now
            self.sent += ticket.is_reply

    def part_settled(self, ticket: ReplyTicket, acknowledged: bool, now: float) -> None:
        """One part acknowledged or given up; the ticket settles with its last part, or
        with its first part given up."""
        ticket.parts_left -= 1
        if not acknowledged or ticket.parts_left <= 0:
            self.settled(ticket, acknowledged, now)

    def settled(self, ticket: ReplyTicket, acknowledged: bool, now: float) -> None:
        if ticket.settled:
            return
        ticket.settled = True
        if not acknowledged:
            self.failed += ticket.is_reply
            return
        self.acknowledged += ticket.is_reply
        if ticket.stop:
            self.stopped.setdefault(ticket.key, now)
            if ticket.sent:
                self.stop_acks.append((ticket.sent_at, now - ticket.sent_at))

    def unroutable(self, ticket: ReplyTicket) -> None:
        """Nowhere to send it (no --mo-url and no callback URL): counted failed."""
        self.settled(ticket, False, 0.0)

    def stats(self) -> dict[str, Any]:
        pending = self.decided - self.acknowledged - self.failed
        return {"replies": {"decided": self.decided, "sent": self.sent,
                            "acknowledged": self.acknowledged, "failed": self.failed,
                            "pending": pending},
                "stops_acknowledged": len(self.stopped),
                "sent_after_stop": self.sent_after_stop,
                "confirmations": self.confirmations,
                "sent_after_stop_max_ms": round(self.longest_after_stop * 1000, 1),
                "stop_ack_ms": _quantiles_ms([delay for _, delay in self.stop_acks])}


def _quantiles_ms(seconds: list[float]) -> dict[str, float | int]:
    """p50, p99 and max in milliseconds (0 when empty), and the count."""
    ordered = sorted(seconds)
    if not ordered:
        return {"p50": 0, "p99": 0, "max": 0, "count": 0}

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 1)

    return {"p50": at(0.5), "p99": at(0.99), "max": round(ordered[-1] * 1000, 1),
            "count": len(ordered)}


def _payloads(text: str) -> dict[int, bytes]:
    """`text` encoded as a daemon would send it (its own encoding), and in UCS-2."""
    payloads = {DATA_CODING[UCS2]: encode(text, UCS2)}
    if choose_encoding(text) == GSM7:
        payloads[DATA_CODING[GSM7]] = encode(text, GSM7)
    return payloads
