"""What `dispatch status` and `dispatch campaign list` make of what they read — pure: the
shown status, the messages waiting for their window, paces, and tables that fit 80
columns without cutting a count."""

from __future__ import annotations

import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console, RenderableType

from dispatch.commands.campaign import list_table, sent
from dispatch.commands.status_view import (
    CLOSED,
    OPEN,
    OVER,
    UNKNOWN,
    Pace,
    Progress,
    Snapshot,
    as_json,
    duration,
    pace,
    paces,
    progress_of,
    renderables,
)
from dispatch.model import ACTIVE, CANCELLED, PAUSED
from dispatch.policy.sending import Schedule
from dispatch.store.campaign_meta import CampaignMeta
from dispatch.store.overview import CampaignView
from dispatch.store.status import FINISHED, shown_status
from dispatch.vocabulary import ALL_STATES

PARIS = ZoneInfo("Europe/Paris")
SUNDAY_NOON = dt.datetime(2025, 7, 6, 12, tzinfo=PARIS)
WEDNESDAY_NOON = dt.datetime(2025, 7, 9, 12, tzinfo=PARIS)
BASTILLE_DAY = dt.datetime(2025, 7, 14, 10, tzinfo=PARIS)


def counts(**given: int) -> dict[str, int]:
    return {state: given.get(state, 0) for state in ALL_STATES}


def view(status: str = ACTIVE, held: int = 0, window: str | None = None,
         deadline: str | None = None, finished_at: float | None = None,
         **state_counts: int) -> CampaignView:
    meta = CampaignMeta("c1", "text", status=status,
                        schedule=Schedule(window=window, deadline=deadline))
    return CampaignView(counts(**state_counts), meta, finished_at, held)


# --- shown status -------------------------------------------------------------------------

def test_a_campaign_with_nothing_left_is_finished_unless_cancelled() -> None:
    assert shown_status(ACTIVE, counts(delivered=5, expired=2)) == FINISHED
    assert shown_status(PAUSED, counts(failed=1)) == FINISHED
    assert shown_status(CANCELLED, counts(cancelled=3, delivered=1)) == CANCELLED
    for pending in ("queued", "in_flight", "submitted"):  # awaiting a receipt: not yet
        assert shown_status(ACTIVE, counts(delivered=5, **{pending: 1})) == ACTIVE
    assert shown_status(ACTIVE, counts()) == ACTIVE  # nothing counted yet: being loaded
    assert shown_status(ACTIVE, counts(), finished_at=1.7e9) == FINISHED  # retention saw it


def test_campaign_list_does_not_count_expired_messages_as_sent() -> None:
    assert sent(counts(submitted=1, delivered=2, failed=3, expired=1000, queued=7,
                       suppressed=4, cancelled=5)) == 6


# --- waiting for the window ----------------------------------------------------------------

def test_closed_in_mainland_france_everything_queued_waits() -> None:
    progress = progress_of(view(held=2, queued=1200, in_flight=2, delivered=10), SUNDAY_NOON)
    assert progress == Progress(ACTIVE, 1202, CLOSED,
                                dt.datetime(2025, 7, 7, 9, tzinfo=PARIS),
                                "no sending on Sundays", None)
    assert progress.opens is not None and progress.opens.tzinfo == PARIS


def test_a_holiday_closes_the_window_until_the_next_day() -> None:
    progress = progress_of(view(queued=5), BASTILLE_DAY)
    assert (progress.window, progress.why, progress.waiting) == (CLOSED, "Fête nationale", 5)
    assert progress.opens == dt.datetime(2025, 7, 15, 9, tzinfo=PARIS)


def test_open_in_mainland_france_only_what_daemons_hold_waits() -> None:
    progress = progress_of(view(held=7, queued=1200, in_flight=7), WEDNESDAY_NOON)
    assert (progress.window, progress.waiting, progress.opens) == (OPEN, 7, None)


def test_a_paused_campaign_waits_for_its_resume_not_its_window() -> None:
    progress = progress_of(view(PAUSED, held=3, queued=100, in_flight=3), SUNDAY_NOON)
    assert (progress.status, progress.window, progress.waiting) == (PAUSED, CLOSED, 3)


def test_no_opening_before_the_deadline_and_a_damaged_window() -> None:
    over = progress_of(view(deadline="2025-07-06T13:00", queued=4), SUNDAY_NOON)
    assert (over.window, over.waiting, over.why) == (OVER, 0, "no opening before its deadline")
    damaged = progress_of(view(window="whenever", held=1, queued=4), WEDNESDAY_NOON)
    assert (damaged.window, damaged.waiting) == (UNKNOWN, 1)


# --- paces -------------------------------------------------------------------------------

def test_pace_is_what_settled_per_second_and_the_eta_what_is_left_at_that_pace() -> None:
    before = counts(queued=1000, in_flight=100)
    after = counts(queued=800, in_flight=100, submitted=150, delivered=40, failed=10)
    assert pace(before, after, waiting=0, elapsed_s=2.0) == Pace(100.0, 900, 9.0)
    # Those waiting for their window are not what is left to send now.
    assert pace(before, after, waiting=500, elapsed_s=2.0) == Pace(100.0, 400, 4.0)
    # Nothing moved: no ETA. All of it waits for a window: none either. Done: 0.
    assert pace(before, before, waiting=0, elapsed_s=2.0) == Pace(0.0, 1100, None)
    assert pace(before, before, waiting=1100, elapsed_s=2.0) == Pace(0.0, 0, None)
    assert pace(counts(delivered=5), counts(delivered=5), 0, 2.0) == Pace(0.0, 0, 0.0)
    # A top-up between two reads adds to the queue, not to the pace.
    assert pace(before, counts(queued=5000, in_flight=100), 0, 2.0).per_s == 0.0


