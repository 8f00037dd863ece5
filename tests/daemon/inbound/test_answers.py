"""HELP answers and opt-out confirmations: queued atomically with what they answer, sent by
the Answerer through the MO's gateway, logged, never twice per opt-out."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import trio

from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.inbound.answers import Answerer, answer_texts, route
from dispatch.daemon.inbound.replies import ReplyHandler
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.gateways.base import Inbound
from dispatch.keys import Keys
from dispatch.policy.answers import HELP, OPTOUT_CONFIRMATION
from dispatch.settings import AnswerSettings, Settings
from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.replies import ReplyDecider
from dispatch.simulator.service import Simulator
from dispatch.store.campaign_meta import MetaStore
from dispatch.store.optout import OptOutEvent
from dispatch.store.queue import Queue
from dispatch.store.redis import Redis
from dispatch.vocabulary import Accepted, InboundMessage, Outbound, Rejected, Retry, SubmitResult
from tests.daemon.conftest import daemon_for, enqueue, final_counts
from tests.inbound import CALLBACK_SECRET, signed_json

NUMBER = "+33612345678"
ANSWERS = AnswerSettings(identity="Dispatch")
CONFIRMATION = ANSWERS.optout_text


class FakeGateway:
    """A gateway that answers each submission with the next scripted result."""

    name = "default"
    sender = "36111"
    batch_size = 2
    concurrency = 1

    def __init__(self, *results: SubmitResult) -> None:
        self.results = list(results)
        self.submitted: list[Outbound] = []

    async def run(self, inbound: Inbound, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()

    async def submit(self, messages: Sequence[Outbound]) -> list[SubmitResult]:
        self.submitted += messages
        return [self.results.pop(0) if self.results else Accepted(f"gw-{len(self.submitted)}")
                for _ in messages]

    async def aclose(self) -> None:
        pass


def mo(text: str, source: str = "0612345678") -> InboundMessage:
    return InboundMessage(source, "36111", text, "default")


def handler(queue: Queue, settings: AnswerSettings = ANSWERS) -> ReplyHandler:
    return ReplyHandler(queue, lambda: ["c1"], texts=answer_texts(settings),
                        identity_of=lambda campaign: "Parti Test")


async def queued(redis: Redis, keys: Keys) -> list[dict[bytes, Any]]:
    entries = await redis.xrange(keys.answers)
    return [dict(entry.field_values) for entry in entries]


async def log(redis: Redis, keys: Keys) -> list[dict[bytes, bytes]]:
    return [dict(entry.field_values) for entry in await redis.xrange(keys.answers_log)]


async def test_one_confirmation_per_opt_out(redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "t")
    replies = handler(queue)
    with trio.fail_after(10):
        await replies.handle([mo("STOP"), mo("Stop merci")])  # one opt-out, said twice
        await replies.handle([mo("ARRET")])  # already opted out: nothing more
        entries = await queued(redis, keys)
        assert [(e[b"reason"], e[b"text"], e[b"line"], e[b"gateway"]) for e in entries] == [
            (OPTOUT_CONFIRMATION.encode(), CONFIRMATION.encode(), b"36111", b"default")]
        assert await redis.hget(keys.answer_numbers, entries[0][b"token"]) == NUMBER.encode()
        assert NUMBER.encode() not in b"".join(v for e in entries for v in e.values())
        await replies.handle([mo("START")])  # back in: no answer
        await replies.handle([mo("STOP")])  # a new opt-out: a new confirmation
        assert len(await queued(redis, keys)) == 2


async def test_no_confirmation_for_a_number_that_opted_out_of_every_line(
        redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "t")
    with trio.fail_after(10):
        await queue.optouts.add([OptOutEvent(NUMBER, "all", "cli")])
        await handler(queue).handle([mo("STOP")])
        assert await queued(redis, keys) == []
        assert (await queue.optouts.check(NUMBER))["scopes"].keys() == {"all", "line:36111"}


async def test_no_help_answer_to_a_number_that_opted_out_of_the_line(
        redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "t")
    with trio.fail_after(10):
        await handler(queue).handle([mo("STOP"), mo("AIDE")])  # the STOP holds at once
        await handler(queue).handle([mo("INFO")])
        assert [e[b"reason"] for e in await queued(redis, keys)] == [b"optout_confirmation"]


async def test_confirmations_can_be_turned_off(redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "t")
    with trio.fail_after(10):
        await handler(queue, dataclasses.replace(ANSWERS, confirm_optout=False)).handle(
            [mo("STOP")])
        assert await queued(redis, keys) == []
        assert (await queue.optouts.check(NUMBER))["opted_out"]


async def test_help_info_aide_get_who_sends_and_how_to_object(
        redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "t")
    with trio.fail_after(10):
        await handler(queue).handle([mo("AIDE"), mo("help"), mo("Info ?"), mo("merci")])
        entries = await queued(redis, keys)
    expected = ("Dispatch : vous recevez ce message de Dispatch. Pour ne plus recevoir de "
                "messages, répondez STOP.")  # no campaign wrote to the number
    assert [(e[b"reason"], e[b"text"].decode()) for e in entries] == [
        (HELP.encode(), expected)] * 3
    inbound = [entry.field_values[b"intent"] for entry in await redis.xrange(keys.inbound)]
    assert inbound == [b"help", b"help", b"help", b"reply"]


async def test_help_names_the_sender_of_the_campaigns_that_wrote_to_the_number(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "t")
    book = CampaignBook(MetaStore(redis, keys), {"default": "DISPATCH"})
    with trio.fail_after(10):
        await enqueue(redis, settings, tmp_path, 2)  # enqueue --sender "Parti Test"
        entries = await queue.read_new(["c1"], 10, 100)
        await queue.admit("c1", [(entries[0].entry_id, "+33640000000")])
        await book.refresh()
        replies = ReplyHandler(queue, lambda: list(book.campaigns),
                               texts=answer_texts(ANSWERS), identity_of=book.identity_of)
        await replies.handle([mo("AIDE", "0640000000"), mo("AIDE", "0640000001")])
        texts = [e[b"text"].decode() for e in await queued(redis, keys)]
    assert texts == [  # the number written to, then one only queued (not written to yet)
        "Dispatch : vous recevez ce message de Parti Test. Pour ne plus recevoir de "
        "messages, répondez STOP.",
        "Dispatch : vous recevez ce message de Dispatch. Pour ne plus recevoir de messages, "
        "répondez STOP."]


async def test_no_answers_without_texts(redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(10):
        await ReplyHandler(Queue(redis, keys, "t"), lambda: []).handle(
            [mo("STOP"), mo("AIDE")])
        assert await queued(redis, keys) == []


async def answer_once(answerer: Answerer, gateways: dict[str, Any]) -> int:
    with trio.fail_after(10):
        return await answerer.answer_once(gateways, 10)


def answerer_for(queue: Queue, settings: AnswerSettings = ANSWERS,
                 clock: Any = None) -> Answerer:
    kwargs = {"clock": clock} if clock is not None else {}
    return Answerer(queue.answers, queue.optouts.secret, settings, DaemonMetrics(), **kwargs)


async def test_the_answerer_sends_from_the_line_logs_and_deletes(
        redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "t")
    gateway = FakeGateway(Accepted("gw-1"), Rejected("invalid destination"))
    with trio.fail_after(10):
        await handler(queue).handle([mo("STOP"), mo("AIDE", "0622222222")])
        answerer = answerer_for(queue)
        await queue.answers.ensure_group()
        assert await answer_once(answerer, {"default": gateway}) == 2
        assert [(m.to, m.sender, m.text) for m in gateway.submitted] == [
            (NUMBER, "36111", CONFIRMATION),
            ("+33622222222", "36111", gateway.submitted[1].text)]
        assert all(m.reference.startswith("answer-") for m in gateway.submitted)
        logged = await log(redis, keys)
        assert [(e[b"reason"], e[b"result"], e[b"detail"]) for e in logged] == [
            (b"optout_confirmation", b"sent", b"gw-1"),
            (b"help", b"failed", b"invalid destination")]
        assert logged[0][b"to_hash"] == (await queue.optouts.hashed(NUMBER)).encode()
        assert await queued(redis, keys) == []
        assert await redis.hgetall(keys.answer_numbers) == {}
        assert await answer_once(answerer, {"default": gateway}) == 0


async def test_a_transient_failure_is_retried_then_an_old_answer_fails(
        redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "t")
    now = [0.0]
    quick = dataclasses.replace(ANSWERS, retry_s=0.001, max_age_h=1.0)
    gateway = FakeGateway(Retry("throttled"), Retry("throttled"))
    with trio.fail_after(10):
        await handler(queue).handle([mo("STOP")])
        entry_ms = int((await redis.xrange(keys.answers))[0].identifier.split(b"-")[0])
        now[0] = entry_ms / 1000 + 10
        answerer = answerer_for(queue, quick, clock=lambda: now[0])
        await queue.answers.ensure_group()
        assert await answer_once(answerer, {"default": gateway}) == 0  # pending: retried
        assert len(await queued(redis, keys)) == 1
        await trio.sleep(0.01)
        now[0] += 3600  # older than max_age_h by the time of the retry
        assert await answer_once(answerer, {"default": gateway}) == 1
    assert len(gateway.submitted) == 2
    assert [(e[b"result"], e[b"detail"]) for e in await log(redis, keys)] == [
        (b"failed", b"not sent within 1 h: throttled")]


def test_an_answer_goes_through_the_gateway_its_mo_came_from() -> None:
    smpp, http, other = FakeGateway(), FakeGateway(), FakeGateway()
    other.sender = "DISPATCH"
    gateways: dict[str, Any] = {"smpp": smpp, "http-gw": http}
    assert route(gateways, "smpp", "36111") is smpp  # an SMPP MO names its gateway
    assert route({"http-gw": http, "x": other}, "http", "36111") is http  # by its line
    assert route({"x": other}, "http", "36111") is other  # the only one
    assert route(gateways, "http", "36111") is None  # two send from that line: unknown


async def test_an_answer_with_no_route_here_waits(redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "t")
    gateways = {"a": FakeGateway(), "b": FakeGateway()}
    with trio.fail_after(10):
        await handler(queue).handle([mo("STOP")])
        await queue.answers.ensure_group()
        assert await answer_once(answerer_for(queue), gateways) == 0
        assert len(await queued(redis, keys)) == 1 and await log(redis, keys) == []


async def test_an_answer_whose_number_was_purged_is_logged_failed(
        redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "t")
    gateway = FakeGateway()
    with trio.fail_after(10):
        await handler(queue).handle([mo("STOP")])
        await redis.delete([keys.answer_numbers])  # what a purge of its campaign does
        await queue.answers.ensure_group()
        assert await answer_once(answerer_for(queue), {"default": gateway}) == 1
    assert gateway.submitted == []
    assert [(e[b"result"], e[b"detail"], e[b"to_hash"]) for e in await log(redis, keys)] == [
        (b"failed", b"no number (erased by a purge)", b"")]


async def post_inbound(port: int, messages: list[dict[str, str]]) -> None:
    async with httpx.AsyncClient() as client:
        body, headers = signed_json(messages)
        response = await client.post(f"http://127.0.0.1:{port}/inbound", content=body,
                                     headers=headers)
        assert response.status_code == 200


async def wait_for(predicate: Any, sim: Simulator) -> None:
    try:
        while not predicate():
            await trio.sleep(0.02)
    except trio.Cancelled:
        print("simulator stats:", sim.stats())  # what the timeout stopped on
        raise


async def test_with_the_simulator_one_confirmation_per_stop_and_help_answered(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    """Half the recipients reply STOP through the simulator: each gets exactly one
    confirmation, which the simulator does not count as sent after the STOP; a second STOP
    gets none, nor does its HELP; AIDE, HELP and INFO from another recipient get who sends
    (the campaign's sender) and how to object."""
    count = 20
    sim = Simulator(SimulatorConfig(http_port=0, seed=5, receipt_delay_ms=10,
                                    outcomes={"delivered": 1.0}, reply_share=0.5,
                                    reply_delay_ms=10, callback_secret=CALLBACK_SECRET))
    numbers = [f"+336{40_000_000 + i:08d}" for i in range(count)]  # as enqueue() writes them
    stops = [n for n in numbers if ReplyDecider(0.5, seed=5).replies(n)]
    quiet = next(n for n in numbers if n not in stops)
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(sim.serve)
            await enqueue(redis, settings, tmp_path, count)
            daemon = await daemon_for(redis, settings, port, answers=ANSWERS)
            ports = await nursery.start(daemon.run)
            await wait_for(lambda: sim.stats()["confirmations"] == len(stops), sim)
            await final_counts(redis, settings, count)
            line = "DISPATCH"  # the line the campaign went out from
            await post_inbound(ports.inbound, [
                {"from": stops[0], "to": line, "text": "STOP"},
                {"from": stops[0], "to": line, "text": "AIDE"},
                *({"from": quiet, "to": line, "text": text} for text in ("AIDE", "HELP", "info"))])
            await wait_for(lambda: sim.stats()["accepted"] == count + len(stops) + 3, sim)
            while len(await log(redis, keys)) < len(stops) + 3:
                await trio.sleep(0.02)
            daemon.stop()
            nursery.cancel_scope.cancel()
    stats = sim.stats()
    assert (stats["confirmations"], stats["sent_after_stop"], stats["duplicates"]) == (
        len(stops), 0, 0)
    assert 5 < len(stops) < 15
    assert stats["receipts"]["skipped"] == len(stops) + 3  # answers ask for no receipt
    assert await redis.hlen(keys.orphan_receipts) == 0
    logged = await log(redis, keys)
    assert sorted((e[b"reason"], e[b"result"]) for e in logged) == (
        [(b"help", b"sent")] * 3 + [(b"optout_confirmation", b"sent")] * len(stops))
    assert await queued(redis, keys) == [] and await redis.hgetall(keys.answer_numbers) == {}
    assert daemon.metrics.answers.labels("optout_confirmation", "sent")._value.get() == len(
        stops)
