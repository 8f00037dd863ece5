"""The suppression list: who opted out, in which scope, since when, and the audit of it.

A number that opted out is kept twice: as a keyed hash in the set of each scope (what
enqueue and the daemon check, in Lua, so an erased number's objection still holds) and in
clear in a hash (what `optout check` and `optout export` read). A purge erases the clear
entry and keeps the hashes: `export` lists those too, as `hash:<sha1>`, marked. Every
change is appended to an audit stream with when, what, the source (an MO, the CLI, an
import) and, for an MO, its line, raw text and the campaign it answered. A change is one
script call for a batch (optout_change.lua); a new opt-out may carry its confirmation,
queued in the same call.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import msgpack
from coredis.tokens import PureToken

from dispatch.keys import Keys
from dispatch.store.answers import Answer
from dispatch.store.globs import glob_escape
from dispatch.store.redis import Redis
from dispatch.store.scripts import ScriptHost, load_script, packed

ALL = "all"
CHANGE_CHUNK = 1000  # changes per script call: Redis serves others between two chunks
SCAN_CHUNK = 1000  # entries per HSCAN/SSCAN call of an export, keys per SCAN call
HASH_PREFIX = "hash:"  # what export writes for a number a purge reduced to its keyed hash


def line_scope(line: str) -> str:
    """The scope of a STOP sent to `line` (a short code or number): every client using it."""
    return f"line:{line}"


def keyed_hash(secret: str, number: str) -> str:
    """What the scope sets hold for `number` (the Lua `redis.sha1hex(secret .. ':' ..
    number)`)."""
    return hashlib.sha1(f"{secret}:{number}".encode()).hexdigest()


def scopes_for_sender(sender: str) -> list[str]:
    """The scopes that stop a message sent from `sender` ("": not known yet, e.g. a pool's
    campaign before a line is chosen: only the opt-outs of every line)."""
    return [ALL, line_scope(sender)] if sender else [ALL]


class Exported(NamedTuple):
    """One opt-out as `export` lists it: in clear, or kept only as its keyed hash."""

    number: str  # E.164, or "hash:<sha1>" when kept as a hash
    scope: str
    since: float | None  # None when kept as a hash (the date went with the number)
    kept_as: Literal["number", "hash"]


@dataclass(frozen=True)
class OptOutEvent:
    """One change to the list, as the audit records it."""

    number: str
    scope: str
    source: str  # "mo", "cli", "import"
    line: str = ""
    text: str = ""
    campaign: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    # Queued if this opt-out is new (the confirmation): see optout_change.lua.
    answer: Answer | None = None


class OptOutStore:
    def __init__(self, redis: Redis, keys: Keys, *, scripts: ScriptHost | None = None
                 ) -> None:
        self._redis = redis
        self._keys = keys
        self._secret: str | None = None
        host: ScriptHost = scripts or redis
        self._script = host.register_script(load_script("optout_change"))
        self._by_line = host.register_script(load_script("optout_lines"))

    async def secret(self) -> str:
        """The hash key: made at first use and kept in Redis, shared by every process."""
        if self._secret is None:
            await self._redis.set(self._keys.hash_key, secrets.token_hex(32),
                                  condition=PureToken.NX)
            value = await self._redis.get(self._keys.hash_key)
            assert value is not None
            self._secret = value.decode()
        return self._secret

    async def hashed(self, number: str) -> str:
        """What the scope sets hold for `number` (the same as the Lua `opted_out`)."""
        return keyed_hash(await self.secret(), number)

    async def opted_out_many(self, numbers: Sequence[str], scopes: Sequence[str]
                             ) -> list[bool]:
        """Which of `numbers` opted out in any of `scopes`: one round trip for the batch."""
        secret = await self.secret()
        return await self.holding([keyed_hash(secret, n) for n in numbers], scopes)

    async def holding(self, hashes: Sequence[str], scopes: Sequence[str]) -> list[bool]:
        """Which keyed hashes are in any of the sets of `scopes`: one round trip."""
        if not hashes:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            replies = [pipe.smismember(key, hashes) for key in self.scope_keys(scopes)]
        found = [False] * len(hashes)
        for reply in replies:
            found = [a or bool(b) for a, b in zip(found, await reply, strict=True)]
        return found

    async def opted_out_by_line(self, numbers: Sequence[str], lines: Sequence[str]
                                ) -> list[bool]:
        """Which of `numbers` opted out for every line or for the line each goes out from
        ("": no line of its own): one script call for the batch, however many lines."""
        keys = [self._keys.optout(ALL)]
        index: dict[str, int] = {}
        flat: list[str | int] = []
        for number, line in zip(numbers, lines, strict=True):
            if line and line not in index:
                keys.append(self._keys.optout(line_scope(line)))
                index[line] = len(keys)  # Lua counts KEYS from 1
            flat += (number, index.get(line, 1))
        flags: list[int] = await self._by_line(keys=keys,
                                               args=[await self.secret(), packed(flat)])
        return [flag == 1 for flag in flags]

    def scope_keys(self, scopes: Iterable[str]) -> list[str]:
        return [self._keys.optout(scope) for scope in scopes]

    async def add(self, events: Sequence[OptOutEvent]) -> int:
        """Opt numbers out (idempotent), with an audit record each, in one atomic call;
        returns how many answers (confirmations of new opt-outs) were queued."""
        return await self._change(events, "opt_out")

    async def remove(self, events: Sequence[OptOutEvent]) -> None:
        """Opt numbers back in for their scope (START, UNSTOP, the CLI), audited."""
        await self._change(events, "opt_in")

    async def check(self, number: str) -> dict[str, Any]:
        """{"number", "opted_out", "scopes": {scope: since}} for one number. A number whose
        data was purged is found by its keyed hash (its scopes then have no date: None)."""
        raw = await self._redis.hget(self._keys.optout_numbers, number)
        scopes: dict[str, float | None] = json.loads(raw) if raw else {}
        if not scopes:
            scopes = dict.fromkeys(await self.scopes_holding(await self.hashed(number)))
        return {"number": number, "opted_out": bool(scopes), "scopes": scopes}

    async def scopes_holding(self, hashed: str) -> list[str]:
        """The scopes whose set holds the keyed hash `hashed` (what enqueue and sending
        check), sorted."""
        return sorted([scope async for scope, key in self.scope_sets()
                       if await self._redis.sismember(key, hashed)])

    async def scope_sets(self) -> AsyncIterator[tuple[str, bytes]]:
        """(scope, key) of every scope set, found by SCAN (there are few)."""
        prefix = self._keys.optout("")
        pattern = glob_escape(prefix) + "*"
        async for key in self._redis.scan_iter(match=pattern, count=SCAN_CHUNK, type_="set"):
            yield key.decode().removeprefix(prefix), key

    async def export(self) -> list[Exported]:
        """Every live opt-out: those in clear, then those a purge reduced to their keyed
        hash, once per (hash, scope) no clear entry covers; sorted. Read in chunks
        (HSCAN, SSCAN): a scope set may hold millions."""
        rows, covered = await self._clear_rows()
        async for scope, key in self.scope_sets():
            known = covered.get(scope, set())
            async for member in self._redis.sscan_iter(key, count=SCAN_CHUNK):
                hashed = member.decode()
                if hashed not in known:
                    rows.append(Exported(HASH_PREFIX + hashed, scope, None, "hash"))
        return sorted(rows, key=lambda row: (row.kept_as != "number", row.number, row.scope))

    async def _clear_rows(self) -> tuple[list[Exported], dict[str, set[str]]]:
        """The clear entries, and the keyed hashes they cover per scope."""
        secret = await self.secret()
        rows: list[Exported] = []
        covered: dict[str, set[str]] = {}
        async for number, raw in self._redis.hscan_iter(self._keys.optout_numbers,
                                                        count=SCAN_CHUNK):
            clear = number.decode()
            hashed = keyed_hash(secret, clear)
            for scope, since in json.loads(raw).items():
                rows.append(Exported(clear, scope, since, "number"))
                covered.setdefault(scope, set()).add(hashed)
        return rows, covered

    async def _change(self, events: Sequence[OptOutEvent], action: str) -> int:
        """Apply the changes a chunk per script call (an import may hold a million);
        returns how many answers were queued."""
        now = time.time()
        answered = 0
        for start in range(0, len(events), CHANGE_CHUNK):
            answered += await self._change_chunk(events[start:start + CHANGE_CHUNK], action,
                                                 now)
        return answered

    async def _change_chunk(self, events: Sequence[OptOutEvent], action: str,
                            now: float) -> int:
        changes: list[Any] = []
        for event in events:
            answer = event.answer
            changes += (event.number, event.scope, _flat(_audit_fields(event, action, now)),
                        _flat(answer.fields()) if answer else [], answer.token if answer else "")
        keys = [self._keys.optout_numbers, self._keys.optout_audit, self._keys.answers,
                self._keys.answer_numbers, self._keys.optout("")]
        args = [action, await self.secret(), f"{now:.6f}",
                msgpack.packb(changes, use_bin_type=False)]
        return int(await self._script(keys=keys, args=args))


def _flat(fields: dict[str, str]) -> list[str]:
    return [item for pair in fields.items() for item in pair]


def _audit_fields(event: OptOutEvent, action: str, now: float) -> dict[str, str]:
    return {"at": f"{now:.3f}", "action": action, "number": event.number,
            "scope": event.scope, "source": event.source, "line": event.line,
            "text": event.text, "campaign": event.campaign, **event.extra}
