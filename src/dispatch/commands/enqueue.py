"""`dispatch enqueue`: load a campaign file (CSV or JSONL) into the queue."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import trio
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from dispatch.commands.common import (
    ExitCode,
    UserError,
    add_channel_options,
    add_config_option,
    add_override_options,
    campaign_text,
    settings_from,
)
from dispatch.commands.lint import measures
from dispatch.enqueue import (
    EnqueueError,
    EnqueueInterrupted,
    EnqueueReport,
    Exclusivity,
    RejectSink,
    TextRules,
    Voice,
    campaign_spec,
    enqueue_file,
    gateway_of,
)
from dispatch.enqueue import Progress as ProgressCallback
from dispatch.gc_tuning import tune_for_batches
from dispatch.ingest import FORMATS
from dispatch.policy.calls import MACHINE_POLICIES, CallPolicy
from dispatch.policy.lint import LintReport
from dispatch.policy.next_opening import closed_because, describe_opening, next_opening
from dispatch.policy.sending import Schedule, send_policy
from dispatch.policy.timezones import DEFAULT_ZONE
from dispatch.policy.voice_lint import VoiceLintReport
from dispatch.settings import Settings
from dispatch.store.redis import open_redis

ERRORS_SHOWN = 20  # rejected rows printed by the human summary; --json lists more


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "enqueue", help="load a campaign file (CSV or JSONL) into the queue",
        description="Queue one SMS per row of FILE for a campaign. Rows with a number "
                    "already queued for the campaign are skipped, so a re-run is safe.")
    parser.add_argument("file", metavar="FILE",
                        help="CSV with a header holding a 'phone' column, or JSONL objects")
    parser.add_argument("--campaign", metavar="ID", required=True,
                        help="campaign id: 1-64 letters, digits, '_', '.', '-'")
    parser.add_argument("--text", help="message text; {column} is replaced per row")
    parser.add_argument("--text-file", metavar="F", help="read the message text from F")
    parser.add_argument("--gateway", default=None,
                        help="gateway name (default: the --pool's gateway, else the only gateway "
                             "configured, else default)")
    parser.add_argument("--pool", default=None, metavar="NAME",
                        help="pool of lines the messages go out on (default: the gateway's "
                             "pool if it has exactly one, else the gateway's sender)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="file format (default: jsonl for .jsonl/.ndjson, else csv)")
    parser.add_argument("--encoding", default=None, metavar="NAME",
                        help="the file's encoding, e.g. utf-8 or cp1252 (latin-1 is read "
                             "as cp1252); default: UTF-8, or Windows-1252 when the file "
                             "is not UTF-8 (a French spreadsheet export)")
    parser.add_argument("--delimiter", default=None, metavar="CHAR",
                        help="the CSV's separator: ',', ';' or 'tab' (default: detected "
                             "from the header, or an Excel 'sep=' line)")
    parser.add_argument("--window", default="", metavar="SPEC",
                        help="when messages may go, in each recipient's local time: e.g. "
                             "'mon-fri 10:00-13:00,14:00-20:00', or 'always' (any hour, "
                             "holidays included); default: SMS Mon-Sat 09:00-20:00, "
                             "public holidays excluded")
    parser.add_argument("--deadline", default="", metavar="WHEN",
                        help="unsent messages expire then: '2027-04-10' (00:00 local time "
                             "on that day: the eve of a vote on the 11th) or an ISO instant")
    parser.add_argument("--no-consent-required", dest="consent_required",
                        action="store_false",
                        help="accept rows without consent_source/consent_date (consent is "
                             "recorded elsewhere); the campaign is marked so")
    parser.add_argument("--client", metavar="NAME",
                        help="the client the campaign is for (with --election): numbers "
                             "another client reserved for that election are excluded")
    parser.add_argument("--election", metavar="KEY",
                        help="the election the campaign is part of (with --client)")
    parser.add_argument("--sender", metavar="NAME", default="",
                        help="who sends (party or candidate): the text must name it "
                             "(default: --client)")
    add_override_options(parser)
    add_channel_options(parser)
    calls = CallPolicy()
    parser.add_argument("--call-attempts", type=int, default=calls.max_attempts, metavar="K",
                        help=f"voice: calls per recipient at most (default "
                             f"{calls.max_attempts})")
    parser.add_argument("--busy-retry", type=float, default=calls.busy_retry_s / 60,
                        metavar="MIN", help="voice: a busy line is called again this many "
                                            "minutes later")
    parser.add_argument("--no-answer-retry", type=float,
                        default=calls.no_answer_retry_s / 60, metavar="MIN",
                        help="voice: a phone nobody answered is called again this many "
                             "minutes later")
    parser.add_argument("--machine", choices=MACHINE_POLICIES, default=calls.machine,
                        help="voice: an answering machine: leave the message (delivered) or "
                             "call again later")
    parser.add_argument("--rejects", metavar="CSV", default=None,
                        help="write every rejected row's line and reason to this CSV file "
                             "(the summary and --json list only the first ones)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_config_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    text = campaign_text(args)
    settings = settings_from(args)
    args.gateway = gateway_of(settings, args.gateway, args.pool)
    try:  # fail before connecting
        campaign_spec(settings, args.campaign, text, args.gateway,
                      consent_required=args.consent_required,
                      exclusivity=exclusivity(args.client, args.election),
                      rules=text_rules(args), pool=args.pool, voice=voice_of(args))
    except EnqueueError as exc:
        raise UserError(str(exc)) from None
    tune_for_batches()
    with _rejects_file(args.rejects) as on_reject:
        try:
            report = trio.run(_enqueue, settings, args, text, on_reject)
        except EnqueueInterrupted as stop:
            _print_report(stop.report, args)
            print(f"dispatch enqueue: interrupted after {stop.report.rows:,} rows: what "
                  f"was queued stays queued; run the same command again to resume (rows "
                  f"already queued count as duplicates)", file=sys.stderr)
            return ExitCode.INTERRUPTED  # what was queued stays queued
    _print_report(report, args)
    if report.nothing_usable:
        what = "has no rows" if report.rows == 0 else "had every row rejected"
        print(f"dispatch enqueue: {args.file} {what}: nothing queued", file=sys.stderr)
        return ExitCode.FAILED  # every row rejected, or no row
    return 0


def _print_report(report: EnqueueReport, args: argparse.Namespace) -> None:
    start = sending_start(Schedule(args.window or None, args.deadline or None, args.channel),
                          dt.datetime.now(dt.UTC))
    if args.json:
        print(json.dumps({**report.to_json(), "sending": start}, ensure_ascii=False))
    else:
        print(summary(report, args.rejects))
        if start["opens"] is None:
            print("sending: the window never opens before the deadline: every message "
                  "will expire unsent (dispatch campaign set to change it)")
        elif start["opens_in"]:
            print(f"sending starts {start['opens_in']} (mainland France; closed now: "
                  f"{start['closed_because']})")


def sending_start(schedule: Schedule, now: dt.datetime) -> dict[str, str | None]:
    """When the campaign's window opens in mainland France: the operator loading a file on
    a Sunday learns that nothing goes before Monday 09:00 (and why) instead of guessing.
    `opens` is ISO (None: never before the deadline); `opens_in` is "" while it is open."""
    policy = send_policy(schedule)
    opens = next_opening(policy, DEFAULT_ZONE, now)
    if opens is None:
        return {"opens": None, "opens_in": "", "closed_because": closed_because(
            policy, DEFAULT_ZONE, now)}
    later = opens > now
    return {"opens": opens.isoformat(timespec="minutes"),
            "opens_in": describe_opening(opens, now) if later else "",
            "closed_because": closed_because(policy, DEFAULT_ZONE, now) if later else ""}


@contextmanager
def _rejects_file(path: str | None) -> Iterator[RejectSink | None]:
    """Every rejected row's line and reason written to `path` as they come (a CSV the
    operator sorts or filters), or None without --rejects."""
    if path is None:
        yield None
        return
    try:
        handle: TextIO = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:  # before anything is read or queued
        raise UserError(f"--rejects {path}: cannot write: {exc.strerror}") from None
    with handle:
        writer = csv.writer(handle)
        writer.writerow(("line", "reason"))
        yield lambda line, reason: writer.writerow((line, reason))


def voice_of(args: argparse.Namespace) -> Voice | None:
    """A voice campaign's script and call policy from the options (None: an SMS one)."""
    if args.channel != "voice":
        return None
    try:
        calls = CallPolicy(args.call_attempts, args.busy_retry * 60,
                           args.no_answer_retry * 60, args.machine)
    except ValueError as exc:
        raise UserError(f"--call-attempts, --busy-retry, --no-answer-retry: {exc}") from None
    return Voice(args.preamble, args.audio_url, calls)


