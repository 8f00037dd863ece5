"""Everything dispatch holds about one number — the answer to a voter's access request.

Per campaign holding the number: its client, election and creation date, the consent
record (source, date, slot; written for a number suppressed at load too), the message's
state and failure reason. Then the opt-out
status (the clear entry and the keyed-hash scope sets, which outlive an erasure), the
opt-out audit entries (by number, or by keyed hash once erased), the replies received from
it, the answers sent or waiting to go to it (HELP, opt-out confirmation), and its
reservations per election. Campaign lookups are one pipelined round trip; the audit,
inbound and answers streams are scanned whole: O(stream), fine for an access request.
"""

from __future__ import annotations

from typing import Any

from dispatch import consent, phone
from dispatch.keys import Keys
from dispatch.policy.calls import CALL_CAP_DAYS
from dispatch.store.call_cap import CallCap
from dispatch.store.campaign_meta import CampaignMeta, MetaStore
from dispatch.store.globs import glob_escape
from dispatch.store.optout import OptOutStore
from dispatch.store.redis import Redis
from dispatch.store.shared_streams import scan_stream
from dispatch.vocabulary import STATES_BY_CODE


async def provenance(redis: Redis, keys: Keys, number: str, region: str = "FR"
                     ) -> dict[str, Any]:
    """{"number", "campaigns", "opt_out", "audit", "replies", "answers", "reservations",
    "calls_last_days"}
    for an E.164 `number`; `region` reads reply senders written without a country code."""
    optouts = OptOutStore(redis, keys)
    hashed = await optouts.hashed(number)
    return {
        "number": number,
        "campaigns": await _campaigns(redis, keys, number),
        "opt_out": {**await optouts.check(number),
                    "hashed_scopes": await optouts.scopes_holding(hashed)},
        "audit": await _audit(redis, keys, number, hashed),
        "replies": await _replies(redis, keys, number, region),
        "answers": await _answers(redis, keys, number, hashed),
        "reservations": await _reservations(redis, keys, hashed),
        # Calls to the number across voice campaigns in the cap's period (call_cap.py).
        "calls_last_days": {"days": CALL_CAP_DAYS, "calls": await CallCap(
            redis, keys, optouts).calls_of(number)},
    }


async def _campaigns(redis: Redis, keys: Keys, number: str) -> list[dict[str, Any]]:
    meta_store = MetaStore(redis, keys)
    metas = await meta_store.read_many(await meta_store.campaign_ids())
    async with redis.pipeline(transaction=False) as pipe:
        replies = [(pipe.hget(keys.campaign(m.campaign_id).state, number),
                    pipe.hget(keys.campaign(m.campaign_id).errors, number)) for m in metas]
    found = []
    for meta, (state_reply, error_reply) in zip(metas, replies, strict=True):
        state, error = await state_reply, await error_reply
        record = await _consent_record(redis, keys, meta, number)
        if state is None and error is None and record is None:
            continue
        found.append({"campaign": meta.campaign_id, **_meta_view(meta),
                      "state": STATES_BY_CODE.get(state.decode(), "unknown") if state else None,
                      "failure": error.decode() if error else None, "consent": record})
    return found


def _meta_view(meta: CampaignMeta) -> dict[str, Any]:
    return {"client": meta.client or None, "election": meta.election or None,
            "created_at": meta.created_at, "consent_required": meta.consent_required}


async def _consent_record(redis: Redis, keys: Keys, meta: CampaignMeta, number: str
                          ) -> dict[str, str | None] | None:
    campaign_id = meta.campaign_id
    bucket = keys.consent_bucket(campaign_id, consent.bucket_of(number, meta.consent_buckets))
    raw = await redis.hget(bucket, number)
    if raw is None:
        return None
    ids = consent.record_text_ids(raw)
    texts_found = await redis.hmget(keys.consent_texts(campaign_id), [f"i:{i}" for i in ids])
    texts = {i: t.decode() for i, t in zip(ids, texts_found, strict=True) if t is not None}
    return consent.unpack_record(raw, texts)


async def _audit(redis: Redis, keys: Keys, number: str, hashed: str) -> list[dict[str, str]]:
    wanted = {number, f"hash:{hashed}"}
    found = []
    async for chunk in scan_stream(redis, keys.optout_audit):
        found += [{"id": entry_id, **fields} for entry_id, fields in chunk
                  if fields.get("number") in wanted]
    return found


async def _replies(redis: Redis, keys: Keys, number: str, region: str
                   ) -> list[dict[str, str]]:
    normalise = phone.normaliser(region)
    found = []
    async for chunk in scan_stream(redis, keys.inbound):
        found += [{"id": entry_id, **fields} for entry_id, fields in chunk
                  if normalise(fields.get("source", ""))[0] == number]
    return found


async def _answers(redis: Redis, keys: Keys, number: str, hashed: str
                   ) -> list[dict[str, str]]:
    """Answers waiting to go (result "pending"), then those settled (the log knows the
    number by its keyed hash)."""
    tokens = {token.decode() async for token, to in
              redis.hscan_iter(keys.answer_numbers, count=1000) if to.decode() == number}
    found = []
    if tokens:
        async for chunk in scan_stream(redis, keys.answers):
            found += [{"id": entry_id, "line": fields.get("line", ""),
                       "reason": fields.get("reason", ""), "result": "pending"}
                      for entry_id, fields in chunk if fields.get("token") in tokens]
    async for chunk in scan_stream(redis, keys.answers_log):
        found += [{"id": entry_id, **fields} for entry_id, fields in chunk
                  if fields.get("to_hash") == hashed]
    return found


async def _reservations(redis: Redis, keys: Keys, hashed: str) -> dict[str, str]:
    """{election: client} from the bucket of the number in each election (as enqueue.lua
    writes them: bucket = hash[:3], field = hash[3:20])."""
    base = keys.reservation_prefix("")  # "...:{reserve:}:" for an election named ""
    bucket, field = hashed[:3], hashed[3:20]
    start, end = base[:-2], base[-2:] + bucket  # "...:{reserve:", "}:<bucket>"
    found = {}
    pattern = glob_escape(start) + "*" + glob_escape(end)
    async for key in redis.scan_iter(match=pattern, count=1000, type_="hash"):
        client = await redis.hget(key, field)
        if client is not None:
            election = key.decode().removeprefix(start).removesuffix(end)
            found[election] = client.decode()
    return dict(sorted(found.items()))
