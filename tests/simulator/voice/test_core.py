"""The voice book's decisions with times passed in and a sink that records the posts —
pure: line concurrency, calls per second, idempotency, the moments of a call, the 9."""

from __future__ import annotations

import math
import random
from typing import Any
from urllib.parse import parse_qs

import pytest

from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.voice.call import GATHER, Callback, encode_callback
from dispatch.simulator.voice.core import VoiceCore
from dispatch.simulator.voice.request import (
    ANSWERED,
    COMPLETED,
    INITIATED,
    MACHINE_DETECTION,
    RINGING,
    CallRequest,
    Refusal,
)

STATUS_URL = "http://cb/voice/status"
GATHER_URL = "http://cb/voice/gather"


class Sink:
    def __init__(self) -> None:
        self.posts: list[tuple[float, str, Callback]] = []

    def schedule(self, due: float, url: str, item: Callback) -> None:
        self.posts.append((due, url, item))

    def fields(self) -> list[dict[str, str]]:
        return [{k: v[0] for k, v in parse_qs(encode_callback([item]).decode()).items()}
                for _, _, item in self.posts]


def core(sink: Sink, **knobs: Any) -> VoiceCore:
    knobs = {"call_outcomes": {"human": 1}, "call_ring_ms": 1000, "call_duration_ms": 5000,
             **knobs}
    return VoiceCore(SimulatorConfig(**knobs), random.Random(1), sink, id_prefix="00000000")


def request(line: str = "+33100000001", to: str = "+33612345678", *,
            events: int = COMPLETED | MACHINE_DETECTION, action: str | None = GATHER_URL,
            callback: str | None = STATUS_URL, timeout_s: float | None = None
            ) -> CallRequest:
    return CallRequest(to, line, callback, events, action, timeout_s)


def refused(voice: VoiceCore, call: CallRequest, key: str | None, now: float) -> int:
    with pytest.raises(Refusal) as caught:
        voice.place("AC1", call, key, now)
    return caught.value.code


def test_a_placed_call_answers_201_and_ends_with_one_completed_callback() -> None:
    sink = Sink()
    voice = core(sink)
    status, answer = voice.place("AC1", request(), "m1/1", 0.0)
    assert status == 201
    assert answer == {"sid": "CA00000000" + "0" * 23 + "1", "status": "queued",
                      "to": "+33612345678", "from": "+33100000001"}
    assert len(answer["sid"]) == 34
    assert (voice.counters.placed, voice.counters.active, voice.next_due()) == (1, 1, 6.0)
    voice.advance(5.99)
    assert sink.posts == []
    voice.advance(6.0)
    assert [(due, url) for due, url, _ in sink.posts] == [(6.0, STATUS_URL)]
    assert sink.fields() == [{
        "CallSid": answer["sid"], "AccountSid": "AC1", "From": "+33100000001",
        "To": "+33612345678", "CallStatus": "completed", "SequenceNumber": "0",
        "Direction": "outbound-api", "ApiVersion": "2010-04-01", "AnsweredBy": "human",
        "CallDuration": "5"}]
    assert (voice.counters.active, voice.counters.outcomes["human"]) == (0, 1)


def test_every_event_asked_is_posted_in_sequence() -> None:
    sink = Sink()
    voice = core(sink)
    voice.place("AC1", request(events=INITIATED | RINGING | ANSWERED | COMPLETED), None, 0.0)
    voice.advance(1.0)
    voice.advance(6.0)
    got = [(due, f["CallStatus"], f["SequenceNumber"]) for (due, _, _), f
           in zip(sink.posts, sink.fields(), strict=True)]
    assert got == [(0.0, "initiated", "0"), (0.0, "ringing", "1"), (1.0, "in-progress", "2"),
                   (6.0, "completed", "3")]
    assert "AnsweredBy" not in sink.fields()[-1]  # no MachineDetection asked


def test_a_busy_call_does_not_ring_and_no_callback_url_posts_nothing() -> None:
    sink = Sink()
    voice = core(sink, call_outcomes={"busy": 1})
    voice.place("AC1", request(events=INITIATED | RINGING | COMPLETED), None, 0.0)
    voice.place("AC1", request("L2", callback=None), None, 0.0)
    voice.advance(0.1)
    assert [f["CallStatus"] for f in sink.fields()] == ["initiated", "busy"]
    assert voice.counters.outcomes["busy"] == 2 and voice.counters.active == 0


