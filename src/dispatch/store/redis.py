"""Opening the Redis client: the configured URL, or the embedded server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import coredis

from dispatch.settings import Settings
from dispatch.store.server import ensure_embedded

Redis = coredis.Redis[bytes]


async def resolve_url(settings: Settings) -> str:
    """The configured Redis URL, starting the embedded server when there is none."""
    if settings.redis.url:
        return settings.redis.url
    return await ensure_embedded(Path(settings.state_dir))


@asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[Redis]:
    url = await resolve_url(settings)
    client: Any = coredis.Redis.from_url(url, decode_responses=False)
    async with client:
        yield client
