"""Sentinel URLs, finding the master through real sentinels (coredis and the daemon's
links follow a failover), and waiting for replicas (store.replication), with real
redis-server and redis-sentinel processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from dispatch.redis_url import check, location, sentinel_url
from dispatch.settings import RedisSettings, Settings
from dispatch.store.links import open_script_link
from dispatch.store.redis import REDIS_ERRORS, is_transient, open_redis
from dispatch.store.replication import ReplicasBehind, Replication
from dispatch.store.script_link import link_address
from dispatch.store.sentinel import NoMasterError, master_address
from tests.redis_ha import MASTER_NAME, SentinelGroup, command, sentinel_group


@pytest.fixture
def group(tmp_path: Path) -> Iterator[SentinelGroup]:
    with sentinel_group(tmp_path) as started:
        yield started


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_logins() -> None:
    url = ("redis+sentinel://app:pw@10.0.0.1:26379,10.0.0.2,[::1]:26380/campaigns/2"
           "?sentinel_password=sp")
    found = sentinel_url(url)
    assert found.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26379), ("::1", 26380))
    assert (found.master, found.db, found.username, found.password) == (
        "campaigns", 2, "app", "pw")
    assert found.sentinel_password == "sp" and not found.tls
    assert location(url) == ("master campaigns by sentinels 10.0.0.1:26379, "
                             "10.0.0.2:26379, ::1:26380")
    assert "pw" not in location(url)
    address = link_address(url)
    assert address is not None and address.sentinel == found and address.password == "pw"
    assert link_address(url.replace("redis+", "rediss+")) is None  # TLS: coredis only


@pytest.mark.parametrize(("url", "problem"), [
    ("redis+sentinel:///m", "no sentinel"),
    ("redis+sentinel://h:1", "no master name"),
    ("redis+sentinel://:secret@h:99999/m", "a sentinel's port must be a number"),
    ("redis+sentinel://h:1/m/x", "the database must be a number, got 'x'"),
])
def test_a_malformed_sentinel_url_is_named_without_its_password(url: str, problem: str
                                                                ) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        check(url)
    assert "secret" not in str(caught.value)


async def test_the_sentinels_say_where_the_master_is(group: SentinelGroup) -> None:
    found = sentinel_url(group.url)
    assert await master_address(found) == ("127.0.0.1", group.master.port)
    unknown = sentinel_url(group.url.replace(MASTER_NAME, "nobody"))
    with pytest.raises(NoMasterError, match="knows no master 'nobody'"):
        await master_address(unknown)


async def test_coredis_and_the_link_follow_a_failover(group: SentinelGroup) -> None:
    settings = Settings(redis=RedisSettings(url=group.url, key_prefix="ha"))
    with trio.fail_after(30):
        async with open_redis(settings) as redis, open_script_link(group.url) as link:
            assert link is not None
            await redis.set(b"k", b"before")
            assert await link.command(["GET", "k"]) == b"before"
            group.master.kill()
            while True:  # until a sentinel promoted a replica (a second or two)
                try:
                    await redis.set(b"k", b"after")
                    break
                except REDIS_ERRORS as exc:  # the old master refuses: transient
                    assert is_transient(exc), exc
                    await trio.sleep(0.2)
            assert await link.command(["GET", "k"]) == b"after"
    assert group.master_port() in {replica.port for replica in group.replicas}


async def test_writes_wait_for_the_replicas_asked_for(group: SentinelGroup) -> None:
    settings = Settings(redis=RedisSettings(url=group.url, key_prefix="ha"))
    marker = "ha:replicated"
    async with open_redis(settings) as redis, open_script_link(group.url) as link:
        assert link is not None
        await link.command(["SET", "a", "1"])
        await Replication(2, 1000).confirmed(redis, marker, link)  # WAIT on the link
        await redis.set(b"b", b"2")
        await Replication(2, 1000).confirmed(redis, marker)  # coredis: a marker, waited for
        for replica in group.replicas:
            assert command(replica.port, "GET", "b") == b"$1\r\n2\r\n"
        await Replication(0).confirmed(redis, marker, link)  # asks nothing
        with pytest.raises(ReplicasBehind, match="2 of 3 replicas confirmed the writes "
                                                 "within 100 ms"):
            await Replication(3, 100).confirmed(redis, marker, link)
        with pytest.raises(ReplicasBehind, match="fewer than 3 replicas confirmed the "
                                                 "writes within 100 ms"):
            await Replication(3, 100).confirmed(redis, marker)
