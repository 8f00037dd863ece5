"""Which member of a route a message goes to (RoutePlan): in order, by weight (the draw
fixed by the reference and spread as the weights say), by destination prefix."""

from __future__ import annotations

from collections import Counter

from dispatch.gateways.route.plan import RoutePlan


def every(member: str) -> bool:
    return True


def test_in_order_the_first_in_service_comes_first_and_the_resting_last() -> None:
    plan = RoutePlan.of(("a", "b", "c"), {}, {})
    assert plan.order("r1", "+33612345678", every) == ["a", "b", "c"]
    assert plan.order("r1", "+33612345678", lambda m: m != "a") == ["b", "c", "a"]


def test_a_prefix_sends_its_numbers_to_its_own_members_longest_prefix_first() -> None:
    plan = RoutePlan.of(("fr",), {}, {"+262": ("reunion", "fr"), "+2626": ("mobile",)})
    assert plan.candidates("+262262123456") == ("reunion", "fr")
    assert plan.candidates("262692123456") == ("mobile",)  # without its "+" too
    assert plan.candidates("+33612345678") == ("fr",)
    assert plan.every_member == ("fr", "reunion", "mobile")


def test_weights_spread_messages_in_proportion_and_a_message_always_draws_the_same() -> None:
    plan = RoutePlan.of(("a", "b"), {"a": 3, "b": 1}, {})
    firsts = Counter(plan.order(f"campaign:{i}", "+33600000000", every)[0]
                     for i in range(8000))
    assert 0.70 < firsts["a"] / 8000 < 0.80
    assert plan.order("campaign:17", "+336", every) == plan.order("campaign:17", "+336", every)


def test_weights_go_to_those_in_service_when_one_is_out() -> None:
    plan = RoutePlan.of(("a", "b", "c"), {"a": 1, "b": 1, "c": 1}, {})
    firsts = Counter(plan.order(f"r{i}", "+336", lambda m: m != "b")[0] for i in range(3000))
    assert set(firsts) == {"a", "c"}
    assert plan.order("r1", "+336", lambda m: m != "b")[-1] == "b"
