"""Who replies and what the reply book makes of it — pure, no I/O."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dispatch import text
from dispatch.cli import build_parser
from dispatch.commands.simulator import config_from
from dispatch.simulator import SimulatorConfig, SimulatorConfigError
from dispatch.simulator.http.replies import mo_url_for
from dispatch.simulator.replies import ReplyBook, ReplyDecider

NUMBERS = [f"+336{10_000_000 + i:08d}" for i in range(20_000)]


def book(**knobs: Any) -> ReplyBook:
    knobs.setdefault("reply_share", 1.0)
    return ReplyBook(SimulatorConfig(seed=7, **knobs))


def test_the_share_of_recipients_who_reply() -> None:
    decider = ReplyDecider(0.05, seed=3)
    share = sum(map(decider.replies, NUMBERS)) / len(NUMBERS)
    assert 0.04 < share < 0.06
    assert not any(map(ReplyDecider(0.0, seed=3).replies, NUMBERS[:1000]))
    assert all(map(ReplyDecider(1.0, seed=3).replies, NUMBERS[:1000]))


def test_the_same_numbers_reply_whatever_the_order_and_the_format() -> None:
    shuffled = NUMBERS[:2000]
    random.Random(1).shuffle(shuffled)
    first = {n for n in NUMBERS[:2000] if ReplyDecider(0.1, seed=3).replies(n)}
    again = {n for n in shuffled if ReplyDecider(0.1, seed=3).replies(n)}
    assert first == again and first
    # Over SMPP the number comes without "+": the same recipient, the same decision.
    assert {n for n in NUMBERS[:2000] if ReplyDecider(0.1, seed=3).replies(n[1:])} == first
    other_seed = {n for n in NUMBERS[:2000] if ReplyDecider(0.1, seed=4).replies(n)}
    assert other_seed != first


def test_a_recipient_replies_once_per_line() -> None:
    replies = book()
    assert replies.decide("+33612345678", "CAMPAIGN") is not None
    assert replies.decide("+33612345678", "CAMPAIGN") is None
    assert replies.decide("33612345678", "CAMPAIGN") is None  # the same number
    assert replies.decide("+33612345678", "36111") is not None  # another line
    assert replies.stats()["replies"] == {"decided": 2, "sent": 0, "acknowledged": 0,
                                          "failed": 0, "pending": 2}


def test_only_messages_accepted_after_the_acknowledged_stop_count() -> None:
    replies = book()
    ticket = replies.decide("+33612345678", "CAMPAIGN")
    assert ticket is not None and ticket.stop
    replies.transmitted(ticket, 1.0)
    replies.transmitted(ticket, 2.0)  # a resend: still one reply sent, first sent at 1.0
    assert not replies.stopped  # sent, not acknowledged: nothing is counted yet
    replies.settled(ticket, True, now=5.0)
    assert replies.stopped == {("33612345678", "CAMPAIGN"): 5.0}
    replies.accepted("33612345678", "CAMPAIGN", now=5.25)
    replies.accepted("+33612345678", "OTHER", now=6.0)  # another line: not covered
    replies.accepted("+33699999999", "CAMPAIGN", now=7.0)
    stats = replies.stats()
    assert stats["sent_after_stop"] == 1 and stats["stops_acknowledged"] == 1
    assert stats["sent_after_stop_max_ms"] == 250.0
    assert replies.stop_acks == [(1.0, 4.0)]  # from its first sending to its acknowledgement
    assert stats["stop_ack_ms"] == {"p50": 4000.0, "p99": 4000.0, "max": 4000.0, "count": 1}
    assert stats["replies"] == {"decided": 1, "sent": 1, "acknowledged": 1, "failed": 0,
                                "pending": 0}


def test_one_confirmation_per_stop_is_not_a_message_after_the_stop() -> None:
    replies = book()
    ticket = replies.decide("+33612345678", "CAMPAIGN")
    assert ticket is not None
    replies.settled(ticket, True, now=5.0)
    replies.accepted("+33612345678", "CAMPAIGN", now=5.5, confirmation=True)
    assert (replies.confirmations, replies.sent_after_stop) == (1, 0)
    replies.accepted("33612345678", "CAMPAIGN", now=6.0, confirmation=True)  # a second one
    replies.accepted("+33612345678", "CAMPAIGN", now=6.5)  # campaign traffic
    assert (replies.confirmations, replies.sent_after_stop) == (1, 2)
    # Before the STOP's acknowledgement (the daemon answers as it records the STOP) too.
    replies.accepted("+33699999999", "CAMPAIGN", now=7.0, confirmation=True)
    assert replies.stats()["confirmations"] == 2


def test_the_confirmation_is_recognised_as_the_daemon_sends_it() -> None:
    default = book()
    assert default.confirmation_text == "Vous ne recevrez plus de messages de ce numéro."
    assert default.confirmation_payloads[0] == text.encode(default.confirmation_text, "gsm7")
    assert default.confirmation_payloads[8] == default.confirmation_text.encode("utf-16-be")
    custom = book(confirmation_text="Désinscription enregistrée ✔")
    assert list(custom.confirmation_payloads) == [8]  # UCS-2 only


def test_a_reply_that_is_no_opt_out_does_not_stop_anything() -> None:
    replies = book(reply_text="Merci, à dimanche")
    ticket = replies.decide("+33612345678", "CAMPAIGN")
    assert ticket is not None and not ticket.stop
    replies.settled(ticket, True, now=1.0)
    assert not replies.stopped and replies.stats()["replies"]["acknowledged"] == 1


def test_a_reply_in_parts_settles_with_its_last_part_or_its_first_failure() -> None:
    replies = book()
    whole, broken = replies.decide("+33600000001", "L"), replies.decide("+33600000002", "L")
    assert whole is not None and broken is not None
    whole.parts_left = broken.parts_left = 2
    replies.part_settled(whole, True, now=1.0)
    assert replies.stats()["replies"]["acknowledged"] == 0
    replies.part_settled(whole, True, now=2.0)
    replies.part_settled(broken, False, now=2.0)
    replies.part_settled(broken, True, now=3.0)  # too late: the reply failed
    assert replies.stats()["replies"] == {"decided": 2, "sent": 0, "acknowledged": 1,
                                          "failed": 1, "pending": 0}
    assert list(replies.stopped) == [("33600000001", "L")]


def test_injected_mo_are_watched_only_when_they_opt_out() -> None:
    replies = book(reply_share=0.0)
    assert replies.injected("+33612345678", "CAMP", "Bonjour") is None
    ticket = replies.injected("+33612345678", "CAMP", "Stop merci")
    assert ticket is not None and ticket.stop and not ticket.is_reply
    replies.settled(ticket, True, now=1.0)
    assert replies.stats()["replies"]["acknowledged"] == 0  # not one of the replies
    assert replies.stats()["stops_acknowledged"] == 1


def test_reply_delay_with_jitter_is_seeded() -> None:
    first, second = book(reply_jitter_ms=100), book(reply_jitter_ms=100)
    delays = [first.delay() for _ in range(20)]
    assert delays == [second.delay() for _ in range(20)]
    assert all(0.2 <= d <= 0.3 for d in delays) and len(set(delays)) > 1
    assert book().delay() == 0.2


def test_mo_url_beside_the_callback() -> None:
    # The query names the gateway (the daemon checks the signature with its secret).
    assert mo_url_for("http://127.0.0.1:8470/receipts?gateway=sms") == (
        "http://127.0.0.1:8470/inbound?gateway=sms")
    assert mo_url_for("https://example.org/hooks/receipts") == "https://example.org/inbound"


@pytest.mark.parametrize(("knobs", "reason"), [
    ({"reply_share": 1.5}, "--reply-share: must be a probability"),
    ({"reply_delay_ms": -1}, "--reply-delay-ms: must be a finite number"),
    ({"reply_jitter_ms": float("nan")}, "--reply-jitter-ms: must be a finite number"),
    ({"reply_text": ""}, "--reply-text: must be 1..1000 characters"),
    ({"mo_url": "ftp://x/inbound"}, "--mo-url: must be an http"),
])
def test_bad_reply_knobs_name_their_flag(knobs: dict[str, Any], reason: str) -> None:
    with pytest.raises(SimulatorConfigError, match=reason):
        SimulatorConfig(**knobs)


def test_reply_flags_become_a_config() -> None:
    args = build_parser().parse_args([
        "simulator", "--reply-share", "0.05", "--reply-text", "Arrêt", "--reply-delay-ms",
        "50", "--reply-jitter-ms", "10", "--mo-url", "http://127.0.0.1:9/inbound"])
    config = config_from(args)
    assert (config.reply_share, config.reply_text, config.reply_delay_ms,
            config.reply_jitter_ms, config.mo_url) == (0.05, "Arrêt", 50.0, 10.0,
                                                       "http://127.0.0.1:9/inbound")
    defaults = config_from(build_parser().parse_args(["simulator"]))
    assert (defaults.reply_share, defaults.reply_text, defaults.reply_delay_ms,
            defaults.mo_url) == (0.0, "STOP", 200.0, "")
