"""The daemon's start-up check of the Redis settings (store.server_config, app): a policy
that evicts keys is warned about, a CONFIG it may not run is noted, nothing stops it. Each
test runs a redis-server of its own: the session's shared one is never reconfigured."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from dispatch import app
from dispatch.app import check_redis_config
from dispatch.settings import RedisSettings, Settings
from dispatch.store.redis import Redis, open_redis
from dispatch.store.server_config import ConfigUnreadable, ServerConfig, server_config
from tests.e2e.harness import free_port
from tests.redis_server import start_redis, stop_redis

TIMEOUT_S = 30
PLACE = "the test's Redis"


@asynccontextmanager
async def own_redis(folder: Path, args: Sequence[str] = ()) -> AsyncIterator[Redis]:
    port = free_port()
    process = await start_redis(folder, port, args)
    try:
        settings = Settings(redis=RedisSettings(url=f"redis://127.0.0.1:{port}/0"))
        async with open_redis(settings) as client:
            yield client
    finally:
        await stop_redis(process)


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == app.__name__]


async def test_the_settings_are_read(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT_S):
        async with own_redis(tmp_path, ["--appendonly", "yes"]) as redis:
            assert await server_config(redis) == ServerConfig("noeviction", "yes")
            await redis.config_set({"maxmemory-policy": "volatile-lru"})
            config = await server_config(redis)
    assert config == ServerConfig("volatile-lru", "yes") and config.evicts


async def test_a_policy_that_evicts_keys_is_warned_about_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, app.__name__)
    with trio.fail_after(TIMEOUT_S):
        async with own_redis(tmp_path) as redis:
            await redis.config_set({"maxmemory-policy": "allkeys-lru"})
            await check_redis_config(redis, PLACE)
    assert lines(caplog) == [
        ("WARNING", "Redis evicts keys under memory pressure (maxmemory-policy allkeys-lru): "
                    "queued messages and opt-outs can be lost; set `maxmemory-policy "
                    f"noeviction` in redis.conf ({PLACE})"),
        ("DEBUG", f"Redis settings: maxmemory-policy allkeys-lru, appendonly no ({PLACE})")]


async def test_noeviction_is_not_warned_about(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, app.__name__)
    with trio.fail_after(TIMEOUT_S):
        async with own_redis(tmp_path) as redis:
            await redis.config_set({"maxmemory-policy": "noeviction"})
            await check_redis_config(redis, PLACE)
    assert [level for level, _ in lines(caplog)] == ["DEBUG"]  # nothing at INFO or above


@pytest.mark.parametrize("args, refusal", [
    # Quoted `so` by Redis 6, 'so' by Redis 7.
    (["--rename-command", "CONFIG", ""], "unknown command .CONFIG."),
    (["--user", "default", "on", "nopass", "~*", "+@all", "-config"],
     "no permissions to run the 'config(\\|get)?' command"),  # Redis 6 / Redis 7
], ids=["CONFIG renamed", "CONFIG not allowed by the ACL"])
async def test_a_config_it_may_not_run_is_noted_and_the_start_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, args: list[str],
        refusal: str) -> None:
    caplog.set_level(logging.DEBUG, app.__name__)
    with trio.fail_after(TIMEOUT_S):
        async with own_redis(tmp_path, args) as redis:
            with pytest.raises(ConfigUnreadable, match=refusal):
                await server_config(redis)
            await check_redis_config(redis, PLACE)
            assert await redis.ping()  # nothing broke on the way
    [(level, line)] = lines(caplog)
    assert level == "INFO"
    assert line.startswith("could not check the Redis settings (CONFIG GET "
                           "maxmemory-policy appendonly): ")
    assert re.search(refusal, line) and line.endswith(f"({PLACE})")
