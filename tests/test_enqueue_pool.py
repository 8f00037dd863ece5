"""A campaign names its pool of lines: stored in its meta, checked against the config."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dispatch.enqueue import EnqueueError, gateway_of
from dispatch.keys import Keys
from dispatch.settings import Settings, load_settings
from dispatch.store.redis import Redis
from tests.test_enqueue import run, write

POOLS = ('[pools.paris]\ngateway = "sms"\nrate = 1\nlines = [{ numbers = ["36111"] }]\n'
         '[pools.lyon]\ngateway = "sms"\nrate = 1\nlines = [{ numbers = ["36112"] }]\n'
         '[pools.solo]\ngateway = "voice"\nrate = 1\nlines = [{ numbers = ["36113"] }]\n'
         '[gateways.default]\n[gateways.sms]\n[gateways.voice]\n')


@pytest.fixture
def pooled(settings: Settings, tmp_path: Path) -> Settings:
    loaded = load_settings(write(tmp_path, POOLS, "dispatch.toml"), env={})
    return Settings(redis=settings.redis, gateways=loaded.gateways, lines=loaded.lines,
                    state_dir=settings.state_dir)


async def meta(redis: Redis, settings: Settings, field: str) -> bytes | None:
    return await redis.hget(Keys(settings.redis.key_prefix).campaign("c1").meta, field)


async def test_the_pool_named_is_stored_in_the_meta(
        redis: Redis, pooled: Settings, tmp_path: Path) -> None:
    report = await run(redis, pooled, write(tmp_path, "phone,first_name\n0611111111,Ana\n"),
                       gateway="sms", pool="lyon")
    assert report.accepted == 1
    assert await meta(redis, pooled, "pool") == b"lyon"


async def test_without_a_pool_the_gateway_s_only_pool_else_none(
        redis: Redis, pooled: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "phone,first_name\n0611111111,Ana\n")
    await run(redis, pooled, path, gateway="voice")
    assert await meta(redis, pooled, "pool") == b"solo"
    await run(redis, pooled, path, campaign="c2", gateway="sms")  # two pools: none
    keys = Keys(pooled.redis.key_prefix)
    assert await redis.hget(keys.campaign("c2").meta, "pool") == b""


async def test_a_pool_of_another_gateway_or_unknown_is_refused(
        redis: Redis, pooled: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "phone,first_name\n0611111111,Ana\n")
    with pytest.raises(EnqueueError, match="pool 'solo' is on gateway 'voice', not 'sms'"):
        await run(redis, pooled, path, gateway="sms", pool="solo")
    with pytest.raises(EnqueueError, match="unknown pool 'nice'"):
        await run(redis, pooled, path, gateway="sms", pool="nice")


async def test_a_rerun_with_another_pool_is_a_conflict(
        redis: Redis, pooled: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "phone,first_name\n0611111111,Ana\n")
    await run(redis, pooled, path, gateway="sms", pool="paris")
    with pytest.raises(EnqueueError, match="already exists on pool 'paris', not 'lyon'"):
        await run(redis, pooled, path, gateway="sms", pool="lyon")


def test_the_gateway_defaults_to_the_pool_s(pooled: Settings) -> None:
    assert gateway_of(pooled, None, "solo") == "voice"
    assert gateway_of(pooled, "sms", "solo") == "sms"  # given: checked by campaign_spec
    assert gateway_of(pooled, None, None) == "default"  # two gateways: none is implied


def test_the_only_gateway_configured_needs_no_name(pooled: Settings) -> None:
    only = replace(pooled, gateways={"operator": pooled.gateways["sms"]})
    assert gateway_of(only, None, None) == "operator"
