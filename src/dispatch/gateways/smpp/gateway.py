"""SMPP 3.4 gateway adapter: several binds, a window each, batched writes, receipts and MO.

    gateway = SmppGateway("operator-a", settings.gateways["operator-a"])
    await nursery.start(gateway.run, inbound)      # binds; started once one is up (or failed)
    results = await gateway.submit(messages)      # one Accepted/Rejected/Retry per message
    answers = await gateway.submit_early(messages)  # the same, as the answers come:
    soon = await answers.first()                   #   None for a message still unanswered
    later = await answers.rest()                   #   (its deadline), from another task
    await gateway.aclose()                         # unbinds politely (bounded), closes

Parts may be spaced out (`Outbound.part_offsets`, for a line's rate): each wave goes once
its offset's distance has passed since the previous wave was on the wire, without waiting
for that one's answers; `submit` returns once all are answered.

A message's parts may be accepted and a later part refused: the message is then reported
with that refusal (or retry); a retry sends only the parts not accepted yet, with the same
concatenation reference (see partial.py). A request unanswered (timeout or lost
connection) is "retry, fate unknown": resending it may duplicate; `stats` counts them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Final

import trio

from dispatch.gateways.base import Inbound
from dispatch.gateways.health import GatewayHealth
from dispatch.gateways.smpp.answers import Answers
from dispatch.gateways.smpp.batch import PendingBatch, SubmitPart
from dispatch.gateways.smpp.binder import BindKind, BindSlot
from dispatch.gateways.smpp.connection import GOODBYE_S
from dispatch.gateways.smpp.delivery import DeliveryHandler
from dispatch.gateways.smpp.mo import MoAssembler
from dispatch.gateways.smpp.partial import PartialMessage, PartialMessages
from dispatch.gateways.smpp.pool import Pool
from dispatch.gateways.smpp.stats import ClientStats
from dispatch.gateways.smpp.submit import (
    MAX_ADDRESS,
    PartBuilder,
    id_base,
    message_result,
    part_count,
)
from dispatch.httpserver import Handler
from dispatch.settings import ConfigError, GatewaySettings
from dispatch.smpp import Bind, BindReceiver, BindTransceiver, BindTransmitter
from dispatch.vocabulary import Outbound, Rejected, SubmitResult

# SMPP 3.4 sizes of the bind's C-strings, NUL excluded.
CREDENTIAL_LIMITS: Final = {"system_id": 15, "password": 8, "system_type": 12}
# How long a wave of spaced parts waits to be on the wire before the next is timed from
# now anyway (a bind that died meanwhile never flushes; its parts are answered "lost").
FLUSH_WAIT_S: Final = 1.0


def check_config(name: str, config: GatewaySettings) -> None:
    """What settings.py cannot know about SMPP; ConfigError names the key (not its value)."""
    for key, limit in CREDENTIAL_LIMITS.items():
        value: str = getattr(config, key)
        if len(value) > limit or not value.isascii() or "\0" in value:
            raise ConfigError(f"gateways.{name}.{key}: at most {limit} ASCII characters "
                              "in SMPP 3.4")
    if not config.sender or len(config.sender) > MAX_ADDRESS or not config.sender.isascii():
        raise ConfigError(f"gateways.{name}.sender: 1 to {MAX_ADDRESS} ASCII characters "
                          "(SMPP source_addr)")
    for key in ("timeout_s", "enquire_link_s", "reconnect_max_s"):
        if getattr(config, key) <= 0:
            raise ConfigError(f"gateways.{name}.{key}: must be more than 0")


def build(name: str, config: GatewaySettings, callback_url: str) -> SmppGateway:
    """The composition root's builder (no callback URL: receipts come over the binds)."""
    return SmppGateway(name, config)


