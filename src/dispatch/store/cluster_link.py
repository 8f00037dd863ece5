"""The daemon's script calls on a Redis Cluster over lean links: one `ScriptLink` per master,
each call sent to the master of its first key's slot.

Why: through coredis' cluster client the daemon spent 56 µs of CPU per message on a
3-master cluster, against ~40 µs on a single Redis with the script link
(store/script_link.py says where coredis' cost per call goes). Every script the daemon
calls touches keys of one slot (keys.py: they share a hash tag), so routing by the first
key is enough; a call without keys goes to any master.

The map of slots to masters is CLUSTER SLOTS, asked of the first node that answers (the
URL's nodes, then every node the last answer named), at the first call and again:
- after a MOVED reply (the slot has another master: a failover, a resharding): the call
  then goes where the reply says;
- after an ASK reply (the slot is migrating and the key is on the target already): the
  call goes to the target behind ASKING (in the same write: ASKING holds for the next
  command of its connection only); the map stays as it is;
- after a lost or refused connection to a master (LinkUnavailableError: it died): the error
  is raised once the map is asked again, and the caller's retry (with_redis_retry) waits
  while the cluster promotes a replica, a second or two; the next try goes where the map
  then says. Callers failing together ask once (`_generation`).

What it does not do: WAIT (replication is per master, and which masters a batch wrote to
is not kept here: store/queue.py waits for replicas through coredis, a marker on every
master, store/replication.py). A command names keys of one slot: store/queue.py reads
each stream on its own (`_read_routed`), and never blocks on a link (a blocking read would
hold its master's connection, every call behind it waiting).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Final, TypeAlias

import trio
from coredis._utils import hash_slot

from dispatch.redis_url import ClusterUrl
from dispatch.store.resp import Arg, ErrorReply, ProtocolError, Reply
from dispatch.store.script_link import (
    CLIENT_NAME,
    LINK_FAILURES,
    REPLY_TIMEOUT_S,
    LinkAddress,
    LinkUnavailableError,
    ScriptError,
    ScriptLink,
    checked,
    open_stream,
)
from dispatch.store.sentinel import exchange

SLOTS: Final = 16384
# Redirections followed for one call before it counts as a transient failure (a resharding
# moving the slot again and again).
MAX_REDIRECTS: Final = 5
ASK_TIMEOUT_S: Final = 2.0  # a node that does not give its slots this soon: ask the next
REDIRECTS: Final = frozenset({"MOVED", "ASK"})

Address: TypeAlias = tuple[str, int]
SlotRange: TypeAlias = tuple[int, int, Address, list[Address]]  # first, last, master, replicas


def slot_of(key: str | bytes) -> int:
    """The key's slot: CRC16 of its hash tag (or of the whole key), mod 16384."""
    return int(hash_slot(key.encode() if isinstance(key, str) else key))