def test_paces_between_snapshots_divide_by_the_monotonic_step() -> None:
    first = snapshot({"c1": counts(queued=10)}, clock=100.0)
    second = snapshot({"c1": counts(queued=4, submitted=6), "new": counts(queued=1)},
                      clock=103.0)
    assert paces(first, second) == {"c1": Pace(2.0, 4, 2.0)}


@pytest.mark.parametrize(("seconds", "text"), [
    (0.4, "0 s"), (45, "45 s"), (90, "2 min"), (3599, "1 h 00 min"), (3600 * 3 + 300, "3 h 05 min"),
])
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


# --- 80 columns --------------------------------------------------------------------------

BIG = (98_765_432, 12_345_678, 1_234_567, 99_999_999, 10_000_000, 7_654_321, 55_555_555,
       3_333_333)
NAMES = ("municipales-2026-paris-15e-arrondissement", "legislatives-circo-7501", "c3")


def snapshot(campaign_counts: dict[str, dict[str, int]], clock: float = 0.0,
             calls: dict[str, dict[str, int]] | None = None) -> Snapshot:
    progress = {name: Progress(ACTIVE, 0, OPEN, None, "", None) for name in campaign_counts}
    return Snapshot(SUNDAY_NOON, clock, campaign_counts, progress, calls or {})


def big_snapshot() -> Snapshot:
    campaign_counts = {name: dict(zip(ALL_STATES, BIG[i:] + BIG[:i], strict=True))
                       for i, name in enumerate(NAMES)}
    calls = {name: {"human": 1_234_567, "machine": 2_345_678, "no_answer": 3_456_789,
                    "busy": 4_567_890, "failed": 5_678_901, "unknown": 6_789_012,
                    "opted_out": 7_890_123, "calls": 24_691_236} for name in NAMES}
    shown = snapshot(campaign_counts, calls=calls)
    closed = Progress(ACTIVE, 98_765_432, CLOSED, dt.datetime(2025, 7, 7, 9, tzinfo=PARIS),
                      "no sending on Sundays", None)
    return Snapshot(shown.at, shown.clock, shown.counts, {**shown.progress, NAMES[0]: closed},
                    shown.calls)


def rendered(*shown: RenderableType) -> str:
    console = Console(width=80, file=io.StringIO(), record=True, color_system=None)
    for renderable in shown:
        console.print(renderable)
    text = console.export_text()
    too_wide = [line for line in text.splitlines() if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    return text


def assert_whole(text: str, value: int) -> None:
    """`value` appears with its separators, not cut or folded: no digit or comma around."""
    assert re.search(rf"(?<![\d,]){re.escape(f'{value:,}')}(?![\d,])", text), f"{value:,}"


def test_status_tables_fit_80_columns_with_every_count_whole() -> None:
    shown = big_snapshot()
    later = Snapshot(shown.at, 2.0, {n: {**c, "delivered": c["delivered"] + 2_469_134}
                                     for n, c in shown.counts.items()},
                     shown.progress, shown.calls)
    text = rendered(*renderables(later, paces(shown, later), every_s=2.0))
    for counts_of in later.counts.values():
        for value in counts_of.values():
            assert_whole(text, value)
    for state in range(len(ALL_STATES)):  # the totals row
        assert_whole(text, sum(c[ALL_STATES[state]] for c in later.counts.values()))
    for outcomes in later.calls.values():
        for value in outcomes.values():
            assert_whole(text, value)
    assert_whole(text, 1_234_567)  # per second: 2,469,134 over 2 s
    assert "waiting for its window: 98,765,432 (opens Mon 09:00; closed: no sending on " \
           "Sundays)" in " ".join(text.split())
    for header in ("queued", "in flight", "submitted", "delivered", "failed", "expired",
                   "suppressed", "cancelled", "ETA", "pressed 9"):
        assert header in text


def test_campaign_list_fits_80_columns_with_every_count_whole() -> None:
    rows = [{"campaign": name, "status": "cancelled", "gateway": "smpp-orange-2",
             "counts": dict(zip(ALL_STATES, BIG, strict=True)), "overrides": {}}
            for name in NAMES]
    for row in rows:
        row["sent"] = sent(row["counts"])
    text = rendered(list_table(rows))
    for value in (BIG[0], BIG[3], BIG[4], sent(rows[0]["counts"])):
        assert_whole(text, value)
    assert "cancelled" in text


def test_json_keeps_the_counts_and_adds_progress() -> None:
    shown = big_snapshot()
    report = as_json(shown)
    assert report["campaigns"] == shown.counts and report["calls"] == shown.calls
    assert report["totals"]["queued"] == sum(c["queued"] for c in shown.counts.values())
    assert report["progress"][NAMES[0]] == {
        "status": ACTIVE, "waiting_for_window": 98_765_432, "window": CLOSED,
        "window_opens": "2025-07-07T09:00:00+02:00",
        "window_closed_because": "no sending on Sundays", "finished_at": None}
    with_pace = as_json(shown, {NAMES[1]: Pace(12.3456, 10, None)})["progress"][NAMES[1]]
    assert (with_pace["settled_per_s"], with_pace["left"], with_pace["eta_s"]) == \
        (12.346, 10, None)
