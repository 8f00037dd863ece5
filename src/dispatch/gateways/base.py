"""The gateway interface and the outcome of a submission — pure.

An adapter translates its protocol's answers into exactly one of three outcomes per
message: accepted (with the gateway's message id), rejected (permanent, with the reason)
or retry (transient: throttled, overloaded, timed out, unknown fate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import trio


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message as the gateway sees it."""

    reference: str  # stable per campaign and recipient; also the idempotency key
    to: str  # E.164
    sender: str
    text: str
    # Ask for a delivery receipt. False for answers (HELP, confirmations): no receipt map
    # expects them, so their receipts would only pile up as orphans.
    receipt: bool = True
    # Parts to send spaced out (a line's rate, see lines.scheduler): the i-th part still
    # to send goes part_offsets[i] seconds after the first. Empty: all at once.
    part_offsets: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Accepted:
    gateway_id: str


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str


@dataclass(frozen=True, slots=True)
class Retry:
    reason: str
    # The gateway's own hint (Retry-After), when it gave one.
    after_s: float | None = None
    # False when the gateway certainly did not take the message and only asked us to wait
    # (throttled, queue full, no connection): such waits do not use up the attempt budget,
    # so a long throttling or outage delays messages instead of failing them.
    counts: bool = True
    # The gateway said "too fast" (SMPP ESME_RTHROTTLED or queue full, HTTP 429): counted
    # by gateway in the metrics, since on a line it means a rate was not respected. Not
    # part of equality: a throttled retry is the same decision, with a label for metrics.
    throttled: bool = field(default=False, compare=False)


SubmitResult = Accepted | Rejected | Retry


@dataclass(frozen=True, slots=True)
class Receipt:
    """A final delivery receipt, normalised by the adapter that received it."""

    gateway_id: str  # as the gateway gave it at submission (normalised the same way)
    code: str  # final state code: "d" delivered, "f" failed, "x" expired
    reason: str  # e.g. "receipt undeliverable, error 001"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message from a recipient (MO): a reply, a STOP, a question."""

    source: str  # the recipient's number, E.164 where the gateway allows
    destination: str  # our line (short code or number) it was sent to
    text: str
    gateway: str


class Inbound(Protocol):
    """Where adapters hand what gateways send us. Each call returns once it is recorded, so
    an adapter acknowledges to the gateway only what can no longer be lost."""

    async def receipts(self, receipts: Sequence[Receipt]) -> None: ...

    async def messages(self, messages: Sequence[InboundMessage]) -> None: ...


class Gateway(Protocol):
    """Sends messages; one result per message, in order. Never raises for a gateway fault."""

    name: str
    sender: str  # the sender identity (alphanumeric or number) messages go out with
    batch_size: int
    concurrency: int

    async def run(self, inbound: Inbound, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Background work (connections, keepalives, reading receipts) until cancelled;
        `task_status.started()` once ready to submit."""
        ...

    async def submit(self, messages: Sequence[Outbound]) -> list[SubmitResult]: ...

    def parts(self, text: str) -> int:
        """The submissions this text takes: what a line's rate is charged for it."""
        ...

    async def aclose(self) -> None: ...


def retry_all(count: int, retry: Retry) -> list[SubmitResult]:
    return [retry] * count
