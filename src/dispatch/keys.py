"""Every Redis key the product uses, in one place.

Redis Cluster keeps each key in one of 16,384 slots, chosen by the part of its name between
braces (its hash tag), and a Lua script or a transaction may only touch keys of one slot.
So the keys that are used together share a tag:
- `{<campaign>}`: the keys of one campaign (state, counts, stream, errors, consent...);
- `{optout}`: the opt-out sets, their numbers in clear and audit, and the conversation
  around them (replies received, answers to send, their log): one opt-out is recorded and
  confirmed in one step;
- `{dlr}`: the receipt maps and the receipts parked before their submission's record;
- `{reserve:<election>}`: an election's reservations (exclusivity);
- `{calls}`, `{lines:<pool>}`: the calls-per-number cap, a pool's line leases.
A step that needs keys of two groups (recording a submission: its campaign and the receipt
map) is made of one call per group, in an order that survives a crash between them
(store/queue.py). Keys written under the names used before these tags are renamed once by
store/layout.py.
"""

from __future__ import annotations

from dataclasses import dataclass

ANSWER_GROUP = "answerers"
GROUP = "dispatch"  # the consumer group every daemon reads campaign streams with


@dataclass(frozen=True)
class CampaignKeys:
    meta: str  # hash: text, gateway, sender, placeholders, created_at, enqueue totals
    state: str  # hash: E.164 number -> state code (model.STATE_CODES); also the dedupe set
    counts: str  # hash: state name -> number of messages in that state
    stream: str  # stream of queued messages, field "m" = msgpack [number, values]
    errors: str  # hash: number -> why its message failed (gateway or receipt reason)
    calls: str  # hash: outcome -> a voice campaign's calls that ended so (call_counts.py)
    # hash: daemon consumer -> "count:ms" of the messages it holds for their sending window
    # (store/waiting.py); short-lived (a TTL), holds no number
    waiting: str
    # stream of the changes made to the campaign on purpose (`dispatch campaign set`):
    # campaign, field, old, new, at, by; written with the change, in one transaction
    changes: str


