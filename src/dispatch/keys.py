"""Every Redis key the product uses, in one place.

Keys of one campaign share the hash tag `{campaign}` so that they live in one slot of a
Redis Cluster and one Lua script may touch them all.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "dispatch"  # the consumer group every daemon reads campaign streams with


@dataclass(frozen=True)
class CampaignKeys:
    meta: str  # hash: text, gateway, sender, placeholders, created_at, enqueue totals
    state: str  # hash: E.164 number -> state code (model.STATE_CODES); also the dedupe set
    counts: str  # hash: state name -> number of messages in that state
    stream: str  # stream of queued messages, field "m" = msgpack [number, values]
    errors: str  # hash: number -> why its message failed (gateway or receipt reason)


@dataclass(frozen=True)
class Keys:
    prefix: str

    @property
    def campaigns(self) -> str:
        """Set of every campaign id."""
        return f"{self.prefix}:campaigns"

    def campaign(self, campaign_id: str) -> CampaignKeys:
        base = f"{self.prefix}:{{{campaign_id}}}"
        return CampaignKeys(
            meta=f"{base}:meta",
            state=f"{base}:state",
            counts=f"{base}:counts",
            stream=f"{base}:q",
            errors=f"{base}:errors",
        )

    def receipt_map(self, hour: int) -> str:
        """Hash gateway message id -> "campaign<TAB>number" of the submissions of one hour
        (hours since the epoch) still waiting for their final receipt. What is left in it
        after the receipt timeout is expired by the sweeper."""
        return f"{self.prefix}:dlr:{hour}"

    @property
    def orphan_receipts(self) -> str:
        """Hash gateway id -> receipt that arrived before its submission was recorded."""
        return f"{self.prefix}:dlr:orphans"

    def optout(self, scope: str) -> str:
        """Set of keyed hashes of numbers that opted out in `scope`: "all" (every line),
        or "line:<sender>" (a STOP sent to that line: every client using it)."""
        return f"{self.prefix}:optout:{scope}"

    @property
    def optout_numbers(self) -> str:
        """Hash number -> JSON {scope: since} of live opt-outs, in clear (check, export);
        erased numbers keep only their hashes in the scope sets."""
        return f"{self.prefix}:optout:numbers"

    @property
    def optout_audit(self) -> str:
        """Stream of every opt-out change: when, action, number, scope, source, text, …"""
        return f"{self.prefix}:optout:audit"

    @property
    def hash_key(self) -> str:
        """The secret the opt-out hashes are keyed with (made once, never changed)."""
        return f"{self.prefix}:secret"

    @property
    def inbound(self) -> str:
        """Stream of messages from recipients (MO): fields source, destination, text,
        gateway, received_at."""
        return f"{self.prefix}:inbound"

    @property
    def dead_letters(self) -> str:
        """List of msgpack records of messages that could not be processed at all."""
        return f"{self.prefix}:dead"
