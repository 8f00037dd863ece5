"""The daemon's script link to a Redis Cluster (store/cluster_link.py), on a real cluster of
3 masters with a replica each: calls routed to the master of their first key's slot, ASK
and MOVED followed as a slot migrates, a dead master waited out until its replica serves.
The daemon's stores are tested through it too: the `scripts` fixture's cluster variant."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio

from dispatch.store.cluster_link import ClusterScriptLink, slot_of, slot_ranges
from dispatch.store.links import open_script_link
from dispatch.store.resp import ProtocolError
from dispatch.store.script_link import LinkUnavailableError
from tests.redis_cluster import ClusterGroup, redis_cluster
from tests.redis_ha import command, free_port

SET_AND_GET = "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])"
KEYS = ["{c1}:state", "{c2}:state", "{optout}:set", "{dlr}:map", "{calls}:cap"]


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterGroup]:
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as formed:
        yield formed


def info_count(port: int, section: str, name: str) -> int:
    """A count in INFO `section` ("errorstat_MOVED:count=3"), 0 when absent."""
    for line in command(port, "INFO", section).decode().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split("count=")[1].split(",")[0])
    return 0


def node_id(port: int) -> str:
    return command(port, "CLUSTER", "MYID").split(b"\r\n")[1].decode()


def keys_in_slot(port: int, slot: int) -> int:
    return int(command(port, "CLUSTER", "COUNTKEYSINSLOT", str(slot))[1:].strip())


async def test_each_call_goes_to_the_master_of_its_first_key(group: ClusterGroup) -> None:
    with trio.fail_after(30):
        async with open_script_link(group.url) as link:
            assert isinstance(link, ClusterScriptLink)
            script = link.register_script(SET_AND_GET)
            moved = sum(info_count(p, "errorstats", "errorstat_MOVED")
                        for p in group.master_ports())
            for key in KEYS:
                assert await script(keys=[key], args=[f"v-{key}"]) == f"v-{key}".encode()
            assert await link.command(["PING"]) == b"PONG"  # no key: any master
            assert await link.command(["GET", KEYS[0]], key=KEYS[0]) == b"v-" + KEYS[0].encode()
        assert len({group.master_port_for(key) for key in KEYS}) == 3  # every master had some
        for key in KEYS:
            port = group.master_port_for(key)
            assert keys_in_slot(port, slot_of(key)) == 1
        # Each sent straight to its master: no redirection on the way.
        assert sum(info_count(p, "errorstats", "errorstat_MOVED")
                   for p in group.master_ports()) == moved


async def test_a_migrating_slot_is_followed_by_ask_then_moved(group: ClusterGroup) -> None:
    key = "{migrating}:k"
    slot = slot_of(key)
    with trio.fail_after(30):
        async with open_script_link(group.url) as link:
            assert isinstance(link, ClusterScriptLink)
            script = link.register_script(SET_AND_GET)
            assert await link.command(["EXISTS", key], key=key) == 0  # the map is known
            source = group.master_port_for(key)
            target = next(port for port in group.master_ports() if port != source)
            command(target, "CLUSTER", "SETSLOT", str(slot), "IMPORTING", node_id(source))
            command(source, "CLUSTER", "SETSLOT", str(slot), "MIGRATING", node_id(target))
            asked, moved = (info_count(source, "errorstats", f"errorstat_{code}")
                            for code in ("ASK", "MOVED"))
            # A key the source does not have: ASK, then ASKING and the call on the target.
            assert await script(keys=[key], args=["asked"]) == b"asked"
            assert (keys_in_slot(source, slot), keys_in_slot(target, slot)) == (0, 1)
            assert info_count(source, "errorstats", "errorstat_ASK") == asked + 1
            for port in (target, source):
                command(port, "CLUSTER", "SETSLOT", str(slot), "NODE", node_id(target))
            # The slot is the target's now: the source says MOVED, the call follows.
            assert await script(keys=[key], args=["moved"]) == b"moved"
            assert info_count(source, "errorstats", "errorstat_MOVED") == moved + 1
            assert await link.command(["GET", key], key=key) == b"moved"


async def test_a_dead_master_is_waited_out_until_its_replica_serves(
        group: ClusterGroup) -> None:
    key = "{failover}:k"
    with trio.fail_after(60):
        async with open_script_link(group.url) as link:
            assert isinstance(link, ClusterScriptLink)
            script = link.register_script(SET_AND_GET)
            assert await script(keys=[key], args=["before"]) == b"before"
            # On the link's own connection to that master: its replica has the write.
            assert await link.command(["WAIT", 1, 2000], key=key, blocks_s=2) == 1
            killed = group.master_port_for(key)
            promoted = await trio.to_thread.run_sync(group.kill_master, killed)
            failures = 0
            while True:  # as with_redis_retry does: transient failures, then success
                try:
                    assert await link.command(["GET", key], key=key) == b"before"
                    break
                except LinkUnavailableError:
                    failures += 1
                    await trio.sleep(0.1)
            assert failures <= 1  # refused once at most: the map was asked again then
            assert await script(keys=[key], args=["after"]) == b"after"
            assert group.master_port_for(key) == promoted


def test_a_malformed_slot_map_is_a_protocol_error() -> None:
    ranges = slot_ranges([[0, 5460, [b"", 7000, b"id"], [b"10.0.0.2", 7003, b"id2"]]],
                         "10.0.0.1")
    assert ranges == [(0, 5460, ("10.0.0.1", 7000), [("10.0.0.2", 7003)])]
    for reply in (b"x", [[0, b"5460", [b"h", 7000]]], [[0, 5460, [7000]]]):
        with pytest.raises(ProtocolError):
            slot_ranges(reply, "h")


async def test_no_node_answering_is_a_transient_failure() -> None:
    with trio.fail_after(10):
        async with open_script_link(f"redis+cluster://127.0.0.1:{free_port()}") as link:
            assert link is not None
            with pytest.raises(LinkUnavailableError, match="no node of the cluster"):
                await link.command(["PING"])
        async with open_script_link("rediss+cluster://127.0.0.1:7000") as tls:
            assert tls is None  # TLS: coredis
