"""The words every layer shares about a message — pure, a leaf: imports nothing of the
project and no I/O library.

- A message's state, and its one-letter code as Redis stores it (`StateCode`; the Lua
  scripts' prelude, store/lua/_states.lua, holds the same table: a test ties them).
- What a gateway adapter makes of a submission (`Accepted`, `Rejected`, `Retry`), of a
  delivery receipt (`Receipt`), of a message from a recipient (`InboundMessage`), of the end
  of a call (`CallEnded`) and of a key pressed during one (`Keypress`), whatever its
  protocol.
- What the daemon records of a submission (`Outcome`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final, NamedTuple


class StateCode(enum.StrEnum):
    """A message's state as stored in the campaign's state hash: one byte per message
    keeps Redis memory per message small. `state` is its name (`dispatch status`, the
    counts hash)."""

    QUEUED = "q"
    IN_FLIGHT = "i"
    SUBMITTED = "s"
    DELIVERED = "d"
    FAILED = "f"
    EXPIRED = "x"
    SUPPRESSED = "p"  # the recipient opted out: never sent
    CANCELLED = "c"  # its campaign was cancelled before it was sent

    @property
    def state(self) -> str:
        return self.name.lower()

    @property
    def final(self) -> bool:
        """A state the message never leaves."""
        return self in _FINAL_CODES


_FINAL_CODES: Final = frozenset({StateCode.DELIVERED, StateCode.FAILED, StateCode.EXPIRED,
                                 StateCode.SUPPRESSED, StateCode.CANCELLED})

QUEUED: Final = StateCode.QUEUED.state
IN_FLIGHT: Final = StateCode.IN_FLIGHT.state
SUBMITTED: Final = StateCode.SUBMITTED.state
DELIVERED: Final = StateCode.DELIVERED.state
FAILED: Final = StateCode.FAILED.state
EXPIRED: Final = StateCode.EXPIRED.state
SUPPRESSED: Final = StateCode.SUPPRESSED.state
CANCELLED: Final = StateCode.CANCELLED.state

STATE_CODES: Final[dict[str, str]] = {code.state: code.value for code in StateCode}
STATES_BY_CODE: Final[dict[str, str]] = {code.value: code.state for code in StateCode}
FINAL_STATES: Final = frozenset(code.state for code in _FINAL_CODES)
# Order in which `status` shows states.
ALL_STATES: Final = tuple(code.state for code in StateCode)


@dataclass(frozen=True, slots=True)
class CallScript:
    """What a call plays: the legal preamble first (who calls, and how to object: "tapez 9
    pour ne plus être appelé"), then the message, a recording or a text read aloud."""

    preamble: str
    audio_url: str = ""
    say: str = ""


class Outbound(NamedTuple):
    """One message as the gateway sees it: an SMS (`text`), or a call (`script`). A tuple,
    as Outcome: one is made for each message sent, and a frozen dataclass of this size
    costs more than twice as much to make."""

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
    script: CallScript | None = None  # a call's script; None: an SMS


# An adapter translates its protocol's answers into exactly one of three results per
# message: accepted (with the gateway's message id), rejected (permanent, with the reason)
# or retry (transient: throttled, overloaded, timed out, unknown fate).

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
    # The gateway certainly did not take the message: no connection or bind to send on, or
    # an answer that refuses it (throttled, busy, an error status). A route (gateways.route)
    # may then send it through another gateway without risking a second SMS. False: its
    # fate is unknown (no answer in time, connection lost after sending), or partly taken
    # (a part of a long SMS accepted): it may only be retried where it went.
    unsent: bool = field(default=False, compare=False)


SubmitResult = Accepted | Rejected | Retry


def retry_all(count: int, retry: Retry) -> list[SubmitResult]:
    return [retry] * count


class Receipt(NamedTuple):
    """A final delivery receipt, normalised by the adapter that received it. A tuple (see
    Outbound): one is made for each message delivered."""

    gateway_id: str  # as the gateway gave it at submission (normalised the same way)
    code: StateCode  # DELIVERED, FAILED or EXPIRED
    reason: str  # e.g. "receipt undeliverable, error 001"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message from a recipient (MO): a reply, a STOP, a question."""

    source: str  # the recipient's number, E.164 where the gateway allows
    destination: str  # our line (short code or number) it was sent to
    text: str
    gateway: str


class CallOutcome(enum.StrEnum):
    """How a call ended, as the voice gateway reads its final status."""

    HUMAN = "human"  # answered by a person
    MACHINE = "machine"  # answered by an answering machine
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"  # refused by the network: unallocated number, congestion...
    UNKNOWN = "unknown"  # cancelled, or no final status in time: fate unknown


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The final status of a call."""

    gateway_id: str  # the call's id, as the gateway answered its placement
    outcome: CallOutcome
    duration_s: float  # connected time (0 when nobody answered)
    reason: str  # the gateway's words, e.g. "busy", "failed (SIP 404)"


@dataclass(frozen=True, slots=True)
class Keypress:
    """Digits a recipient pressed during a call (9: do not call me again)."""

    gateway_id: str  # the call's id
    source: str  # the recipient's number
    destination: str  # the line the call came from
    digits: str
    gateway: str


class Outcome(NamedTuple):
    """What became of one message the daemon held: SUBMITTED with the gateway's id, or a
    final code (FAILED, EXPIRED, SUPPRESSED, CANCELLED) with the reason. A tuple (see
    Outbound)."""

    entry_id: bytes
    number: str
    code: StateCode
    detail: str
