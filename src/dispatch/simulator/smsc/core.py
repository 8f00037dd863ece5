"""The SMSC's decisions on what clients send, without sockets or Trio — pure (times are
passed in): bind authentication, submit_sm acceptance into the shared ledger, receipt
scheduling, MO generation, the forced-disconnect trigger.

A connection (connection.py) feeds it the PDUs its Session decoded and sends what it
returns; the receipts and MO go through `deliveries`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Final

from dispatch.simulator.config import DELIVERED, OutcomePicker, SimulatorConfig
from dispatch.simulator.ledger import Ledger
from dispatch.simulator.replies import ReplyBook
from dispatch.simulator.smsc.delivery import Deliveries, Delivery, Outlet
from dispatch.simulator.smsc.messages import MessageBook, preview
from dispatch.simulator.smsc.policy import SubmitPolicy, TokenBucket, Verdict
from dispatch.simulator.smsc.receipts import ReceiptJob, response_id
from dispatch.simulator.smsc.replies import SmscReplies
from dispatch.simulator.smsc.stats import SmscCounters
from dispatch.smpp.constants import CommandId, Status
from dispatch.smpp.pdu import Bind, BindResp, SubmitSm, SubmitSmResp, response_to
from dispatch.smpp.udh import Content, message_content

SMSC_SYSTEM_ID: Final = "dispatchsim"
SEEN_ROUTES: Final = 10_000  # (system_id, handset, line) kept to send MO to
REGISTERED_DELIVERY_MASK: Final = 0x03  # 0 none, 1 always, 2 on failure only
ON_FAILURE: Final = 2
UCS2_CODING: Final = 8  # data_coding of a UCS-2 part, counted apart (ucs2_parts)

_REFUSALS: Final[dict[Verdict, tuple[int, str]]] = {
    Verdict.LINE_THROTTLED: (Status.ESME_RTHROTTLED, "throttled"),
    Verdict.BIND_THROTTLED: (Status.ESME_RTHROTTLED, "throttled"),
    Verdict.THROTTLED: (Status.ESME_RTHROTTLED, "throttled"),
    Verdict.QUEUE_FULL: (Status.ESME_RMSGQFUL, "queue_full"),
}


@dataclass(slots=True)
class BindState:
    system_id: str
    transmits: bool
    receives: bool
    bucket: TokenBucket | None  # bind rate limit


class SmscCore:
    def __init__(self, config: SimulatorConfig, ledger: Ledger,
                 outcome_counts: MutableMapping[str, int], rng: random.Random,
                 replies: ReplyBook | None = None) -> None:
        self.config = config
        self.ledger = ledger
        self.counters = SmscCounters()
        self.policy = SubmitPolicy(config, rng)
        self.deliveries = Deliveries(config, self.counters)
        self.replies = SmscReplies(config, replies or ReplyBook(config), self.deliveries)
        self._rng = rng
        self._outcomes = OutcomePicker(config.outcomes)
        self._outcome_counts = outcome_counts
        self.book = MessageBook(ledger, self._pick_outcome)
        self._receipt_delay_s = config.receipt_delay_ms / 1000
        self._receipt_jitter_s = config.receipt_jitter_ms / 1000
        self._routes: list[tuple[str, str, str]] = []
        self._track_routes = config.mo_rate > 0
        self._next_disconnect = config.disconnect_after or config.disconnect_every
        self.on_disconnect: Callable[[], None] = lambda: None  # set by the service

    # Binds.

    def bind(self, pdu: Bind, now: float) -> tuple[BindResp, BindState | None]:
        """The bind's response, and the bind's state if it succeeded."""
        status = authenticate(self.config.accounts, pdu.system_id, pdu.password)
        response = response_to(pdu, status)
        assert isinstance(response, BindResp)
        response.system_id = SMSC_SYSTEM_ID
        if status != Status.ESME_ROK:
            self.counters.bind_failures += 1
            return response, None
        self.counters.binds += 1
        command = pdu.command_id
        return response, BindState(
            pdu.system_id, transmits=command != CommandId.BIND_RECEIVER,
            receives=command != CommandId.BIND_TRANSMITTER, bucket=self.policy.bind_bucket(now))

    # Submissions: the hot path.

    def submit(self, pdu: SubmitSm, bind: BindState, via: Outlet | None, outstanding: int,
               now: float) -> SubmitSmResp | None:
        """The submit_sm_resp to send, or None to leave the request unanswered."""
        counters = self.counters
        counters.submit_sm += 1
        verdict = self.policy.decide(pdu.source_addr, bind.bucket, outstanding, now)
        if verdict is not Verdict.ACCEPT:
            return self._refuse(pdu, verdict)
        if not pdu.destination_addr:
            counters.rejected_invalid += 1
            return SubmitSmResp(pdu.sequence_number, Status.ESME_RINVDSTADR)
        message_id = response_id(self.ledger.next_id(), self.config.receipt_format)
        content = message_content(pdu.esm_class, pdu.short_message, pdu.tlvs)
        acceptance = self.book.accept(pdu, content)
        counters.parts += 1
        if pdu.data_coding == UCS2_CODING:
            counters.ucs2_parts += 1
        receipt = None
        if pdu.registered_delivery & REGISTERED_DELIVERY_MASK:
            receipt = self._schedule_receipt(pdu, content.payload, message_id,
                                             acceptance.outcome, bind.system_id, via, now)
        self.replies.accepted(pdu, acceptance, _last_part(content), bind.system_id, receipt,
                              now)
        if self._track_routes:
            self._remember_route(bind.system_id, pdu)
        if self._next_disconnect and counters.parts >= self._next_disconnect:
            self._disconnect_due()
        return SubmitSmResp(pdu.sequence_number, Status.ESME_ROK, message_id)

    def _refuse(self, pdu: SubmitSm, verdict: Verdict) -> SubmitSmResp | None:
        counters = self.counters
        if verdict is Verdict.IGNORE:
            counters.no_response += 1
            return None
        if verdict is Verdict.ERROR:
            counters.errors_injected += 1
            return SubmitSmResp(pdu.sequence_number, self.config.smpp_error_status)
        status, counter = _REFUSALS[verdict]
        setattr(counters, counter, getattr(counters, counter) + 1)
        if verdict is Verdict.LINE_THROTTLED:
            counters.line_violations += 1
        return SubmitSmResp(pdu.sequence_number, status)

    def _pick_outcome(self) -> str:
        outcome = self._outcomes.pick(self._rng.random())
        self._outcome_counts[outcome] = self._outcome_counts.get(outcome, 0) + 1
        return outcome

    def _schedule_receipt(self, pdu: SubmitSm, payload: bytes, message_id: str, outcome: str,
                          system_id: str, via: Outlet | None, now: float) -> Delivery | None:
        if pdu.registered_delivery & REGISTERED_DELIVERY_MASK == ON_FAILURE \
                and outcome == DELIVERED:
            return None
        job = ReceiptJob(message_id, outcome, time.time(), preview(payload, pdu.data_coding),
                         (pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr,
                          pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr))
        if self.ledger.journal is not None:  # owed, even after a kill
            self.ledger.journal.smpp_receipt(system_id, job)
        return self.deliveries.schedule_receipt(now + self._receipt_delay(), system_id, job,
                                                via)

    def _receipt_delay(self) -> float:
        if self._receipt_jitter_s:
            return self._receipt_delay_s + self._rng.uniform(0, self._receipt_jitter_s)
        return self._receipt_delay_s

    def _disconnect_due(self) -> None:
        every = self.config.disconnect_every
        self._next_disconnect = self._next_disconnect + every if every else 0
        self.on_disconnect()

    # MO.

    def _remember_route(self, system_id: str, pdu: SubmitSm) -> None:
        route = (system_id, pdu.destination_addr, pdu.source_addr)
        if len(self._routes) < SEEN_ROUTES:
            self._routes.append(route)
        else:
            self._routes[self._rng.randrange(SEEN_ROUTES)] = route

    def send_mo(self, system_id: str, source: str, destination: str, text: str,
                now: float) -> int:
        """Queue an MO message for the receivers of `system_id`; returns its part count."""
        return self.replies.send_mo(system_id, source, destination, text, now)

    def random_mo(self, count: int, now: float) -> int:
        """`count` MO with the configured text, from numbers seen as destinations to the
        lines that wrote to them; returns how many were queued (none before any submit)."""
        if not self._routes:
            return 0
        for _ in range(count):
            system_id, handset, line = self._rng.choice(self._routes)
            self.send_mo(system_id, handset, line, self.config.mo_text, now)
        return count


def authenticate(accounts: Mapping[str, str], system_id: str, password: str) -> int:
    """A bind's command_status: any bind is accepted when there are no accounts."""
    if not accounts:
        return Status.ESME_ROK
    expected = accounts.get(system_id)
    if expected is None:
        return Status.ESME_RINVSYSID
    return Status.ESME_ROK if password == expected else Status.ESME_RINVPASWD


def _last_part(content: Content) -> bool:
    """True for a message in one part, or the last part of a concatenated one."""
    concat = content.concat
    return concat is None or concat.total < 2 or concat.sequence == concat.total
