"""The simulator's knobs: one frozen dataclass, validated on construction, and the
outcome-mix parser — pure (no Trio, no I/O).

The HTTP gateway's knobs come first; the SMSC's (`smpp_port` not None enables it) follow,
then the recipients who reply, then the voice side's and the Messages API's (always served
on the HTTP port).
Field names are the command's flag names, so an error names the flag to fix.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from dispatch.policy.answers import DEFAULT_OPTOUT_TEXT

DELIVERED: Final = "delivered"
UNDELIVERABLE: Final = "undeliverable"
EXPIRED: Final = "expired"
REJECTED: Final = "rejected"
# Receipt status -> error_code sent with it (SMPP-style three digits, "000" = no error).
ERROR_CODES: Final[dict[str, str]] = {
    DELIVERED: "000", UNDELIVERABLE: "001", EXPIRED: "002", REJECTED: "003",
}
OUTCOME_NAMES: Final = tuple(ERROR_CODES)
DEFAULT_OUTCOMES: Final[dict[str, float]] = {
    DELIVERED: 0.9, UNDELIVERABLE: 0.05, EXPIRED: 0.03, REJECTED: 0.02,
}
DEFAULT_OUTCOMES_TEXT: Final = ",".join(f"{k}={v}" for k, v in DEFAULT_OUTCOMES.items())

# What becomes of a call (see voice/plan.py for the final status each one gives).
HUMAN: Final = "human"
MACHINE: Final = "machine"
NO_ANSWER: Final = "no_answer"
BUSY: Final = "busy"
FAILED: Final = "failed"
INVALID: Final = "invalid"  # an unallocated number
CALL_OUTCOME_NAMES: Final = (HUMAN, MACHINE, NO_ANSWER, BUSY, FAILED, INVALID)
DEFAULT_CALL_OUTCOMES: Final[dict[str, float]] = {
    HUMAN: 0.55, MACHINE: 0.20, NO_ANSWER: 0.15, BUSY: 0.05, FAILED: 0.03, INVALID: 0.02,
}
DEFAULT_CALL_OUTCOMES_TEXT: Final = ",".join(
    f"{k}={v}" for k, v in DEFAULT_CALL_OUTCOMES.items())

# Receipt text dialects of the SMSC (see smsc/receipts.py).
RECEIPT_FORMATS: Final = ("standard", "long-dates", "capital-text", "hex-ids", "no-text")
ESME_RSYSERR: Final = 0x08
MAX_REPLY_TEXT: Final = 1_000


# What the lean SMSC does not do: each of these set is refused with --lean.
LEAN_OFF: Final = ("smpp_bind_rate", "throttle_rate", "smpp_latency_ms",
                   "smpp_latency_jitter_ms", "no_response", "smpp_error", "receipt_jitter_ms",
                   "mo_rate", "disconnect_after", "disconnect_every", "smpp_enquire_link_s",
                   "reply_share", "journal")


class SimulatorConfigError(ValueError):
    """A knob has a value the simulator cannot use; the message names the knob."""


@dataclass(frozen=True)
class Mix:
    """A kind of outcome mix: the flag that sets it (named in errors) and its outcomes."""

    flag: str
    names: Sequence[str]


SMS_MIX: Final = Mix("--outcomes", OUTCOME_NAMES)
CALL_MIX: Final = Mix("--call-outcomes", CALL_OUTCOME_NAMES)


@dataclass(frozen=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    http_port: int = 8480  # 0: any free port
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_429: float = 0.0
    error_5xx: float = 0.0
    lost_response: float = 0.0
    receipt_delay_ms: float = 200.0
    receipt_jitter_ms: float = 0.0
    outcomes: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_OUTCOMES))
    receipt_batch: int = 200
    seed: int | None = None
    journal: str = ""  # what it took and owes, kept across a kill (journal.py)
    # A failing callback is retried with doubling backoff: 10 attempts span about a minute.
    receipt_attempts: int = 10
    receipt_retry_base_ms: float = 250.0
    receipt_retry_cap_ms: float = 15_000.0
    # On SIGINT/SIGTERM the command sends what is still pending for at most this long.
    shutdown_grace_ms: float = 2_000.0
    # The SMSC (SMPP 3.4 server); None: not started.
    smpp_port: int | None = None  # 0: any free port
    accounts: Mapping[str, str] = field(default_factory=dict)  # system_id -> password
    smpp_window: int = 100  # outstanding requests per bind before ESME_RMSGQFUL
    smpp_bind_rate: float = 0.0  # submit_sm/s per bind; 0 = unlimited
    line_rate: float = 0.0  # submit_sm/s per source address; 0 = unlimited
    line_burst: float = 0.0  # bucket size of a line; 0 = one second of line_rate
    throttle_rate: float = 0.0  # probability of ESME_RTHROTTLED regardless of rates
    smpp_latency_ms: float = 0.0
    smpp_latency_jitter_ms: float = 0.0
    no_response: float = 0.0  # probability a submit_sm is silently ignored
    smpp_error: float = 0.0  # probability of answering smpp_error_status
    smpp_error_status: int = ESME_RSYSERR
    receipt_format: str = "standard"
    smpp_receipt_timeout_s: float = 10.0  # deliver_sm without a response: resent after this
    smpp_receipt_attempts: int = 10  # then counted failed
    receipts_pending_limit: int = 200_000  # deliver_sm held for want of a receiver, at most
    mo_rate: float = 0.0  # MO messages per second to bound receivers
    mo_text: str = "STOP"
    disconnect_after: int = 0  # close every connection once after N accepted submit_sm
    disconnect_every: int = 0  # ... and again after every N more
    smpp_enquire_link_s: float = 0.0  # server enquire_link period; 0 = never
    # The lean SMSC (smsc/lean/): answers, receipts and counts for load, no faults.
    smpp_lean: bool = False
    # Recipients who answer (both protocols; see replies.py).
    reply_share: float = 0.0  # share of distinct recipients who reply
    reply_text: str = "STOP"
    reply_delay_ms: float = 200.0  # after the message's receipt was sent
    reply_jitter_ms: float = 0.0
    mo_url: str = ""  # HTTP MO webhook; "": the callback URL with the path /inbound
    # Receipts and replies posted to the daemon are signed with it (dispatch.signing), as
    # the daemon's gateway setting inbound_secret expects; "": sent unsigned.
    callback_secret: str = ""
    # The text of an opt-out confirmation: one per (number, line) is counted in
    # `confirmations`, not in `sent_after_stop` (see replies.py).
    confirmation_text: str = DEFAULT_OPTOUT_TEXT
    # The voice side (simulator/voice/): the Calls API on the HTTP port.
    voice_accounts: Mapping[str, str] = field(default_factory=dict)  # sid -> token; {}: any
    call_outcomes: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_CALL_OUTCOMES))
    # Ring before the call is answered (or ends no-answer), then the connected time: each a
    # mean with a uniform jitter either side (at most the mean, so the mean holds).
    call_ring_ms: float = 5_000.0
    call_ring_jitter_ms: float = 0.0
    call_duration_ms: float = 30_000.0
    call_duration_jitter_ms: float = 0.0
    dtmf_rate: float = 0.0  # share of human-answered calls with a Gather where 9 is pressed
    voice_cps: float = 0.0  # calls placed per second per account; 0 = unlimited
    voice_idempotency: bool = True  # honour Idempotency-Key (False: a repeat places again)
    # The Messages API (simulator/twilio/), sharing the voice side's accounts: where a
    # recipient's message to a line is posted (the number's inbound webhook); "": beside
    # the latest StatusCallback (…/status -> …/inbound, dispatch's twilio routes).
    twilio_inbound_url: str = ""

    def __post_init__(self) -> None:
        _check_port("http_port", self.http_port)
        for name in ("error_429", "error_5xx", "lost_response"):
            _check_probability(name, getattr(self, name))
        for name in ("latency_ms", "latency_jitter_ms", "receipt_delay_ms", "receipt_jitter_ms",
                     "receipt_retry_base_ms", "receipt_retry_cap_ms", "shutdown_grace_ms"):
            _check_duration(name, getattr(self, name))
        _check_at_least("receipt_batch", self.receipt_batch, 1)
        _check_at_least("receipt_attempts", self.receipt_attempts, 1)
        object.__setattr__(self, "outcomes", normalise_outcomes(self.outcomes))
        self._check_smpp()
        self._check_replies()
        self._check_voice()

    def _check_smpp(self) -> None:
        if self.smpp_port is not None:
            _check_port("smpp_port", self.smpp_port)
        for name in ("throttle_rate", "no_response", "smpp_error"):
            _check_probability(name, getattr(self, name))
        for name in ("smpp_bind_rate", "line_rate", "line_burst", "smpp_latency_ms",
                     "smpp_latency_jitter_ms", "smpp_receipt_timeout_s", "mo_rate",
                     "smpp_enquire_link_s"):
            _check_duration(name, getattr(self, name))
        for name, minimum in (("smpp_window", 1), ("smpp_receipt_attempts", 1),
                              ("receipts_pending_limit", 1), ("disconnect_after", 0),
                              ("disconnect_every", 0)):
            _check_at_least(name, getattr(self, name), minimum)
        if not 0 <= self.smpp_error_status <= 0xFFFFFFFF:
            raise SimulatorConfigError(
                f"--smpp-error-status: must fit 32 bits, got {self.smpp_error_status}")
        if self.receipt_format not in RECEIPT_FORMATS:
            raise SimulatorConfigError(f"--receipt-format: unknown format "
                                       f"{self.receipt_format!r} (known: "
                                       f"{', '.join(RECEIPT_FORMATS)})")
        _check_accounts(self.accounts)
        if self.smpp_lean:
            self._check_lean()

    def _check_lean(self) -> None:
        if self.smpp_port is None:
            raise SimulatorConfigError("--lean: needs --smpp-port (it is a mode of the SMSC)")
        if self.receipt_format != "standard":
            raise SimulatorConfigError("--lean: sends standard receipts only, not "
                                       f"--receipt-format {self.receipt_format}")
        for name in LEAN_OFF:
            if getattr(self, name):
                raise SimulatorConfigError(
                    f"--lean: {_option(name)} needs the full SMSC (lean mode has no faults, "
                    "latency, bind rates, MO, replies, receipt jitter, server enquire_link "
                    "or journal)")

    def _check_replies(self) -> None:
        _check_probability("reply_share", self.reply_share)
        for name in ("reply_delay_ms", "reply_jitter_ms"):
            _check_duration(name, getattr(self, name))
        if not 1 <= len(self.reply_text) <= MAX_REPLY_TEXT:
            raise SimulatorConfigError(
                f"--reply-text: must be 1..{MAX_REPLY_TEXT} characters, got "
                f"{len(self.reply_text)}")
        for name in ("mo_url", "twilio_inbound_url"):
            url = getattr(self, name)
            if url and not url.startswith(("http://", "https://")):
                raise SimulatorConfigError(f"{_option(name)}: must be an http(s) URL, got "
                                           f"{url!r}")

    def _check_voice(self) -> None:
        _check_probability("dtmf_rate", self.dtmf_rate)
        for name in ("call_ring_ms", "call_duration_ms", "voice_cps"):
            _check_duration(name, getattr(self, name))
        for mean, jitter in (("call_ring_ms", "call_ring_jitter_ms"),
                             ("call_duration_ms", "call_duration_jitter_ms")):
            _check_duration(jitter, getattr(self, jitter))
            if getattr(self, jitter) > getattr(self, mean):
                raise SimulatorConfigError(
                    f"{_option(jitter)}: must be at most {_option(mean)} "
                    f"({getattr(self, mean)}), got {getattr(self, jitter)}")
        for sid, token in self.voice_accounts.items():
            if not sid or not token or ":" in sid:
                raise SimulatorConfigError(
                    f"--voice-account: {sid!r}: the account SID and the token must not be "
                    "empty, and the SID holds no ':'")
        object.__setattr__(self, "call_outcomes",
                           normalise_outcomes(self.call_outcomes, CALL_MIX))


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_port(name: str, port: int) -> None:
    if not 0 <= port <= 65535:
        raise SimulatorConfigError(f"{_option(name)}: must be 0..65535, got {port}")


def _check_accounts(accounts: Mapping[str, str]) -> None:
    # The bind PDU's C-strings: system_id holds 15 octets, password 8 (a NUL ends each).
    for system_id, password in accounts.items():
        if not 0 < len(system_id) <= 15 or len(password) > 8:
            raise SimulatorConfigError(
                f"--account: {system_id!r}: system_id must be 1..15 characters and the "
                "password at most 8")


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:  # also false for NaN
        raise SimulatorConfigError(f"{_option(name)}: must be a probability in 0..1, got {value}")


def _check_duration(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise SimulatorConfigError(f"{_option(name)}: must be a finite number >= 0, got {value}")


def _check_at_least(name: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise SimulatorConfigError(f"{_option(name)}: must be at least {minimum}, got {value}")


def parse_outcome_mix(text: str, mix: Mix = SMS_MIX) -> dict[str, float]:
    """`delivered=0.9,rejected=0.1` -> normalised weights; raises SimulatorConfigError
    naming `mix.flag`."""
    weights: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        name, weight = _parse_outcome_item(item, mix.flag)
        if name in weights:
            raise SimulatorConfigError(f"{mix.flag}: {name!r} given twice")
        weights[name] = weight
    return normalise_outcomes(weights, mix)


def _parse_outcome_item(item: str, flag: str) -> tuple[str, float]:
    name, sep, number = (part.strip() for part in item.partition("="))
    if not sep or not name:
        raise SimulatorConfigError(f"{flag}: expected NAME=WEIGHT, got {item!r}")
    try:
        return name, float(number)
    except ValueError:
        raise SimulatorConfigError(
            f"{flag}: weight of {name!r} is not a number: {number!r}") from None


def normalise_outcomes(weights: Mapping[str, float], mix: Mix = SMS_MIX) -> dict[str, float]:
    """Check names and weights, return weights scaled to sum 1 (known names only)."""
    for name, weight in weights.items():
        if name not in mix.names:
            raise SimulatorConfigError(f"{mix.flag}: unknown outcome {name!r} "
                                       f"(known: {', '.join(mix.names)})")
        if not (math.isfinite(weight) and weight >= 0):
            raise SimulatorConfigError(
                f"{mix.flag}: weight of {name!r} must be a finite number >= 0, got {weight}")
    total = sum(weights.values())
    if total <= 0:
        raise SimulatorConfigError(f"{mix.flag}: the weights must sum to more than 0")
    return {name: weight / total for name, weight in weights.items()}


class OutcomePicker:
    """Maps a uniform draw in [0, 1) to an outcome name: one bisect per message."""

    def __init__(self, outcomes: Mapping[str, float]) -> None:
        positive = [(name, weight) for name, weight in outcomes.items() if weight > 0]
        self._names = [name for name, _ in positive]
        self._bounds: list[float] = []
        running = 0.0
        for _, weight in positive:
            running += weight
            self._bounds.append(running)
        self._last = len(self._names) - 1

    def pick(self, draw: float) -> str:
        # min(): float rounding can leave the last bound a hair under 1.0.
        return self._names[min(bisect_right(self._bounds, draw), self._last)]
