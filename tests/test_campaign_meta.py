"""The campaign meta hash, typed: what enqueue writes is what daemons and commands read."""

from __future__ import annotations

from dispatch.model import ACTIVE, Share
from dispatch.policy.sending import Schedule
from dispatch.store.campaign_meta import CampaignMeta, creation_fields, decode


def _as_redis_gives_it(fields: dict[str, str]) -> dict[bytes, bytes]:
    return {name.encode(): value.encode() for name, value in fields.items()}


def test_a_new_campaign_reads_back_as_written() -> None:
    fields = creation_fields(
        text="Bonjour {name}", gateway="op", pool="paris", placeholders=["name"],
        created_at=1_700_000_000.7, window="mon-fri 10:00-13:00", deadline="2027-04-10",
        consent_required=False, client="party", election="pres-2027", consent_buckets=4,
        sender_identity="Party", overrides=["missing_optout"])
    assert decode("c1", _as_redis_gives_it(fields)) == CampaignMeta(
        "c1", "Bonjour {name}", "op", "paris", ("name",), 1_700_000_000,
        Schedule(window="mon-fri 10:00-13:00", deadline="2027-04-10"), False, "party",
        "pres-2027", 4, "Party", {"missing_optout": 1_700_000_000}, ACTIVE, Share())


def test_absent_fields_read_as_the_defaults_and_operated_ones_as_set() -> None:
    meta = decode("c1", {b"status": b"paused", b"weight": b"2.5", b"priority": b"-3",
                         b"holidays": b"ignore", b"window": b"always"})
    assert meta.text is None  # being created, or purged: not sendable
    assert (meta.gateway, meta.consent_required, meta.consent_buckets) == ("default", True, 1)
    assert (meta.status, meta.share) == ("paused", Share(2.5, -3))
    assert meta.schedule == Schedule(window="always", skip_holidays=False)
