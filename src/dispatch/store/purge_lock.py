"""The purge lock: one purge at a time (two rewriting the same shared stream would undo each
other), whether `dispatch purge` or a daemon's retention purge holds it.

Its value says who holds it (JSON: a random token, the host, the pid, the command, when it
was taken; never a number). Its TTL is short and renewed while the purge runs, by a task
beside it, only while the value is still this holder's (purge_lock.lua): a holder that dies
without a word (kill -9, a lost host) blocks the others a minute at most. It is released on
every way out of the purge, cancellation included (shielded, and given up after a few
seconds when Redis does not answer: the TTL then expires it). A renewal that finds the lock
gone or taken stops the purge at once rather than let it go on unlocked: every step of a
purge is idempotent, and the next purge finishes one that stopped half-way.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio
from coredis.tokens import PureToken

from dispatch.keys import Keys
from dispatch.store.redis import REDIS_ERRORS, Redis, _sole_exception
from dispatch.store.scripts import load_script

log = logging.getLogger(__name__)

# A dead holder blocks the others this long at most; renewed three times per TTL, so two
# renewals may fail (a Redis restart, a failover) before it runs out.
LOCK_TTL_S = 60.0
RENEW_EVERY_S = 20.0
RELEASE_TIMEOUT_S = 5.0  # then the TTL expires it


class PurgeLockLost(Exception):
    """A renewal found the lock expired or taken: the purge was stopped half-way."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds the purge lock: what its value says, and its TTL when read from Redis."""

    host: str  # "" when the value is not one this module wrote (an older dispatch)
    pid: int
    command: str  # "dispatch purge", "dispatch run consumer NAME"
    since: float  # when it was taken, Unix time (0: unknown)
    token: str = ""
    expires_in_s: float | None = None  # None: no TTL (or not read from Redis)

    @classmethod
    def here(cls, command: str) -> LockHolder:
        return cls(socket.gethostname(), os.getpid(), command, time.time(),
                   secrets.token_hex(8))

    @classmethod
    def parse(cls, raw: bytes, expires_in_s: float | None) -> LockHolder:
        try:
            fields = json.loads(raw)
            return cls(str(fields["host"]), int(fields["pid"]), str(fields["command"]),
                       float(fields["since"]), str(fields["token"]), expires_in_s)
        except (ValueError, TypeError, KeyError):
            return cls("", 0, "an older dispatch (who is not recorded)", 0.0, "",
                       expires_in_s)

    def value(self) -> str:
        return json.dumps({"token": self.token, "host": self.host, "pid": self.pid,
                           "command": self.command, "since": self.since})

    def describe(self, now: float | None = None) -> str:
        """'host X pid Y, dispatch purge, since 14:02:10 UTC, expires in 43 s'."""
        parts = [f"host {self.host} pid {self.pid}, {self.command}" if self.host
                 else self.command]
        if self.since:
            parts.append(f"since {_clock(self.since, now or time.time())}")
        parts.append("no expiry" if self.expires_in_s is None
                     else f"expires in {math.ceil(self.expires_in_s)} s")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """Who holds it (not the token: only the holder needs it)."""
        return {"host": self.host, "pid": self.pid, "command": self.command,
                "since": self.since or None, "expires_in_s": self.expires_in_s}


def _clock(moment: float, now: float) -> str:
    when, today = (dt.datetime.fromtimestamp(t, dt.UTC) for t in (moment, now))
    return when.strftime("%H:%M:%S UTC" if when.date() == today.date()
                         else "%Y-%m-%d %H:%M:%S UTC")


def _ms(seconds: float) -> int:
    return math.ceil(seconds * 1000)


async def read_holder(redis: Redis, keys: Keys) -> LockHolder | None:
    """Who holds the purge lock, or None when no purge is running."""
    return await _read(redis, keys.purge_lock)


async def _read(redis: Redis, key: str) -> LockHolder | None:
    raw = await redis.get(key)
    if raw is None:
        return None
    ttl_ms = await redis.pttl(key)
    if ttl_ms == -2:  # gone since the GET
        return None
    return LockHolder.parse(raw, ttl_ms / 1000 if ttl_ms >= 0 else None)


class PurgeLock:
    """The purge lock, as its holder sees it: taken, kept (renewed), released."""

    def __init__(self, redis: Redis, key: str, holder: LockHolder) -> None:
        self.holder = holder
        self.work = trio.CancelScope()  # the purge, cancelled when the lock is lost
        self._redis = redis
        self._key = key
        self._value = holder.value()
        self._script = redis.register_script(load_script("purge_lock"))
        self._lost = ""  # why, once a renewal found the lock no longer this holder's

    async def take(self) -> bool:
        taken = await self._redis.set(self._key, self._value, condition=PureToken.NX,
                                      px=_ms(LOCK_TTL_S))
        return bool(taken)

    async def keep(self) -> None:
        """Renew the lock every RENEW_EVERY_S; stop the purge once it is not ours any more."""
        while True:
            await trio.sleep(RENEW_EVERY_S)
            if not await self._renew():
                break
        self._lost = await self._why_lost()
        self.work.cancel()

    async def release(self) -> None:
        """Delete the lock if still ours; runs even when the holder is cancelled (shielded),
        and gives up after RELEASE_TIMEOUT_S (the TTL then expires it)."""
        with trio.move_on_after(RELEASE_TIMEOUT_S, shield=True) as scope:
            try:
                await self._script(keys=[self._key], args=[self._value, "0"])
            except REDIS_ERRORS as exc:
                log.warning("purge lock not released (%s: %s); it expires within %.0f s",
                            type(exc).__name__, exc, LOCK_TTL_S)
        if scope.cancelled_caught:
            log.warning("purge lock not released: Redis did not answer within %.0f s; it "
                        "expires within %.0f s", RELEASE_TIMEOUT_S, LOCK_TTL_S)

    def raise_if_lost(self) -> None:
        if self.work.cancelled_caught:
            raise PurgeLockLost(f"the purge lock was lost ({self._lost}): the purge stopped "
                                f"half-way; the next purge finishes it")

    async def _renew(self) -> bool:
        """False when the lock is not this holder's any more. True when renewed, and when
        Redis could not be asked this time: the next renewal asks again."""
        try:
            return bool(await self._script(keys=[self._key],
                                           args=[self._value, _ms(LOCK_TTL_S)]))
        except REDIS_ERRORS as exc:
            log.warning("purge lock not renewed this time (%s: %s); next try in %.0f s",
                        type(exc).__name__, exc, RENEW_EVERY_S)
            return True

    async def _why_lost(self) -> str:
        try:
            other = await _read(self._redis, self._key)
        except REDIS_ERRORS:
            other = None
        return f"now held by {other.describe()}" if other else "it expired before its renewal"


@asynccontextmanager
async def purge_lock(redis: Redis, keys: Keys, command: str = "dispatch purge"
                     ) -> AsyncIterator[PurgeLock | None]:
    """The purge lock for the block, or None when another process holds it. `command`: what
    holds it, shown to those refused. Raises PurgeLockLost when the block was stopped
    because a renewal found the lock expired or taken."""
    lock = PurgeLock(redis, keys.purge_lock, LockHolder.here(command))
    if not await lock.take():
        yield None
        return
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lock.keep)
            try:
                with lock.work:
                    yield lock
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # the block's own error, alone: unwrapped
        raise _sole_exception(group) from None
    finally:
        await lock.release()
    lock.raise_if_lost()