def delimiter_of(option: str | None) -> str | None:
    """--delimiter as ingest takes it: one character ("tab" or a typed \\t: a tab)."""
    if option is None:
        return None
    return "\t" if option.lower() in ("tab", "\\t") else option


def text_rules(args: argparse.Namespace) -> TextRules:
    return TextRules(args.sender, args.allow_missing_optout, args.allow_missing_sender)


def exclusivity(client: str | None, election: str | None) -> Exclusivity | None:
    """From --client and --election: both or neither."""
    if client is None and election is None:
        return None
    if client is None or election is None:
        raise UserError("give both --client and --election, or neither")
    return Exclusivity(client, election)


async def _enqueue(settings: Settings, args: argparse.Namespace, text: str,
                   on_reject: RejectSink | None) -> EnqueueReport:
    with _progress_bar(args.file) as progress:
        async with open_redis(settings, start=True) as redis:
            try:
                return await enqueue_file(redis, settings, args.file, args.campaign, text,
                                          gateway=args.gateway, fmt=args.format,
                                          encoding=args.encoding,
                                          delimiter=delimiter_of(args.delimiter),
                                          progress=progress, window=args.window,
                                          deadline=args.deadline,
                                          consent_required=args.consent_required,
                                          exclusivity=exclusivity(args.client, args.election),
                                          rules=text_rules(args), pool=args.pool,
                                          voice=voice_of(args), on_reject=on_reject)
            except EnqueueError as exc:
                raise UserError(str(exc)) from None


