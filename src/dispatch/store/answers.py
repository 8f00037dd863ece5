"""Answers to send to recipients (HELP, opt-out confirmations): the stream and its log.

An answer is queued by the same atomic write that records what it answers (an opt-out in
optout_change.lua, a HELP with the reply in Queue.store_inbound): a stream entry (token,
line, gateway, text, reason) read by the daemons' answerers through a consumer group, and
the number it goes to in a hash under the token (keys.answer_numbers: deleting a hash field
frees it for good, so neither a sent answer nor a purge leaves a number behind). Settled
once: its result (sent with the gateway's id, or failed with the reason) goes to a capped
log holding the number's keyed hash, never the number; the entry is acked and deleted with
its number. A transient failure leaves the entry pending: it is claimed again once idle
`retry_s`, by this daemon or another.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from coredis.exceptions import StreamDuplicateConsumerGroupError
from coredis.tokens import PureToken

from dispatch.keys import ANSWER_GROUP, Keys
from dispatch.store.redis import Redis

LOG_MAX: Final = 100_000  # entries kept in the answers log (approximately)
SENT: Final = "sent"
FAILED: Final = "failed"


@dataclass(frozen=True, slots=True)
class Answer:
    to: str  # the recipient (E.164 where the MO's sender could be read as a number)
    line: str  # the line that received the MO: the answer goes out from it
    gateway: str  # the gateway the MO came from, which submits the answer
    text: str
    reason: str  # dispatch.policy.answers: "help" or "optout_confirmation"
    token: str = field(default_factory=lambda: secrets.token_hex(8))

    def fields(self) -> dict[str, str]:
        """The stream entry: everything but the number (kept under the token)."""
        return {"token": self.token, "line": self.line, "gateway": self.gateway,
                "text": self.text, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Queued:
    entry_id: str
    answer: Answer  # `to` is "" when its number was erased (a purge) or the entry damaged

    @property
    def queued_at(self) -> float:
        """When it was queued (seconds), from the stream id."""
        return int(self.entry_id.split("-")[0]) / 1000


@dataclass(frozen=True, slots=True)
class Settled:
    queued: Queued
    result: str  # SENT or FAILED
    detail: str  # the gateway's id, or the reason of the failure


class AnswerStore:
    def __init__(self, redis: Redis, keys: Keys, consumer: str) -> None:
        self._redis = redis
        self._keys = keys
        self.consumer = consumer

    def queue(self, pipe: Any, answers: Sequence[Answer]) -> None:
        """Add the commands queueing `answers` to a transaction."""
        for answer in answers:
            pipe.hset(self._keys.answer_numbers, {answer.token: answer.to})
            pipe.xadd(self._keys.answers, answer.fields())

    async def ensure_group(self) -> None:
        with contextlib.suppress(StreamDuplicateConsumerGroupError):  # made already
            await self._redis.xgroup_create(self._keys.answers, ANSWER_GROUP, identifier="0",
                                            mkstream=True)

    async def claim(self, min_idle_s: float, count: int) -> list[Queued]:
        """Answers pending this long (a retry due, or a dead daemon's), taken over."""
        reply: Any = await self._redis.xautoclaim(
            self._keys.answers, ANSWER_GROUP, self.consumer, int(min_idle_s * 1000), "0-0",
            count=count)
        return await self._with_numbers([entry for entry in reply[1] if entry is not None])

    async def read(self, count: int, block_ms: int) -> list[Queued]:
        reply = await self._redis.xreadgroup(ANSWER_GROUP, self.consumer,
                                             streams={self._keys.answers: ">"},
                                             count=count, block=block_ms)
        return await self._with_numbers(
            [entry for entries in (reply or {}).values() for entry in entries])

    async def settle(self, settled: Sequence[Settled], secret: str) -> None:
        """Log each result; ack and delete its entry and its number (one transaction)."""
        if not settled:
            return
        now = f"{time.time():.3f}"
        ids = [s.queued.entry_id for s in settled]
        async with self._redis.pipeline(transaction=True) as pipe:
            for item in settled:
                pipe.xadd(self._keys.answers_log, _log_fields(item, secret, now),
                          trim_strategy=PureToken.MAXLEN, threshold=LOG_MAX,
                          trim_operator=PureToken.APPROXIMATELY)
            pipe.xack(self._keys.answers, ANSWER_GROUP, ids)
            pipe.xdel(self._keys.answers, ids)
            pipe.hdel(self._keys.answer_numbers, [s.queued.answer.token for s in settled])

    async def _with_numbers(self, entries: Sequence[Any]) -> list[Queued]:
        queued = [_queued(entry) for entry in entries]
        if not queued:
            return []
        numbers = await self._redis.hmget(self._keys.answer_numbers,
                                          [q.answer.token for q in queued])
        return [Queued(q.entry_id, _with_to(q.answer, number))
                for q, number in zip(queued, numbers, strict=True)]


def _queued(entry: Any) -> Queued:
    fields = {k.decode(): v.decode(errors="replace")
              for k, v in (entry.field_values or {}).items()}
    answer = Answer("", fields.get("line", ""), fields.get("gateway", ""),
                    fields.get("text", ""), fields.get("reason", ""), fields.get("token", ""))
    return Queued(entry.identifier.decode(), answer)


def _with_to(answer: Answer, number: bytes | None) -> Answer:
    return Answer(number.decode() if number else "", answer.line, answer.gateway, answer.text,
                  answer.reason, answer.token)


def _log_fields(item: Settled, secret: str, now: str) -> dict[str, str]:
    answer = item.queued.answer
    hashed = hashlib.sha1(f"{secret}:{answer.to}".encode()).hexdigest() if answer.to else ""
    return {"at": now, "to_hash": hashed, "line": answer.line, "gateway": answer.gateway,
            "reason": answer.reason, "result": item.result, "detail": item.detail,
            "queued_at": f"{item.queued.queued_at:.3f}"}
