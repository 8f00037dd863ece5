"""The synthetic campaign a benchmark sends, and enqueueing it (all at once or paced).

Rows go through the real `dispatch enqueue` path (a CSV file read, validated, normalised
to E.164, deduplicated, queued with one Lua call per batch). Each row carries its consent
provenance, as campaigns that require it must.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import trio

from dispatch.bench.options import MAX_PARTS
from dispatch.enqueue import EnqueueReport, TextRules, enqueue_file
from dispatch.gateways.smpp.submit import part_count
from dispatch.settings import Settings
from dispatch.store.redis import Redis

CAMPAIGN = "bench"
TEXT = "Bonjour {first_name}, votre bureau de vote ouvre dimanche a 8h. Parti Bench. STOP 36111"
RULES = TextRules(sender="Parti Bench")  # the party the text names
FIRST_NAME = "Camille"
CONSENT = "formulaire web bench.example,2026-01-15"  # consent_source, consent_date
FILLER = " Programme complet sur parti-bench.example."  # lengthens the text to more parts
GSM7_PART = 153  # characters of a GSM-7 part with the concatenation header
# A benchmark runs at any hour: the campaign's sending window is always open.
WINDOW = "always"
PACE_STEP_S = 0.05  # a paced enqueue sends a chunk this often


def campaign_ids(count: int) -> list[str]:
    """The benchmark's campaigns: "bench", or bench-1..bench-N (--campaigns N: on a
    Redis Cluster each campaign's keys have a slot, so several spread the work)."""
    return [CAMPAIGN] if count == 1 else [f"{CAMPAIGN}-{n}" for n in range(1, count + 1)]


def campaign_text(parts: int) -> str:
    """The campaign's text, lengthened to `parts` GSM-7 SMS parts once rendered."""
    if not 1 <= parts <= MAX_PARTS:
        raise ValueError(f"parts must be 1 to {MAX_PARTS}, got {parts}")
    if parts == 1:
        return TEXT
    missing = GSM7_PART * (parts - 1) + 1 - len(rendered(TEXT))
    text = TEXT.replace(" Parti Bench.", FILLER * math.ceil(missing / len(FILLER))
                        + " Parti Bench.")
    assert part_count(rendered(text)) == parts, "FILLER no longer fits its part count"
    return text


def rendered(text: str) -> str:
    return text.replace("{first_name}", FIRST_NAME)


def national_number(index: int) -> str:
    """Distinct mainland mobiles 061…, 062…, 064…, 065… (0639 and 069 are overseas)."""
    return f"06{'1245'[index // 10_000_000]}{index % 10_000_000:07d}"


def e164_number(index: int) -> str:
    return "+33" + national_number(index)[1:]


def write_csv(path: Path, start: int, stop: int) -> Path:
    """Rows `start` to `stop` (excluded) of the campaign, as a CSV file."""
    with path.open("w") as out:
        out.write("phone,first_name,consent_source,consent_date\n")
        out.writelines(f"{national_number(index)},{FIRST_NAME},{CONSENT}\n"
                       for index in range(start, stop))
    return path


@dataclass
class EnqueueResult:
    accepted: int = 0
    rows: int = 0
    started: float = 0.0  # trio clock
    finished: float = 0.0

    @property
    def elapsed_s(self) -> float:
        return self.finished - self.started

    def add(self, report: EnqueueReport) -> None:
        self.accepted += report.accepted
        self.rows += report.rows


async def enqueue_all(redis: Redis, settings: Settings, count: int, folder: Path,
                      text: str = TEXT, campaigns: Sequence[str] = (CAMPAIGN,)
                      ) -> EnqueueResult:
    """Each campaign's share of the rows in one file; the time counts reading them, not
    writing them."""
    bounds = [count * index // len(campaigns) for index in range(len(campaigns) + 1)]
    paths = [write_csv(folder / f"{campaign}.csv", bounds[index], bounds[index + 1])
             for index, campaign in enumerate(campaigns)]
    result = EnqueueResult(started=trio.current_time())
    for campaign, path in zip(campaigns, paths, strict=True):
        result.add(await enqueue_file(redis, settings, path, campaign, text, window=WINDOW,
                                      rules=RULES))
    result.finished = trio.current_time()
    return result


async def enqueue_paced(redis: Redis, settings: Settings, count: int, rate: float,
                        folder: Path, result: EnqueueResult, text: str = TEXT,
                        campaigns: Sequence[str] = (CAMPAIGN,)) -> None:
    """Enqueue `count` rows at `rate` rows/s, one small file every PACE_STEP_S (to each
    campaign in turn), into `result` (filled as it goes)."""
    result.started = trio.current_time()
    chunk = max(1, round(rate * PACE_STEP_S))
    for step, start in enumerate(range(0, count, chunk)):
        await trio.sleep_until(result.started + start / rate)
        path = write_csv(folder / "chunk.csv", start, min(count, start + chunk))
        result.add(await enqueue_file(redis, settings, path,
                                      campaigns[step % len(campaigns)], text,
                                      window=WINDOW, rules=RULES))
    result.finished = trio.current_time()
