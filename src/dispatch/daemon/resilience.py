"""Waiting out Redis outages instead of dropping work or crashing the daemon."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

from dispatch.daemon.metrics import DaemonMetrics
from dispatch.store.redis import TRANSIENT_ERRORS

log = logging.getLogger(__name__)
T = TypeVar("T")

BACKOFF_S = (0.05, 0.2, 1.0, 2.0, 5.0)


async def with_redis_retry(operation: str, call: Callable[[], Awaitable[T]],
                           metrics: DaemonMetrics) -> T:
    """Run a Redis call until it succeeds, backing off between transient failures.

    Safe because every daemon operation is idempotent: a script whose reply was lost and
    that runs twice finds the state already moved and changes nothing more.
    """
    attempt = 0
    while True:
        try:
            return await call()
        except TRANSIENT_ERRORS as exc:
            metrics.redis_errors.labels(operation).inc()
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            log.warning("redis %s failed (%s: %s); retrying in %.2f s", operation,
                        type(exc).__name__, exc, delay)
            attempt += 1
            await trio.sleep(delay)
