"""Keys written before the Cluster hash tags are renamed once, on the first open (real
Redis): opt-outs, replies, answers, receipt maps and reservations keep working."""

from __future__ import annotations

import trio

from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.layout import LAYOUT, upgrade_layout
from dispatch.store.optout import OptOutStore, keyed_hash
from dispatch.store.redis import Redis, open_redis


async def write_old_layout(redis: Redis, prefix: str) -> None:
    """What a deployment of the previous layout holds."""
    await redis.set(f"{prefix}:secret", "s3cret")
    await redis.sadd(f"{prefix}:campaigns", ["c1"])
    await redis.sadd(f"{prefix}:optout:all", [keyed_hash("s3cret", "+33612000001")])
    await redis.sadd(f"{prefix}:optout:line:36111", [keyed_hash("s3cret", "+33612000002")])
    await redis.hset(f"{prefix}:optout:numbers", {"+33612000001": '{"all": 1}'})
    await redis.xadd(f"{prefix}:optout:audit", {"action": "opt_out"})
    await redis.xadd(f"{prefix}:inbound", {"text": "STOP"})
    await redis.xadd(f"{prefix}:answers", {"token": "t1"})
    await redis.hset(f"{prefix}:answers:numbers", {"t1": "+33612000001"})
    await redis.hset(f"{prefix}:dlr:493000", {"gw-1": "c1\t+33612000003"})
    await redis.hset(f"{prefix}:dlr:orphans", {"gw-2": "d\tok"})
    await redis.hset(f"{prefix}:reserve:2027-pres:abc", {"def": "client-a"})


async def old_deployment(redis: Redis, settings: Settings) -> Keys:
    """The test's prefix holding what the previous layout wrote, not yet marked."""
    keys = Keys(settings.redis.key_prefix)
    await redis.delete([keys.layout])
    await write_old_layout(redis, keys.prefix)
    return keys


async def test_an_older_layout_is_renamed_on_the_first_open(
        redis: Redis, settings: Settings) -> None:
    prefix = settings.redis.key_prefix
    with trio.fail_after(10):
        keys = await old_deployment(redis, settings)
        async with open_redis(settings) as upgraded:
            assert await upgraded.get(keys.layout) == LAYOUT.encode()
        optouts = OptOutStore(redis, keys)
        assert (await optouts.check("+33612000001"))["opted_out"]
        assert await optouts.opted_out_many(["+33612000002"], ["line:36111"]) == [True]
        assert await redis.xlen(keys.optout_audit) == 1
        assert await redis.xlen(keys.inbound) == 1
        assert await redis.xlen(keys.answers) == 1
        assert await redis.hget(keys.answer_numbers, "t1") == b"+33612000001"
        assert await redis.hget(keys.receipt_map(493000), "gw-1") == b"c1\t+33612000003"
        assert await redis.hget(keys.orphan_receipts, "gw-2") == b"d\tok"
        assert await redis.hget(keys.reservation_bucket("2027-pres", "abc"), "def") \
            == b"client-a"
        left = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
        assert not [key for key in left if b"{" not in key and key not in {
            f"{prefix}:secret".encode(), f"{prefix}:campaigns".encode(),
            keys.layout.encode()}]
        assert await upgrade_layout(redis, keys) == 0  # done once


async def test_what_an_older_daemon_wrote_after_the_upgrade_is_merged(
        redis: Redis, settings: Settings) -> None:
    prefix = settings.redis.key_prefix
    with trio.fail_after(10):
        keys = await old_deployment(redis, settings)
        assert await upgrade_layout(redis, keys) > 0
        # An older daemon, still running, records one more STOP and one more reply.
        await redis.sadd(f"{prefix}:optout:all", [keyed_hash("s3cret", "+33612000009")])
        await redis.hset(f"{prefix}:optout:numbers", {"+33612000009": '{"all": 2}'})
        await redis.xadd(f"{prefix}:inbound", {"text": "STOP encore"})
        await redis.delete([keys.layout])
        assert await upgrade_layout(redis, keys) == 3
        optouts = OptOutStore(redis, keys)
        assert await optouts.opted_out_many(["+33612000001", "+33612000009"], ["all"]) \
            == [True, True]
        assert await redis.hlen(keys.optout_numbers) == 2
        texts = [entry.field_values[b"text"] for entry in await redis.xrange(keys.inbound)]
        assert texts == [b"STOP", b"STOP encore"]


async def test_a_fresh_prefix_is_marked_without_looking_further(
        redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(10):
        await redis.delete([keys.layout])
        assert await upgrade_layout(redis, keys) == 0
        assert await redis.get(keys.layout) == LAYOUT.encode()


async def test_two_processes_opening_at_once_move_each_key_once(
        redis: Redis, settings: Settings) -> None:
    """`--processes 2`: both workers open Redis at the same moment."""
    prefix = settings.redis.key_prefix
    with trio.fail_after(10):
        keys = await old_deployment(redis, settings)
        for campaign, field in (("c1", "window"), ("c2", "deadline"), ("c1", "sender")):
            await redis.xadd(f"{prefix}:campaigns:changes",
                             {"campaign": campaign, "field": field})
        moved: list[int] = []

        async def upgrade() -> None:
            moved.append(await upgrade_layout(redis, keys))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(upgrade)
            nursery.start_soon(upgrade)
        assert sorted(moved) == [0, 11]
        fields = [[e.field_values[b"field"] for e in await redis.xrange(
            keys.campaign(c).changes)] for c in ("c1", "c2")]
        assert fields == [[b"window", b"sender"], [b"deadline"]]
        assert not await redis.exists([f"{prefix}:campaigns:changes"])