@contextmanager
def _progress_bar(path: str) -> Iterator[ProgressCallback | None]:
    """A progress callback drawing on stderr when it is a terminal, else None."""
    if not sys.stderr.isatty():
        yield None
        return
    try:
        size: int | None = os.path.getsize(path)
    except OSError:
        size = None
    columns = (TextColumn("{task.fields[rows]:,} rows"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeElapsedColumn())
    # Redrawn after each batch rather than by rich's refresh thread: no thread next to Trio.
    with Progress(*columns, console=Console(stderr=True), transient=True,
                  auto_refresh=False) as bar:
        task = bar.add_task("enqueue", total=size, rows=0)

        def update(rows: int, bytes_read: int) -> None:
            bar.update(task, completed=bytes_read, rows=rows, refresh=True)

        yield update


def summary(report: EnqueueReport, rejects: str | None = None) -> str:
    """The human summary: totals, then the first rejected rows (all of them: in
    `rejects`)."""
    excluded = (f"{report.excluded:,} excluded (reserved by another client), "
                if report.excluded else "")
    lines = [f"campaign {report.campaign}: {report.accepted:,} accepted, "
             f"{report.duplicates:,} duplicates, {report.suppressed:,} opted out, "
             f"{excluded}{report.rejected:,} rejected ({report.rows:,} rows)"]
    lines += [f"  line {line}: {reason}" for line, reason in report.errors[:ERRORS_SHOWN]]
    hidden = report.rejected - min(len(report.errors), ERRORS_SHOWN)
    if hidden > 0:
        where = (f"all {report.rejected:,} are in {rejects}" if rejects is not None
                 else "--rejects FILE writes them all")
        lines.append(f"  ... and {hidden:,} more rejected rows ({where})")
    elif rejects is not None and report.rejected:
        lines.append(f"  (every rejected row is in {rejects})")
    lines += _read_as(report)
    if report.lint is not None:
        lines += text_summary(report.lint)
    return "\n".join(lines)


_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


def _read_as(report: EnqueueReport) -> list[str]:
    """How the file was read, said when it is not plain UTF-8 with commas (a detected
    Windows-1252 ';' export): the operator sees the accents were read as such."""
    if report.encoding in ("", "UTF-8") and report.delimiter in (None, ","):
        return []
    delimiter = report.delimiter
    separated = ("" if delimiter is None
                 else f", {_DELIMITER_NAMES.get(delimiter, repr(delimiter))}-separated")
    return [f"file read as {report.encoding}{separated}"]


def text_summary(lint: LintReport | VoiceLintReport) -> list[str]:
    """The text's encoding, parts and estimated cost (a call's: duration and cost), its
    warnings, and the overrides."""
    lines = [f"text {line}" for line in measures(lint)]
    lines += [f"text warning: {p.code}: {p.message}" for p in lint.problems
              if not p.overridden]
    lines += [f"OVERRIDE recorded in the campaign: {p.code}: {p.message}"
              for p in lint.problems if p.overridden]
    return lines