@dataclass(frozen=True)
class Keys:
    prefix: str

    @property
    def replication_marker(self) -> str:
        """Written before a WAIT where the writes went over a pool (store.replication):
        the replicas that have it have every write made before it."""
        return f"{self.prefix}:replicated"

    @property
    def layout(self) -> str:
        """Which layout of key names this prefix is in (store/layout.py)."""
        return f"{self.prefix}:layout"

    @property
    def campaigns(self) -> str:
        """Set of every campaign id."""
        return f"{self.prefix}:campaigns"

    @property
    def campaign_head(self) -> str:
        """What every key of a campaign starts with, before its id."""
        return f"{self.prefix}:{{"

    def campaign(self, campaign_id: str) -> CampaignKeys:
        base = f"{self.campaign_head}{campaign_id}}}"
        return CampaignKeys(
            meta=f"{base}:meta",
            state=f"{base}:state",
            counts=f"{base}:counts",
            stream=f"{base}:q",
            errors=f"{base}:errors",
            calls=f"{base}:calls",
            waiting=f"{base}:waiting",
            changes=f"{base}:changes",
        )

    def receipt_map(self, hour: int) -> str:
        """Hash gateway message id -> "campaign<TAB>number" of the submissions of one hour
        (hours since the epoch) still waiting for their final receipt. What is left in it
        after the receipt timeout is expired by the sweeper."""
        return f"{self.prefix}:{{dlr}}:{hour}"

    @property
    def orphan_receipts(self) -> str:
        """Hash gateway id -> receipt that arrived before its submission was recorded."""
        return f"{self.prefix}:{{dlr}}:orphans"

    def optout(self, scope: str) -> str:
        """Set of keyed hashes of numbers that opted out in `scope`: "all" (every line),
        or "line:<sender>" (a STOP sent to that line: every client using it)."""
        return f"{self.prefix}:{{optout}}:{scope}"

    @property
    def optout_numbers(self) -> str:
        """Hash number -> JSON {scope: since} of live opt-outs, in clear (check, export);
        erased numbers keep only their hashes in the scope sets."""
        return f"{self.prefix}:{{optout}}:numbers"

    @property
    def optout_audit(self) -> str:
        """Stream of every opt-out change: when, action, number, scope, source, text, …"""
        return f"{self.prefix}:{{optout}}:audit"

    @property
    def hash_key(self) -> str:
        """The secret the opt-out hashes are keyed with (made once, never changed)."""
        return f"{self.prefix}:secret"

    @property
    def inbound(self) -> str:
        """Stream of messages from recipients (MO): fields source, destination, text,
        gateway, received_at."""
        return f"{self.prefix}:{{optout}}:inbound"

    @property
    def answers(self) -> str:
        """Stream of answers to send (HELP, opt-out confirmations): fields token, line,
        gateway, text, reason; read by the daemons' answerers (group ANSWER_GROUP), deleted
        once sent or failed."""
        return f"{self.prefix}:{{optout}}:answers"

    @property
    def answer_numbers(self) -> str:
        """Hash token -> the number an answer goes to. Apart from the stream because a hash
        field deleted is gone for good, where a stream entry deleted stays in its node: a
        settled answer or a purge leaves no number behind."""
        return f"{self.prefix}:{{optout}}:answers:numbers"

    @property
    def answers_log(self) -> str:
        """Stream of what became of each answer (capped): at, to_hash (the number's keyed
        hash: no number in clear), line, gateway, reason, result, detail."""
        return f"{self.prefix}:{{optout}}:answers:log"

    def calls_day(self, day: int) -> str:
        """Hash keyed hash of a number (20 hex digits) -> calls it got that day (days since
        the epoch), across every voice campaign: the cap on calls per number
        (store/call_cap.py). One hash tag for every day, so one script sees the period."""
        return f"{self.prefix}:{{calls}}:{day}"

    @property
    def dead_letters(self) -> str:
        """List of msgpack records of messages that could not be processed at all."""
        return f"{self.prefix}:dead"

    # Lines shared by several daemons (store/line_leases.py, store/lua/line_lease.lua).

    def line_leases(self, pool: str) -> str:
        """Hash slice of a pool's lines -> "<consumer>\t<expiry ms>": who drives it."""
        return f"{self.prefix}:{{lines:{pool}}}:leases"

    def line_daemons(self, pool: str) -> str:
        """Sorted set consumer -> heartbeat expiry (ms) of the daemons serving a pool: the
        count that fixes each one's fair share."""
        return f"{self.prefix}:{{lines:{pool}}}:daemons"

    # Consent, exclusivity and retention (dispatch.consent, store/consent_records.py,
    # store/lua/enqueue.lua, store/purge.py, store/provenance.py).

    def consent_bucket_prefix(self, campaign_id: str) -> str:
        """Start of the names of a campaign's consent buckets: hashes number -> msgpack
        [source id, date, slot id], split into meta `consent_buckets` small hashes (Redis
        keeps a small hash as one compact listpack, a quarter of the memory of one big hash).
        Bucket of a number: consent.bucket_of(number, buckets)."""
        return f"{self.prefix}:{{{campaign_id}}}:consent:"

    def consent_bucket(self, campaign_id: str, bucket: int) -> str:
        return f"{self.consent_bucket_prefix(campaign_id)}{bucket}"

    def consent_texts(self, campaign_id: str) -> str:
        """Hash of the consent sources and slots of a campaign, each stored once:
        "t:<text>" -> id, "i:<id>" -> text, "next" -> last id given."""
        return f"{self.prefix}:{{{campaign_id}}}:consent_texts"

    def purging(self, campaign_id: str) -> str:
        """The state hash of a campaign being purged, renamed (daemons see no state, so
        they send nothing more); deleted when the purge ends."""
        return f"{self.prefix}:{{{campaign_id}}}:purging"

    def reservation_prefix(self, election: str) -> str:
        """Start of the names of an election's reservations (exclusivity): 4096 small
        hashes, bucket = the first 3 hex digits of a number's keyed hash (the opt-out
        hash), field = its next 17, value = the client the number is reserved for. No
        number in clear: reservations outlive the purge of one campaign of the election."""
        return f"{self.prefix}:{{reserve:{election}}}:"

    def reservation_bucket(self, election: str, bucket: str) -> str:
        return f"{self.reservation_prefix(election)}{bucket}"

    def rewrite(self, stream_key: str) -> str:
        """Scratch copy of a shared stream rewritten by a purge, in the stream's cluster
        slot: the stream's name and a suffix keeps its hash tag; a name without one is
        made the tag. The ids to drop or redact are in rewrite(...) + ":marks"."""
        return f"{stream_key}:rewrite" if _hash_tag(stream_key) else f"{{{stream_key}}}:rewrite"

    @property
    def purge_lock(self) -> str:
        """Held (SET NX with a TTL) by the one process purging at a time."""
        return f"{self.prefix}:purge:lock"


def _hash_tag(key: str) -> str:
    """What Redis Cluster hashes of `key`: the text between the first "{" and the next
    "}", when not empty; "" when the whole name is hashed."""
    start = key.find("{")
    end = key.find("}", start + 1) if start >= 0 else -1
    return key[start + 1:end] if end > start + 1 else ""