class ClusterScriptLink:
    """Script calls to a cluster's masters, a `ScriptLink` each. Use `open_script_link`
    (store/links.py): the links' reader tasks live in its nursery."""

    def __init__(self, found: ClusterUrl, nursery: trio.Nursery,
                 name: str = CLIENT_NAME) -> None:
        self._found = found
        self._nursery = nursery
        self._name = name
        self._links: dict[Address, ScriptLink] = {}  # every node ever routed to
        self._slots: list[ScriptLink | None] = [None] * SLOTS
        self._masters: list[ScriptLink] = []
        self._learnt: list[Address] = []  # the nodes the last CLUSTER SLOTS named
        self._generation = 0  # maps asked so far
        self._lock = trio.Lock()

    def register_script(self, source: str) -> ClusterScript:
        return ClusterScript(self, source)

    async def command(self, args: Sequence[Arg], blocks_s: float = 0.0, *,
                      key: str | bytes | None = None) -> Reply:
        """One command's reply, on the master of `key`'s slot (any master without one: a
        WAIT there would wait for that master's writes only); an error reply raises as
        ScriptLink.command's does."""
        slot = None if key is None else slot_of(key)
        return checked(await self.call(args, slot, REPLY_TIMEOUT_S + blocks_s))

    async def call(self, args: Sequence[Arg], slot: int | None,
                   timeout_s: float = REPLY_TIMEOUT_S) -> Reply:
        """One command's reply from the master of `slot` (None: any master), redirections
        followed; any other error reply is returned, not raised."""
        generation = self._generation
        link = await self._route(slot, generation)
        generation = self._generation  # the first call asked for the map
        asking = False
        for _ in range(MAX_REDIRECTS):
            try:
                reply = await link.call(args, timeout_s, asking=asking)
            except LinkUnavailableError:
                await self._refresh(generation)
                raise
            if not (isinstance(reply, ErrorReply) and reply.code in REDIRECTS):
                return reply
            asking = reply.code == "ASK"
            if not asking:
                await self._refresh(generation)
                generation = self._generation
            link = await self._redirected(reply, slot, generation)
        raise LinkUnavailableError(f"still redirected after {MAX_REDIRECTS} tries")

    async def aclose(self) -> None:
        for link in self._links.values():
            await link.aclose()

    async def _route(self, slot: int | None, generation: int) -> ScriptLink:
        """The link to `slot`'s master; the map asked first if it has none."""
        link = self._master_of(slot)
        if link is None:
            await self._refresh(generation)
            link = self._master_of(slot)
        if link is None:
            raise LinkUnavailableError(f"no master serves slot {slot} (the cluster's map "
                                       "is incomplete)")
        return link

    def _master_of(self, slot: int | None) -> ScriptLink | None:
        if slot is None:
            return self._masters[0] if self._masters else None
        return self._slots[slot]

    async def _redirected(self, reply: ErrorReply, slot: int | None, generation: int
                          ) -> ScriptLink:
        """The link to the node a MOVED or ASK names ("MOVED 3999 127.0.0.1:6381"); the
        map's master when the reply names no address (an unknown endpoint, "?:6381")."""
        words = reply.message.split(" ")
        host, _, port = words[-1].rpartition(":")
        if len(words) == 3 and host and host != "?" and port.isdigit():
            return self._link((host, int(port)))
        return await self._route(slot, generation)

    def _link(self, address: Address) -> ScriptLink:
        link = self._links.get(address)
        if link is None:
            link = self._links[address] = ScriptLink(self._address(address), self._nursery,
                                                     self._name)
        return link

    def _address(self, address: Address) -> LinkAddress:
        return LinkAddress(host=address[0], port=address[1], username=self._found.username,
                           password=self._found.password)

    async def _refresh(self, seen: int) -> None:
        """Ask the cluster for its map again, unless another caller did since map `seen`."""
        async with self._lock:
            if self._generation != seen:
                return
            ranges = await self._ask_slots()
            await self._apply(ranges)
            self._generation += 1

    async def _ask_slots(self) -> list[SlotRange]:
        """CLUSTER SLOTS of the first node that answers; LinkUnavailableError (transient)
        when none does."""
        reasons: list[str] = []
        for address in dict.fromkeys([*self._found.nodes, *self._learnt]):
            try:
                with trio.fail_after(ASK_TIMEOUT_S):
                    return await self._slots_of(address)
            except (*LINK_FAILURES, trio.TooSlowError, ScriptError) as exc:
                reasons.append(f"{address[0]}:{address[1]}: {type(exc).__name__}")
        raise LinkUnavailableError("no node of the cluster gave its slots: "
                                   + "; ".join(reasons))

    async def _slots_of(self, address: Address) -> list[SlotRange]:
        stream = await open_stream(self._address(address), self._name)
        try:
            reply = await exchange(stream, ["CLUSTER", "SLOTS"])
        finally:
            await stream.aclose()
        if isinstance(reply, ErrorReply):
            raise ScriptError(f"CLUSTER SLOTS refused: {reply.message}")
        return slot_ranges(reply, address[0])

    async def _apply(self, ranges: list[SlotRange]) -> None:
        """The new map; the links to nodes that no longer serve slots closed."""
        slots: list[ScriptLink | None] = [None] * SLOTS
        masters: dict[Address, ScriptLink] = {}
        learnt: list[Address] = []
        for first, last, master, replicas in ranges:
            link = masters[master] = self._link(master)
            slots[first:last + 1] = [link] * (last + 1 - first)
            learnt += [master, *replicas]
        self._slots, self._masters = slots, list(masters.values())
        self._learnt = list(dict.fromkeys(learnt))
        for address, link in self._links.items():
            if address not in masters:
                await link.aclose()


def slot_ranges(reply: Reply, asked: str) -> list[SlotRange]:
    """CLUSTER SLOTS' reply: [[first, last, [host, port, id...], [replica...]...]...]. An
    empty host means the node asked (`asked`)."""
    if not isinstance(reply, list):
        raise ProtocolError(f"CLUSTER SLOTS gave {type(reply).__name__}, not a list")
    ranges: list[SlotRange] = []
    for item in reply:
        match item:
            case [int(first), int(last), master, *replicas]:
                ranges.append((first, last, _node(master, asked),
                               [_node(replica, asked) for replica in replicas]))
            case _:
                raise ProtocolError("a malformed range in CLUSTER SLOTS")
    return ranges


def _node(item: Reply, asked: str) -> Address:
    match item:
        case [bytes(host), int(port), *_]:
            return (host.decode() or asked, port)
    raise ProtocolError("a malformed node in CLUSTER SLOTS")


class ClusterScript:
    """A Lua script called by its SHA1 on the master of its first key's slot, sent whole
    once where that master does not know it (LinkScript's twin)."""

    def __init__(self, link: ClusterScriptLink, source: str) -> None:
        self._link = link
        self._source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, keys: Sequence[str | bytes] = (), args: Sequence[Any] = ()
                       ) -> Any:
        slot = slot_of(keys[0]) if keys else None
        tail = [len(keys), *keys, *args]
        reply = await self._link.call(["EVALSHA", self.sha, *tail], slot)
        if isinstance(reply, ErrorReply) and reply.code == "NOSCRIPT":
            reply = await self._link.call(["EVAL", self._source, *tail], slot)
        return checked(reply)
