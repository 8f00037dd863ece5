"""What `dispatch status` makes of what it read — pure: each campaign's progress (shown
status, messages waiting for their window and when it opens), its pace between two reads
(--watch: rate and ETA), the tables and the JSON object.

Waiting for the window, as the daemon does it (daemon/campaigns.py, daemon/upkeep/
waiting.py): while a campaign's window is closed in mainland France (MAIN_ZONE), no
daemon reads it, so all it has queued waits; the messages the daemons did read and that
wait for their recipient's own zone are held in memory and published. Both are counted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

from rich.console import RenderableType
from rich.text import Text

from dispatch.commands.tables import count, count_tables, new_table, text_column
from dispatch.daemon.campaigns import MAIN_ZONE
from dispatch.model import ACTIVE
from dispatch.policy.next_opening import closed_because, describe_opening, next_opening
from dispatch.policy.sending import send_policy
from dispatch.store.overview import CampaignView
from dispatch.store.status import Counts, shown_status, totals
from dispatch.vocabulary import ALL_STATES, IN_FLIGHT, QUEUED

CALL_COLUMNS: Final = {"calls": "calls placed", "human": "a person", "machine": "a machine",
                       "no_answer": "no answer", "busy": "busy", "failed": "failed",
                       "unknown": "fate unknown", "opted_out": "pressed 9"}
STATE_HEADERS: Final = tuple(state.replace("_", " ") for state in ALL_STATES)
# What the window of a campaign is doing in mainland France.
OPEN, CLOSED, OVER, UNKNOWN = "open", "closed", "over", "unknown"
_MAINLAND: Final = ZoneInfo(MAIN_ZONE)  # the times shown are mainland France's


@dataclass(frozen=True)
class Progress:
    status: str  # active, paused, cancelled, or finished (shown_status)
    waiting: int  # messages waiting for their sending window
    window: str  # OPEN, CLOSED, OVER (no opening before the deadline), UNKNOWN (damaged)
    opens: dt.datetime | None  # CLOSED: when it opens next, in mainland France's time
    why: str  # CLOSED, OVER: why ("no sending on Sundays", "Fête nationale"...)
    finished_at: float | None


@dataclass(frozen=True)
class Pace:
    per_s: float  # messages settled (submitted, or ended unsent) per second, lately
    left: int  # queued or in flight, not waiting for a window: what could go now
    eta_s: float | None  # until `left` is settled at this pace; None: nothing moves, or
    # nothing can until a window opens


@dataclass(frozen=True)
class Snapshot:
    at: dt.datetime  # wall clock, aware: windows are wall-clock rules
    clock: float  # monotonic seconds (trio.current_time()): paces divide by its steps
    counts: dict[str, Counts]
    progress: dict[str, Progress]
    calls: dict[str, dict[str, int]]


def progress_of(view: CampaignView, now: dt.datetime) -> Progress:
    """A campaign's progress at `now` (aware) from what was read of it."""
    status = shown_status(view.meta.status, view.counts, view.finished_at)
    try:
        policy = send_policy(view.meta.schedule)
    except ValueError:  # a damaged window or deadline: the daemon does not send it either
        return Progress(status, view.held, UNKNOWN, None, "", view.finished_at)
    opens = next_opening(policy, MAIN_ZONE, now)
    window = OVER if opens is None else CLOSED if opens > now else OPEN
    # Closed where most recipients are: no daemon reads it, everything queued waits
    # (unless it is paused: then it waits for that).
    unread = view.counts[QUEUED] if window == CLOSED and view.meta.status == ACTIVE else 0
    why = closed_because(policy, MAIN_ZONE, now) if window != OPEN else ""
    return Progress(status, view.held + unread, window, opens if window == CLOSED else None,
                    why, view.finished_at)


def settled(counts: Mapping[str, int]) -> int:
    """Messages no longer queued or in flight: submitted, or in a final state."""
    return sum(counts.values()) - counts.get(QUEUED, 0) - counts.get(IN_FLIGHT, 0)


def paces(before: Snapshot, after: Snapshot) -> dict[str, Pace]:
    """Each campaign's pace between two snapshots (campaigns in both)."""
    elapsed = after.clock - before.clock
    result: dict[str, Pace] = {}
    for campaign, counts in after.counts.items():
        if campaign in before.counts:
            result[campaign] = pace(before.counts[campaign], counts,
                                    after.progress[campaign].waiting, elapsed)
    return result


def pace(before: Mapping[str, int], after: Mapping[str, int], waiting: int,
         elapsed_s: float) -> Pace:
    moved = max(0, settled(after) - settled(before))  # a top-up adds only queued ones
    per_s = moved / elapsed_s if elapsed_s > 0 else 0.0
    left = max(0, after.get(QUEUED, 0) + after.get(IN_FLIGHT, 0) - waiting)
    if left == 0:  # done, or all of it waits for a window (no telling when it ends)
        return Pace(per_s, 0, None if waiting else 0.0)
    return Pace(per_s, left, left / per_s if per_s > 0 else None)


