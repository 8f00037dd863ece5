"""Enqueue counts the SMS parts of each rendered message it queued: exact whatever the
duplicates, opt-outs and batch boundaries; a number's first row stays the one queued."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import msgpack
import trio

from dispatch.enqueue import EnqueueReport, enqueue_file
from dispatch.keys import Keys
from dispatch.policy.lint import LintReport
from dispatch.settings import EnqueueSettings, Settings
from dispatch.store.redis import Redis
from tests.texts import RULES

# 157 characters besides {first_name}: 1 part up to 3 letters, 2 beyond, 3 in UCS-2.
TEXT = ("Bonjour {first_name}, Parti Test vous attend dimanche à 9h place de la Mairie pour le "
        "grand meeting de fin de campagne. Venez nombreux avec tous vos amis ! STOP au 36111")
NAMES = ("Léa", "Camille", "François", "Marie-Emmanuelle", "Noël")  # 1, 2, 3, 2, 3 parts


async def load(redis: Redis, settings: Settings, path: Path) -> EnqueueReport:
    with trio.fail_after(10):
        return await enqueue_file(redis, settings, path, "c1", TEXT, consent_required=False,
                                  rules=RULES)


def rows(start: int, stop: int) -> str:
    return "".join(f"06{i:08d},{NAMES[i % len(NAMES)]}\n" for i in range(start, stop))


def expected_parts(start: int, stop: int) -> int:
    return sum((1, 2, 3, 2, 3)[i % len(NAMES)] for i in range(start, stop))


async def test_parts_are_exact_across_batches_and_top_ups(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    settings = dataclasses.replace(settings, enqueue=EnqueueSettings(batch_size=7))
    first = tmp_path / "first.csv"
    first.write_text("phone,first_name\n" + rows(0, 40))
    report = await load(redis, settings, first)
    assert report.sms_parts is not None
    assert (report.accepted, report.sms_parts.parts) == (40, expected_parts(0, 40))
    # A top-up: the first 40 rows again (duplicates, now in batches mixing sizes), 25 new.
    again = tmp_path / "again.csv"
    again.write_text("phone,first_name\n" + rows(0, 65))
    report = await load(redis, settings, again)
    assert report.sms_parts is not None
    assert (report.accepted, report.duplicates) == (25, 40)
    assert report.sms_parts.parts == expected_parts(40, 65)
    assert isinstance(report.lint, LintReport)
    assert report.lint.cost == Decimal("0.10") * expected_parts(40, 65)


async def test_a_numbers_first_row_stays_the_one_queued(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    # Rows 2 and 3 are one number: row 3's message is smaller, like row 1's, and would be
    # queued first if rows only went by size.
    path = tmp_path / "list.csv"
    path.write_text("phone,first_name\n0622222222,Léa\n0611111111,Marie-Emmanuelle\n"
                    "+33611111111,Léa\n")
    report = await load(redis, settings, path)
    assert report.sms_parts is not None
    assert (report.accepted, report.duplicates, report.sms_parts.parts) == (2, 1, 3)
    with trio.fail_after(10):
        entries = await redis.xrange(Keys(settings.redis.key_prefix).campaign("c1").stream)
    messages = [msgpack.unpackb(entry.field_values[b"m"]) for entry in entries]
    assert sorted(messages) == [["+33611111111", ["Marie-Emmanuelle"]],
                                ["+33622222222", ["Léa"]]]