def test_a_second_call_on_a_busy_line_is_refused_until_the_first_ends() -> None:
    voice = core(Sink())
    voice.place("AC1", request("L1"), None, 0.0)
    assert refused(voice, request("L1", "+33699999999"), None, 1.0) == 20409
    voice.place("AC1", request("L2"), None, 1.0)  # another line is free
    assert voice.counters.line_violations == 1
    voice.advance(6.0)  # the first call ends
    assert voice.place("AC1", request("L1"), None, 6.0)[0] == 201
    assert (voice.counters.placed, voice.counters.line_violations) == (3, 1)


def test_calls_per_second_per_account_with_a_one_second_burst() -> None:
    voice = core(Sink(), voice_cps=2)
    for line in ("L1", "L2"):
        voice.place("AC1", request(line), None, 0.0)
    assert refused(voice, request("L3"), None, 0.0) == 20429
    voice.place("AC2", request("L4"), None, 0.0)  # another account has its own bucket
    voice.place("AC1", request("L5"), None, 0.5)  # one token back after half a second
    assert refused(voice, request("L6"), None, 0.5) == 20429
    assert (voice.counters.placed, voice.counters.throttled) == (4, 2)


def test_a_repeated_key_is_answered_with_the_first_call_and_places_nothing() -> None:
    voice = core(Sink())
    first = voice.place("AC1", request("L1"), "m1/1", 0.0)
    # The same key from another line while the first call is in progress: no 409.
    again = voice.place("AC1", request("L2", "+4915112345678"), "m1/1", 0.5)
    assert again == (200, first[1])
    voice.advance(6.0)
    assert voice.place("AC1", request("L9"), "m1/1", 7.0) == (200, first[1])
    assert (voice.counters.placed, voice.counters.replays, voice.counters.duplicates) == \
        (1, 2, 0)


def test_without_idempotency_a_repeated_key_places_a_duplicate() -> None:
    voice = core(Sink(), voice_idempotency=False)
    first = voice.place("AC1", request("L1"), "m1/1", 0.0)
    again = voice.place("AC1", request("L1"), "m1/1", 0.5)  # its own line: not a violation
    assert again[0] == 201 and again[1]["sid"] != first[1]["sid"]
    assert (voice.counters.placed, voice.counters.duplicates,
            voice.counters.line_violations) == (2, 1, 0)
    voice.advance(6.0)
    assert voice.counters.active == 1  # the line stays busy until the later call ends
    assert refused(voice, request("L1"), "m2/1", 6.0) == 20409
    voice.advance(6.5)
    assert voice.counters.active == 0


def test_a_nine_is_posted_then_the_call_ends_and_later_calls_count() -> None:
    sink = Sink()
    voice = core(sink, dtmf_rate=1.0)
    voice.place("AC1", request("L1"), None, 0.0)
    pressed_at = voice.next_due()
    assert pressed_at is not None and 1.0 <= pressed_at <= 6.01
    voice.advance(pressed_at)
    (due, url, press), = sink.posts
    assert (due, url, press.status) == (pressed_at, GATHER_URL, GATHER)
    assert sink.fields()[0] == {"CallSid": press.call.sid, "AccountSid": "AC1", "From": "L1",
                                "To": "+33612345678", "Digits": "9"}
    assert voice.counters.active == 1  # in the call until the action answers
    voice.gather_settled(press.call, True, pressed_at + 0.2)
    final = sink.fields()[-1]
    # The duration runs from the answer (1 s) to the press, in whole seconds rounded up.
    assert (final["CallStatus"], final["CallDuration"]) == (
        "completed", str(math.ceil(press.call.plan.end_s - 1.0)))
    assert (voice.counters.opted_out, voice.counters.active) == (1, 0)
    assert voice.opted_pairs == {("+33612345678", "L1")}
    voice.place("AC1", request("L7"), None, 7.0)  # the same number from another line
    voice.place("AC1", request("L8", "+33600000000"), None, 7.0)
    assert voice.counters.called_after_optout == 1


def test_a_nine_whose_post_failed_is_not_an_opt_out() -> None:
    sink = Sink()
    voice = core(sink, dtmf_rate=1.0)
    voice.place("AC1", request("L1", callback=None), None, 0.0)
    voice.advance(6.0)
    voice.gather_settled(sink.posts[0][2].call, False, 6.0)
    voice.place("AC1", request("L1"), None, 6.0)
    assert (voice.counters.opted_out, voice.counters.called_after_optout) == (0, 0)
    assert voice.counters.outcomes["human"] == 1


def test_without_a_gather_action_nothing_is_pressed() -> None:
    sink = Sink()
    voice = core(sink, dtmf_rate=1.0)
    voice.place("AC1", request(action=None), None, 0.0)
    voice.advance(6.0)
    assert [f["CallStatus"] for f in sink.fields()] == ["completed"]