# --- human form -------------------------------------------------------------------------

def renderables(snapshot: Snapshot, campaign_paces: Mapping[str, Pace] | None = None,
                every_s: float | None = None) -> list[RenderableType]:
    """The tables and lines of one `dispatch status` (of one refresh under --watch)."""
    shown: list[RenderableType] = []
    if every_s is not None:
        paris = snapshot.at.astimezone(_MAINLAND)
        shown.append(Text(f"every {every_s:g} s, {paris:%H:%M:%S} (Ctrl-C to stop)",
                          style="dim"))
    shown += state_tables(snapshot)
    shown += waiting_lines(snapshot)
    if campaign_paces is not None:
        shown.append(pace_table(snapshot, campaign_paces, every_s))
    if snapshot.calls:
        shown += call_tables(snapshot.calls)
    return shown


def state_tables(snapshot: Snapshot) -> list[RenderableType]:
    rows = [(_name(campaign, snapshot.progress[campaign].status),
             [counts[state] for state in ALL_STATES])
            for campaign, counts in snapshot.counts.items()]
    total = [sum(counts[state] for counts in snapshot.counts.values())
             for state in ALL_STATES]
    return list(count_tables("dispatch status", "campaign", STATE_HEADERS, rows, total))


def waiting_lines(snapshot: Snapshot) -> list[RenderableType]:
    """One line per campaign with messages waiting for their window: how many, when."""
    return [Text(f"{campaign}: waiting for its window: {count(progress.waiting)} "
                 f"({_when(progress, snapshot.at)})")
            for campaign, progress in snapshot.progress.items() if progress.waiting]


def pace_table(snapshot: Snapshot, campaign_paces: Mapping[str, Pace],
               every_s: float | None) -> RenderableType:
    over = f" over the last {every_s:g} s" if every_s is not None else ""
    table = new_table(f"progress{over}")
    text_column(table, "campaign")
    for header in ("left", "per second", "ETA"):
        table.add_column(header, justify="right", no_wrap=True)
    for campaign, pace in campaign_paces.items():
        waiting = snapshot.progress[campaign].waiting
        table.add_row(Text(campaign), count(pace.left), _rate(pace.per_s),
                      _eta(pace, waiting))
    return table


def call_tables(calls: Mapping[str, Mapping[str, int]]) -> list[RenderableType]:
    rows = [(Text(campaign), [outcomes.get(column, 0) for column in CALL_COLUMNS])
            for campaign, outcomes in calls.items()]
    return list(count_tables("calls by outcome", "campaign", list(CALL_COLUMNS.values()),
                             rows))


def _name(campaign: str, status: str) -> Text:
    """The campaign's name, its status under it (a column of its own would not fit)."""
    return Text.assemble(campaign, "\n", (status, "dim" if status == ACTIVE else "bold"))


def _when(progress: Progress, now: dt.datetime) -> str:
    if progress.window == CLOSED and progress.opens is not None:
        return f"opens {describe_opening(progress.opens, now)}; closed: {progress.why}"
    if progress.window == OPEN:
        return "open in mainland France: recipients in other time zones"
    if progress.window == OVER:
        return f"{progress.why}: they will expire"
    return "its window cannot be read"


def _rate(per_s: float) -> str:
    return f"{per_s:,.1f}" if per_s < 10 else f"{per_s:,.0f}"


def _eta(pace: Pace, waiting: int) -> str:
    if pace.left == 0:
        return "waiting" if waiting else "done"
    if pace.eta_s is None:
        return "—"
    return duration(pace.eta_s)


def duration(seconds: float) -> str:
    """"45 s", "12 min", "3 h 05 min"."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


# --- JSON -------------------------------------------------------------------------------

def as_json(snapshot: Snapshot, campaign_paces: Mapping[str, Pace] | None = None
            ) -> dict[str, Any]:
    """The --json object: the counts as before, and each campaign's progress (with its
    pace under --watch, from the second refresh on)."""
    progress = {campaign: _progress_json(p, (campaign_paces or {}).get(campaign))
                for campaign, p in snapshot.progress.items()}
    return {"campaigns": snapshot.counts, "totals": totals(snapshot.counts),
            "calls": snapshot.calls, "progress": progress}


def _progress_json(progress: Progress, pace: Pace | None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "status": progress.status, "waiting_for_window": progress.waiting,
        "window": progress.window,
        "window_opens": progress.opens.isoformat() if progress.opens else None,
        "window_closed_because": progress.why or None, "finished_at": progress.finished_at}
    if pace is not None:
        fields.update(settled_per_s=round(pace.per_s, 3), left=pace.left,
                      eta_s=None if pace.eta_s is None else round(pace.eta_s, 1))
    return fields
