"""Opening the Redis client: the configured URL, or the embedded server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import coredis

from dispatch.settings import Settings
from dispatch.store.script_link import LinkUnavailableError
from dispatch.store.server import ensure_embedded

Redis = coredis.Redis[bytes]


async def resolve_url(settings: Settings) -> str:
    """The configured Redis URL, starting the embedded server when there is none."""
    if settings.redis.url:
        return settings.redis.url
    return await ensure_embedded(Path(settings.state_dir))


@asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[Redis]:
    """The client, open for the block. coredis runs a task group underneath, which wraps
    whatever the block raises in an exception group; a lone exception is unwrapped so
    callers see (and catch) the error they raised."""
    url = await resolve_url(settings)
    client: Any = coredis.Redis.from_url(url, decode_responses=False)
    try:
        async with client:
            yield client
    except BaseExceptionGroup as group:
        raise _sole_exception(group) from None


def _sole_exception(group: BaseExceptionGroup[BaseException]) -> BaseException:
    while len(group.exceptions) == 1:
        inner = group.exceptions[0]
        if not isinstance(inner, BaseExceptionGroup):
            return inner
        group = inner
    return group


# Whatever a Redis call may raise: the server refused it, or could not be reached.
REDIS_ERRORS: tuple[type[BaseException], ...] = (coredis.exceptions.RedisError, OSError)

# Failures that pass (a restart, a failover, a dropped connection): worth waiting out.
# Anything else (a script error, a wrong type) is a bug and must not be retried forever.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    coredis.exceptions.ConnectionError,
    coredis.exceptions.ReadOnlyError,
    coredis.exceptions.TryAgainError,
    coredis.exceptions.ClusterDownError,
    TimeoutError,
    OSError,
    LinkUnavailableError,  # an OSError too; named for whoever reads this list
)