class SmppGateway:
    places_calls = False

    def __init__(self, name: str, config: GatewaySettings) -> None:
        check_config(name, config)
        self.name = name
        self.sender = config.sender
        self.batch_size = config.batch_size
        self.concurrency = config.concurrency
        self.stats = ClientStats()
        self.errors = self.stats.errors  # by code, for the metrics
        self._config = config
        self._builder = PartBuilder(config)
        self._partial = PartialMessages()
        self._pool = Pool(self.stats)
        self._assembler = MoAssembler(name)
        self._scope: trio.CancelScope | None = None
        self._finished: trio.Event | None = None

    @property
    def outstanding(self) -> int:
        """The most submit_sm outstanding at once: every bind's window."""
        return self._config.binds * self._config.window

    def callbacks(self, inbound: Inbound) -> Mapping[str, Handler]:
        """None: receipts and MO come as deliver_sm over the binds."""
        return {}

    @property
    def bound(self) -> bool:
        """Is a bind up and taking submissions?"""
        return self._pool.available

    def health(self) -> GatewayHealth:
        """Bound while a submitting bind is up; the last bind failure, kept."""
        pool = self._pool
        up = pool.available
        return GatewayHealth(up, "bound" if up else "unbound", pool.last_error,
                             pool.last_error_at, pool.bound, self._config.binds)

    @property
    def rates(self) -> list[float | None]:
        """Each submitting bind's send rate limit in messages/s (None: not slowed down)."""
        return self._pool.rates

    async def run(self, inbound: Inbound, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep every bind up until cancelled; started once a bind is up or has failed."""
        self._finished = finished = trio.Event()
        handler = DeliveryHandler(
            self.name, inbound, self._assembler, self.stats,
            submit_id_base=id_base(self._config.submit_id_base),
            receipt_id_base=id_base(self._config.receipt_id_base))
        try:
            with trio.CancelScope() as self._scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(handler.sweep)
                    for slot in self._slots(handler):
                        nursery.start_soon(slot.run)
                    await self._pool.tried.wait()
                    task_status.started()
        finally:
            finished.set()

    def _slots(self, handler: DeliveryHandler) -> list[BindSlot]:
        config = self._config
        kinds: list[tuple[type[Bind], bool]] = (
            [(BindTransceiver, True)] if config.bind_mode == "transceiver"
            else [(BindTransmitter, True), (BindReceiver, False)])
        return [BindSlot(BindKind(f"gateway {self.name} bind {number} "
                                  f"({kind.__name__[4:].lower()})",
                                  self._bind_factory(kind), submits),
                         config, handler, self._pool)
                for number in range(1, config.binds + 1) for kind, submits in kinds]

    def _bind_factory(self, kind: type[Bind]) -> Callable[[], Bind]:
        config = self._config
        return lambda: kind(system_id=config.system_id, password=config.password,
                            system_type=config.system_type)

    async def submit(self, messages: Sequence[Outbound]) -> list[SubmitResult]:
        """Build (or take up again) each message's parts, send the ones still missing in one
        batch, and fold the parts' results into one result per message."""
        if any(message.part_offsets for message in messages):
            built = [self._parts(message) for message in messages]
            pdus = [item.pdus[i] for item in built if not isinstance(item, Rejected)
                    for i in item.missing()]
            results = await self._send_spaced(pdus, _offsets(messages, built))
            return self._results(messages, built, iter(results))
        return await (await self.submit_early(messages)).all()

    async def submit_early(self, messages: Sequence[Outbound]) -> Answers:
        """As `submit`, returning once the parts are written: the results come from the
        Answers, the messages answered first without waiting for the laggards (see
        answers.py). Parts spaced out (`Outbound.part_offsets`) need `submit`."""
        built = [self._parts(message) for message in messages]
        pdus: list[SubmitPart] = []
        starts: list[bool] = []
        spans: list[range] = []
        for item in built:
            missing = [] if isinstance(item, Rejected) else item.missing()
            spans.append(range(len(pdus), len(pdus) + len(missing)))
            if not isinstance(item, Rejected):
                pdus += [item.pdus[i] for i in missing]
                starts += [True] + [False] * (len(missing) - 1)
        batch = PendingBatch(pdus, [*starts, True])
        if pdus:
            await self._pool.send(batch)

        def settle(index: int, parts: Sequence[SubmitResult | None]) -> SubmitResult:
            return self._settle(messages[index], built[index], iter(parts))

        return Answers(batch, spans, settle)

    def parts(self, text: str) -> int:
        return part_count(text)

    async def _send_spaced(self, pdus: list[SubmitPart], offsets: list[float]
                           ) -> list[SubmitResult | None]:
        """The parts in waves by offset, each wave written at least its offset's distance
        after the one before was on the wire (a wave the binds or the event loop made
        wait delays the later ones: never two parts of a line closer than planned),
        without waiting for the answers in between; then every answer."""
        waves: dict[float, list[int]] = {}
        for index, offset in enumerate(offsets):
            waves.setdefault(offset, []).append(index)
        written, previous = trio.current_time(), 0.0
        sent: list[tuple[list[int], PendingBatch]] = []
        for offset in sorted(waves):
            await trio.sleep_until(written + offset - previous)
            batch = PendingBatch([pdus[i] for i in waves[offset]])
            await self._pool.send(batch)  # queued to the binds' writers
            with trio.move_on_after(FLUSH_WAIT_S):
                await self._pool.flushed()
            written, previous = trio.current_time(), offset
            sent.append((waves[offset], batch))
        results: list[SubmitResult | None] = [None] * len(pdus)
        for indexes, batch in sent:
            await batch.done.wait()
            for index, answer in zip(indexes, batch.results, strict=True):
                results[index] = answer
        return results

    def _parts(self, message: Outbound) -> PartialMessage | Rejected:
        held = self._partial.take(message.reference)
        if held is not None:
            return held
        parts = self._builder.ready(message)
        return parts if isinstance(parts, Rejected) else PartialMessage(parts)

    def _results(self, messages: Sequence[Outbound], built: list[PartialMessage | Rejected],
                 results: Iterator[SubmitResult | None]) -> list[SubmitResult]:
        return [self._settle(message, item, results)
                for message, item in zip(messages, built, strict=True)]

    def _settle(self, message: Outbound, item: PartialMessage | Rejected,
                results: Iterator[SubmitResult | None]) -> SubmitResult:
        """One message's result from its sent parts' (taken from `results` in order)."""
        if isinstance(item, Rejected):
            return item
        if len(item.pdus) == 1 and not item.accepted:
            # One part: nothing the partial bookkeeping could keep (most messages).
            return message_result([next(results)])
        sent = {index: next(results) for index in item.missing()}
        return message_result(self._partial.settle(message.reference, item, sent))

    async def aclose(self) -> None:
        """Unbind every connection (each waits at most GOODBYE_S) and stop."""
        if self._scope is None or self._finished is None:
            return
        self._scope.cancel()
        with trio.move_on_after(GOODBYE_S + 1.0):
            await self._finished.wait()


def _offsets(messages: Sequence[Outbound], built: list[PartialMessage | Rejected]
             ) -> list[float]:
    """Each part still to send's offset from the first (see Outbound.part_offsets), in
    the order `submit` lists the parts."""
    offsets: list[float] = []
    for message, item in zip(messages, built, strict=True):
        if not isinstance(item, Rejected):
            spacing = message.part_offsets
            offsets += [spacing[j] if j < len(spacing) else 0.0
                        for j in range(len(item.missing()))]
    return offsets
