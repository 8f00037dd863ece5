"""A route over stand-in member gateways (each implements the Gateway interface and
answers as a test scripts it): failover, pins, throttling, weights, prefixes, and what
the route says of itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pytest

from dispatch.gateways.base import Gateway, Inbound
from dispatch.gateways.errors import GatewayErrors
from dispatch.gateways.health import GatewayHealth
from dispatch.gateways.route import RouteGateway
from dispatch.gateways.route import gateway as route_module
from dispatch.httpserver import Handler
from dispatch.settings import GatewaySettings
from dispatch.vocabulary import Accepted, Outbound, Rejected, Retry, SubmitResult

REFUSED = Retry("gateway unreachable: ConnectError", unsent=True)
UNKNOWN = Retry("gateway timeout")
THROTTLED = Retry("HTTP 429", 1.0, counts=False, throttled=True, unsent=True)
Answer = Callable[[Outbound], SubmitResult]


class Member:
    """A member gateway answering each message with `answer` (accepted by default)."""

    places_calls = False
    concurrency = 1

    def __init__(self, name: str, batch_size: int = 10, outstanding: int | None = 100,
                 parts: int = 1) -> None:
        self.name = name
        self.sender = "S"
        self.batch_size = batch_size
        self.outstanding = outstanding
        self._parts = parts
        self.errors = GatewayErrors()
        self.answer: Answer = lambda m: Accepted(f"{self.name}-{m.reference}")
        self.up: bool | None = True
        self.sent: list[str] = []
        self.calls: list[int] = []

    def callbacks(self, inbound: Inbound) -> Mapping[str, Handler]:
        return {}

    async def run(self, inbound: Inbound, *, task_status: object = None) -> None:
        raise AssertionError("the route never runs its members")

    async def submit(self, messages: Sequence[Outbound]) -> list[SubmitResult]:
        self.calls.append(len(messages))
        self.sent.extend(m.reference for m in messages)
        return [self.answer(m) for m in messages]

    def parts(self, text: str) -> int:
        return self._parts

    def health(self) -> GatewayHealth:
        return GatewayHealth(self.up, "test", None if self.up else "down", 1.0)

    async def aclose(self) -> None:
        raise AssertionError("the daemon closes members, not the route")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def route(members: Sequence[Member], clock: Clock, **settings: object) -> RouteGateway:
    config = GatewaySettings(type="route", members=tuple(m.name for m in members),
                             batch_size=50, **settings)  # type: ignore[arg-type]
    gateways: dict[str, Gateway] = {m.name: m for m in members}
    return RouteGateway("main", config, gateways, clock=clock)


def messages(count: int, to: str = "+33612345678", start: int = 0) -> list[Outbound]:
    return [Outbound(f"c1:{i}", to, "S", "bonjour") for i in range(start, start + count)]


async def test_in_order_everything_goes_to_the_first_member() -> None:
    a, b = Member("a"), Member("b")
    results = await route([a, b], Clock()).submit(messages(25))
    assert results == [Accepted(f"a-c1:{i}") for i in range(25)]
    assert a.calls == [10, 10, 5] and b.sent == []  # in the member's own batch size


async def test_a_member_that_cannot_be_reached_is_out_at_once_and_its_messages_go_next(
        ) -> None:
    a, b, clock = Member("a"), Member("b"), Clock()
    a.answer, a.up = (lambda m: REFUSED), False
    gateway = route([a, b], clock)
    results = await gateway.submit(messages(5))
    assert results == [Accepted(f"b-c1:{i}") for i in range(5)]
    assert not gateway.in_service("a")
    assert gateway.switches == {("a", "out"): 1} and gateway.rerouted == {"a": 5}
    await gateway.submit(messages(5, start=5))
    assert len(a.sent) == 5, "out of service: not tried again within its period"


async def test_after_its_period_a_member_is_tried_again_and_its_answer_brings_it_back(
        ) -> None:
    a, b, clock = Member("a"), Member("b"), Clock()
    a.answer, a.up = (lambda m: REFUSED), False
    gateway = route([a, b], clock, out_for_s=10.0)
    await gateway.submit(messages(1))
    clock.now = 10.0
    a.answer, a.up = (lambda m: Accepted("a-back")), True
    assert await gateway.submit(messages(1, start=1)) == [Accepted("a-back")]
    assert gateway.switches == {("a", "out"): 1, ("a", "back"): 1}
    assert gateway.in_service("a")


async def test_error_answers_take_a_member_out_after_out_after_in_a_row() -> None:
    a, b, clock = Member("a"), Member("b"), Clock()
    a.answer = lambda m: Retry("HTTP 503", unsent=True)  # it answers: reachable
    gateway = route([a, b], clock, out_after=3)
    for call in range(3):
        results = await gateway.submit(messages(2, start=2 * call))
        assert all(isinstance(r, Accepted) and r.gateway_id.startswith("b-")
                   for r in results), "refused by a: sent through b in the same call"
        assert gateway.in_service("a") is (call < 2)


async def test_a_message_whose_fate_is_unknown_stays_with_its_member_until_settled(
        ) -> None:
    a, b, clock = Member("a"), Member("b"), Clock()
    a.answer = lambda m: UNKNOWN if m.reference == "c1:0" else REFUSED
    a.up = False
    gateway = route([a, b], clock, out_after=1)
    first = await gateway.submit(messages(2))
    assert first == [UNKNOWN, Accepted("b-c1:1")]
    assert not gateway.in_service("a")
    a.answer = lambda m: REFUSED
    again = await gateway.submit(messages(1))  # the retry of c1:0: to a, out or not
    assert again == [REFUSED] and a.sent == ["c1:0", "c1:1", "c1:0"]
    assert "c1:0" not in b.sent, "never sent through two members"
    a.answer = lambda m: Accepted("a-late")
    assert await gateway.submit(messages(1)) == [Accepted("a-late")]
    clock.now = 100.0
    a.answer = lambda m: REFUSED
    await gateway.submit(messages(1))
    assert b.sent.count("c1:0") == 1, "settled: the pin is gone, the next sending is new"


async def test_a_throttled_member_keeps_its_messages_and_stays_in_service() -> None:
    a, b = Member("a"), Member("b")
    a.answer = lambda m: THROTTLED
    gateway = route([a, b], Clock(), out_after=1)
    assert await gateway.submit(messages(3)) == [THROTTLED] * 3
    assert b.sent == [] and gateway.in_service("a")


async def test_a_rejection_is_final_and_not_sent_elsewhere() -> None:
    a, b = Member("a"), Member("b")
    a.answer = lambda m: Rejected("invalid destination")
    gateway = route([a, b], Clock())
    assert await gateway.submit(messages(2)) == [Rejected("invalid destination")] * 2
    assert b.sent == [] and gateway.in_service("a")


async def test_every_member_out_the_messages_wait_for_the_first_back_without_an_attempt(
        ) -> None:
    a, b, clock = Member("a"), Member("b"), Clock()
    for member in (a, b):
        member.answer, member.up = (lambda m: REFUSED), False
    gateway = route([a, b], clock, out_for_s=10.0)
    assert await gateway.submit(messages(2)) == [REFUSED, REFUSED]
    clock.now = 4.0
    [waiting] = await gateway.submit(messages(1, start=5))
    assert isinstance(waiting, Retry) and waiting.unsent and not waiting.counts
    assert waiting.after_s == 6.0 and "no member gateway in service" in waiting.reason
    assert gateway.errors.counts == {"no_member_in_service": 1}
    assert gateway.health().up is False


async def test_weights_spread_the_messages_and_a_prefix_takes_its_own_members() -> None:
    a, b, reunion = Member("a"), Member("b"), Member("reunion")
    config = GatewaySettings(type="route", members=("a", "b"), weights={"a": 1, "b": 1},
                             prefixes={"+262": ("reunion",)}, batch_size=500)
    gateway = RouteGateway("main", config, {"a": a, "b": b, "reunion": reunion},
                           clock=Clock())
    await gateway.submit(messages(400) + messages(7, to="+262692000000", start=400))
    assert 150 < len(a.sent) < 250 and len(a.sent) + len(b.sent) == 400
    assert len(reunion.sent) == 7


def test_what_the_route_says_of_itself() -> None:
    a, b = Member("a", outstanding=200, parts=1), Member("b", outstanding=50, parts=2)
    gateway = route([a, b], Clock())
    assert gateway.outstanding == 250 and gateway.parts("x") == 2
    assert gateway.callbacks(object()) == {}  # type: ignore[arg-type]
    assert gateway.health().up is True
    assert gateway.health().state == "2 of 2 members in service"
    b.outstanding = None
    assert gateway.outstanding is None


async def test_past_its_capacity_the_oldest_pin_is_forgotten(monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setattr(route_module, "PIN_CAPACITY", 2)
    a, b = Member("a"), Member("b")
    a.answer = lambda m: UNKNOWN
    gateway = route([a, b], Clock(), out_after=100)
    await gateway.submit(messages(3))  # c1:0, c1:1, c1:2 pinned to a: c1:0 forgotten
    a.answer, a.up = (lambda m: REFUSED), False
    results = await gateway.submit(messages(3))
    assert results[0] == Accepted("b-c1:0") and results[1:] == [REFUSED, REFUSED]
