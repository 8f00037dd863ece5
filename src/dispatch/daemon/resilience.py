"""Waiting out Redis outages instead of dropping work or crashing the daemon."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

from dispatch.daemon.metrics import DaemonMetrics
from dispatch.logs import OutageLog
from dispatch.store.redis import REDIS_ERRORS, is_transient

log = logging.getLogger(__name__)
T = TypeVar("T")

BACKOFF_S = (0.05, 0.2, 1.0, 2.0, 5.0)
# Redis lost and back, told once (and once a minute while it lasts) for the whole process,
# not once per retry of every task waiting for it.
REDIS_OUTAGE = OutageLog("redis", log, unit="failed calls", extra={"dependency": "redis"})


def redis_failed(exc: BaseException, operation: str = "") -> None:
    """A Redis call failed for a reason that passes (store.redis.is_transient): see
    REDIS_OUTAGE."""
    REDIS_OUTAGE.failed(error_kind(exc, operation))


def error_kind(exc: BaseException, operation: str = "") -> str:
    """`[operation: ]Kind: first line of the message` (at most 160 characters)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    kind = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return (f"{operation}: {kind}" if operation else kind)[:160]


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
            if not is_transient(exc):
                raise
            metrics.redis_errors.labels(operation).inc()
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            redis_failed(exc, operation)
            log.debug("redis %s failed (%s: %s); retrying in %.2f s", operation,
                      type(exc).__name__, exc, delay)
            attempt += 1
            await trio.sleep(delay)
        else:
            if attempt:  # the calls that never failed have nothing to tell
                REDIS_OUTAGE.recovered()
            return result
