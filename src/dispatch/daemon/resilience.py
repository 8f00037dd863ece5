"""Waiting out Redis outages instead of dropping work or crashing the daemon."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

from dispatch.daemon.metrics import DaemonMetrics
from dispatch.logs import OutageLog, error_kind
from dispatch.store.redis import REDIS_ERRORS, is_transient

log = logging.getLogger(__name__)
T = TypeVar("T")

BACKOFF_S = (0.05, 0.2, 1.0, 2.0, 5.0)
# Redis lost and back, told once (and once a minute while it lasts) for the whole process,
# not once per retry of every task waiting for it.
REDIS_OUTAGE = OutageLog("redis", log, unit="failed calls", extra={"dependency": "redis"})


class RedisBack:
    """Wakes whatever waits out a Redis outage as soon as Redis is seen answering again
    (a call that succeeds, the health check's PING), not at the end of a backoff that has
    grown to 5 s: after a 30 s outage every task resumes within the PING period
    (lifecycle.REDIS_DOWN_CHECK_S) instead of up to 5 s later, one after another."""

    def __init__(self) -> None:
        self._event: trio.Event | None = None

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` (none if not positive), or less if Redis answers again
        meanwhile."""
        if self._event is None:
            self._event = trio.Event()
        with trio.move_on_after(max(0.0, seconds)):
            await self._event.wait()

    def answered(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None


REDIS_BACK = RedisBack()


def redis_recovered() -> None:
    """A Redis call succeeded after failures: tell it once, wake the others."""
    REDIS_OUTAGE.recovered()
    REDIS_BACK.answered()


def redis_failed(exc: BaseException, operation: str = "") -> None:
    """A Redis call failed for a reason that passes (store.redis.is_transient): see
    REDIS_OUTAGE."""
    REDIS_OUTAGE.failed(error_kind(exc, operation))


async def with_redis_retry(operation: str, call: Callable[[], Awaitable[T]],
                           metrics: DaemonMetrics) -> T:
    """Run a Redis call until it succeeds, backing off between transient failures.

    Safe because every daemon operation is idempotent: a script whose reply was lost and
    that runs twice finds the state already moved and changes nothing more.
    """
    attempt = 0
    while True:
        try:
            result = await call()
        except REDIS_ERRORS as exc:
            failure: BaseException = exc
        except BaseExceptionGroup as group:  # lookups side by side, each losing Redis
            found = redis_failure_of(group)
            if found is None:
                raise
            failure = found
        else:
            if attempt:  # the calls that never failed have nothing to tell
                redis_recovered()
            return result
        if not is_transient(failure):
            raise failure
        metrics.redis_errors.labels(operation).inc()
        delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
        redis_failed(failure, operation)
        log.debug("redis %s failed (%s: %s); retrying in %.2f s", operation,
                  type(failure).__name__, failure, delay)
        attempt += 1
        await REDIS_BACK.sleep(delay)


def redis_failure_of(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The first failure of a task group whose failures are all Redis errors (several
    calls side by side losing the same connection), else None: anything else is a bug."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        error = pending.pop()
        if isinstance(error, BaseExceptionGroup):
            pending.extend(reversed(error.exceptions))
        else:
            leaves.append(error)
    if leaves and all(isinstance(error, REDIS_ERRORS) for error in leaves):
        return leaves[0]
    return None
