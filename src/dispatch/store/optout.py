"""The suppression list: who opted out, in which scope, since when, and the audit of it.

A number that opted out is kept twice: as a keyed hash in the set of each scope (what
enqueue and the daemon check, in Lua, so an erased number's objection still holds) and in
clear in a hash (what `optout check` and `optout export` read). Every change is appended to
an audit stream with when, what, the source (an MO, the CLI, an import) and, for an MO,
its line, raw text and the campaign it answered. A change is one script call for a batch
(optout_change.lua); a new opt-out may carry its confirmation, queued in the same call.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack
from coredis.tokens import PureToken

from dispatch.keys import Keys
from dispatch.store.answers import Answer
from dispatch.store.redis import Redis
from dispatch.store.scripts import ScriptHost, load_script, packed

ALL = "all"
CHANGE_CHUNK = 1000  # changes per script call: Redis serves others between two chunks


def line_scope(line: str) -> str:
    """The scope of a STOP sent to `line` (a short code or number): every client using it."""
    return f"line:{line}"


def scopes_for_sender(sender: str) -> list[str]:
    """The scopes that stop a message sent from `sender` ("": not known yet, e.g. a pool's
    campaign before a line is chosen: only the opt-outs of every line)."""
    return [ALL, line_scope(sender)] if sender else [ALL]


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
        return hashlib.sha1(f"{await self.secret()}:{number}".encode()).hexdigest()

    async def opted_out_many(self, numbers: Sequence[str], scopes: Sequence[str]
                             ) -> list[bool]:
        """Which of `numbers` opted out in any of `scopes`: one round trip for the batch."""
        secret = await self.secret()
        hashes = [hashlib.sha1(f"{secret}:{n}".encode()).hexdigest() for n in numbers]
        async with self._redis.pipeline(transaction=False) as pipe:
            replies = [pipe.smismember(key, hashes) for key in self.scope_keys(scopes)]
        found = [False] * len(numbers)
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
            scopes = dict.fromkeys(await self._hashed_scopes(number))
        return {"number": number, "opted_out": bool(scopes), "scopes": scopes}

    async def _hashed_scopes(self, number: str) -> list[str]:
        """The scopes whose set holds the number's keyed hash (a SCAN over the few sets)."""
        hashed = await self.hashed(number)
        prefix = self._keys.optout("")
        found, cursor = [], 0
        while True:
            cursor, names = await self._redis.scan(cursor, match=f"{prefix}*", count=500)
            for name in names:
                scope = name.decode()[len(prefix):]
                if scope in ("numbers", "audit") or await self._redis.type(name) != b"set":
                    continue
                if await self._redis.sismember(name, hashed):
                    found.append(scope)
            if not cursor:
                return sorted(found)

    async def export(self) -> list[tuple[str, str, float]]:
        """Every live opt-out in clear: (number, scope, since)."""
        rows: list[tuple[str, str, float]] = []
        cursor = 0
        while True:
            cursor, chunk = await self._redis.hscan(self._keys.optout_numbers, cursor, count=1000)
            for number, raw in chunk.items():
                for scope, since in json.loads(raw).items():
                    rows.append((number.decode(), scope, since))
            if not cursor:
                return sorted(rows)

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
