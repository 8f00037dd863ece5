"""A route: a gateway made of other gateways, its members (see plan.py for which member a
message goes to, standing.py for when a member is out of service).

No message is sent twice through two members. A message moves to another member only when
the first surely did not take it (Retry.unsent: no connection or bind, an error answer).
When its fate is unknown (no answer in time, connection lost after sending) it is pinned
to that member: every retry goes there, even while the member is out of service, until an
answer settles it (or its deadline passes). Pins live in this process: after a restart a
message whose fate was unknown goes to the member its plan gives, which is the same one
unless the members in service changed meanwhile.

The members are gateways of the daemon in their own right (their connections, callbacks
and receipts are theirs): the route only submits through them.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Final

import trio

from dispatch.gateways.base import Gateway, Inbound
from dispatch.gateways.errors import GatewayErrors
from dispatch.gateways.health import GatewayHealth
from dispatch.gateways.route.plan import RoutePlan
from dispatch.gateways.route.standing import Change, Standing
from dispatch.httpserver import Handler
from dispatch.policy.backoff import Backoff
from dispatch.settings import GatewaySettings
from dispatch.vocabulary import Accepted, Outbound, Rejected, Retry, SubmitResult

log = logging.getLogger(__name__)

NO_MEMBER: Final = "no_member_in_service"  # its error code: every member out of service
# Messages pinned at once, at most (those whose fate is unknown: a few windows' worth);
# beyond, the oldest pin is forgotten.
PIN_CAPACITY: Final = 100_000
Groups = dict[str, list[int]]  # member -> indexes of the messages it is given


def build(name: str, config: GatewaySettings, gateways: Mapping[str, Gateway]
          ) -> RouteGateway:
    """The composition root's builder: `gateways`, the daemon's others, hold its members."""
    return RouteGateway(name, config, gateways)


class RouteGateway:
    places_calls = False

    def __init__(self, name: str, config: GatewaySettings, gateways: Mapping[str, Gateway],
                 clock: Callable[[], float] = trio.current_time) -> None:
        self.name = name
        self.sender = config.sender
        self.batch_size = config.batch_size
        self.concurrency = config.concurrency
        self.errors = GatewayErrors()
        self._plan = RoutePlan.of(config.members, config.weights, config.prefixes)
        self.members = {member: gateways[member] for member in self._plan.every_member}
        backoff = Backoff(config.out_for_s, config.out_max_s)
        self._standing = {member: Standing(config.out_after, backoff)
                          for member in self.members}
        self._clock = clock
        self._pins: OrderedDict[str, str] = OrderedDict()  # reference -> member
        # For the metrics: (member, "out" | "back") -> times; member -> messages moved off.
        self.switches: dict[tuple[str, str], int] = {}
        self.rerouted: dict[str, int] = {}

    @property
    def outstanding(self) -> int | None:
        """What its members keep outstanding together; None when one has no bound."""
        bounds = [gateway.outstanding for gateway in self.members.values()]
        return None if None in bounds else sum(b for b in bounds if b is not None)

    def in_service(self, member: str) -> bool:
        return self._standing[member].in_service(self._clock())

    def callbacks(self, inbound: Inbound) -> Mapping[str, Handler]:
        """None: receipts and replies come through the members."""
        return {}

    async def run(self, inbound: Inbound, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Nothing of its own runs: the members are run by the daemon as gateways."""
        task_status.started()
        await trio.sleep_forever()

    def parts(self, text: str) -> int:
        """The most any member sends for it: a line is never charged less than it sends."""
        return max(gateway.parts(text) for gateway in self.members.values())

    def health(self) -> GatewayHealth:
        """Up while a member in service is up; down when none is in service and up."""
        healths = {member: gateway.health() for member, gateway in self.members.items()}
        serving = [m for m in self.members if self.in_service(m) and not healths[m].failed]
        up: bool | None = False
        if any(healths[m].up for m in serving):
            up = True
        elif serving:
            up = None  # in service, not known yet (no request made)
        errors = [(h.last_error_at, f"{m}: {h.last_error}") for m, h in healths.items()
                  if h.last_error is not None and h.last_error_at is not None]
        last_at, last_error = max(errors) if errors else (None, None)
        return GatewayHealth(up, f"{len(serving)} of {len(self.members)} members in service",
                             last_error, last_at)

    async def aclose(self) -> None:
        """Nothing to close: the daemon closes the members."""

    async def submit(self, messages: Sequence[Outbound]) -> list[SubmitResult]:
        results: list[SubmitResult | None] = [None] * len(messages)
        refused_by: list[list[str]] = [[] for _ in messages]  # members that surely did not
        waiting = list(range(len(messages)))
        while waiting:
            groups = self._assign(messages, waiting, refused_by, results)
            answers = await self._submit_groups(messages, groups)
            waiting = self._settle(messages, groups, answers, refused_by, results)
        return [result if result is not None else self._no_member() for result in results]

    def _assign(self, messages: Sequence[Outbound], indexes: list[int],
                refused_by: list[list[str]], results: list[SubmitResult | None]) -> Groups:
        """Each message's member: where it is pinned, else the best one in service that
        has not refused it in this call. One with none keeps its last result (or gets
        the "no member" retry)."""
        groups: Groups = {}
        for index in indexes:
            member = self._member_for(messages[index], refused_by[index])
            if member is None:
                results[index] = results[index] or self._no_member()
                continue
            if refused_by[index]:
                last = refused_by[index][-1]
                self.rerouted[last] = self.rerouted.get(last, 0) + 1
            groups.setdefault(member, []).append(index)
        return groups

    def _member_for(self, message: Outbound, refused: list[str]) -> str | None:
        pinned = self._pins.get(message.reference)
        if pinned is not None:  # its fate is that member's to tell (never refused here)
            return pinned
        for member in self._plan.order(message.reference, message.to, self.in_service):
            if member not in refused and self.in_service(member):
                return member
        return None

    async def _submit_groups(self, messages: Sequence[Outbound], groups: Groups
                             ) -> dict[str, list[SubmitResult]]:
        """Each member's messages, the members side by side, each in its batch size."""
        answers: dict[str, list[SubmitResult]] = {}

        async def through(member: str, indexes: list[int]) -> None:
            gateway = self.members[member]
            got: list[SubmitResult] = []
            for start in range(0, len(indexes), gateway.batch_size):
                chunk = indexes[start:start + gateway.batch_size]
                got.extend(await gateway.submit([messages[i] for i in chunk]))
            answers[member] = got

        async with trio.open_nursery() as nursery:
            for member, indexes in groups.items():
                nursery.start_soon(through, member, indexes)
        return answers

    def _settle(self, messages: Sequence[Outbound], groups: Groups,
                answers: Mapping[str, list[SubmitResult]], refused_by: list[list[str]],
                results: list[SubmitResult | None]) -> list[int]:
        """Record each answer; the messages a member surely did not take, to try again
        elsewhere."""
        again: list[int] = []
        for member, indexes in groups.items():
            got = answers[member]
            self._judge(member, got)
            for index, result in zip(indexes, got, strict=True):
                results[index] = result
                reference = messages[index].reference
                if not isinstance(result, Retry) or result.throttled:
                    if not isinstance(result, Retry):
                        self._pins.pop(reference, None)  # settled
                    continue
                if not result.unsent:
                    self._pin(reference, member)
                elif reference not in self._pins:
                    refused_by[index].append(member)
                    again.append(index)
        return again

    def _judge(self, member: str, got: list[SubmitResult]) -> None:
        """A member that answered is working; one whose every message failed, not."""
        now = self._clock()
        standing = self._standing[member]
        if any(_answered(result) for result in got):
            change = standing.answered(now)
        elif got:
            unreachable = (all(isinstance(r, Retry) and r.unsent for r in got)
                           and self.members[member].health().failed)
            change = standing.failed(now, unreachable)
        else:
            return
        if change is not Change.NONE:
            self._switched(member, change, got)

    def _switched(self, member: str, change: Change, got: list[SubmitResult]) -> None:
        key = (member, change.value)
        self.switches[key] = self.switches.get(key, 0) + 1
        if change is Change.BACK:
            log.info("route %s: gateway %s back in service", self.name, member)
            return
        now = self._clock()
        why = next((r.reason for r in got if isinstance(r, Retry)), "failed")
        serving = [m for m in self.members if self._standing[m].in_service(now)]
        log.warning("route %s: gateway %s out of service for %.0f s (%s); its messages go "
                    "to %s", self.name, member, self._standing[member].out_until - now, why,
                    ", ".join(serving) if serving else "none: every member is out, waiting")

    def _pin(self, reference: str, member: str) -> None:
        self._pins[reference] = member
        self._pins.move_to_end(reference)
        if len(self._pins) > PIN_CAPACITY:
            self._pins.popitem(last=False)

    def _no_member(self) -> Retry:
        """Every member out of service: wait for the first one back (nothing was sent)."""
        self.errors.count(NO_MEMBER)
        now = self._clock()
        back_in = min(standing.out_until for standing in self._standing.values()) - now
        return Retry(f"route {self.name}: no member gateway in service",
                     max(back_in, 0.0), counts=False, unsent=True)


def _answered(result: SubmitResult) -> bool:
    """The member answered for this message: it took it, refused it, or asked to wait."""
    return isinstance(result, Accepted | Rejected) or (isinstance(result, Retry)
                                                        and result.throttled)
