"""Loading a campaign file into Redis: rows -> validation -> batches -> store.

Every data row ends as exactly one of accepted, duplicate (the campaign has that number
already, from this file or an earlier run), suppressed (the number opted out) or
rejected (with its line and one reason): accepted + duplicates + suppressed + rejected
= rows. Problems with the run as a whole (unreadable file,
no phone column, a placeholder the header lacks, a campaign that exists with another text)
raise EnqueueError before anything is queued.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import msgpack

from dispatch import phone
from dispatch.ingest import IngestError, Record, format_for, open_source
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.campaigns import CampaignConflict, CampaignSpec, CampaignStore, RunTotals
from dispatch.store.redis import Redis
from dispatch.template import TemplateError, placeholders

CAMPAIGN_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
REASON_MISSING_PHONE = "phone is missing"

# Called after each batch with (rows read, bytes read).
Progress = Callable[[int, int], None]


class EnqueueError(Exception):
    """The run cannot happen at all; one line naming what is wrong. Nothing was queued."""


@dataclass
class EnqueueReport:
    campaign: str
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    suppressed: int = 0  # opted out: not queued
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason), capped

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign, "accepted": self.accepted,
            "duplicates": self.duplicates, "rejected": self.rejected,
            "suppressed": self.suppressed, "rows": self.rows,
            "errors": [{"line": line, "reason": reason} for line, reason in self.errors],
        }


def campaign_spec(settings: Settings, campaign_id: str, text: str, gateway: str
                  ) -> CampaignSpec:
    """The campaign to create or extend, once its id, gateway and text are checked."""
    if not CAMPAIGN_ID.fullmatch(campaign_id):
        raise EnqueueError(f"invalid campaign id {campaign_id!r}: use 1 to 64 letters, digits, "
                           f"'_', '.' or '-'")
    if gateway not in settings.gateways:
        known = ", ".join(sorted(settings.gateways))
        raise EnqueueError(f"unknown gateway {gateway!r} (configured: {known})")
    return CampaignSpec(campaign_id, text, tuple(_text_placeholders(text)), gateway,
                        settings.gateways[gateway].sender)


def _text_placeholders(text: str) -> list[str]:
    if not text.strip():
        raise EnqueueError("the text is empty")
    try:
        text.encode("utf-8")
        return placeholders(text)
    except UnicodeEncodeError:
        raise EnqueueError("the text is not valid UTF-8") from None
    except TemplateError as exc:
        raise EnqueueError(f"the text: {exc}") from None


async def enqueue_file(redis: Redis, settings: Settings, path: str | Path, campaign_id: str,
                       text: str, *, gateway: str = "default", fmt: str | None = None,
                       progress: Progress | None = None) -> EnqueueReport:
    """Queue every acceptable row of the CSV/JSONL file at `path` for the campaign."""
    spec = campaign_spec(settings, campaign_id, text, gateway)
    with _open(path) as binary:
        try:
            source = open_source(binary, format_for(str(path), fmt))
            records = source.select(spec.placeholders)
        except IngestError as exc:
            raise EnqueueError(f"{path}: {exc}") from None

        def on_batch(rows: int) -> None:
            if progress is not None:
                progress(rows, source.bytes_read())

        return await enqueue_rows(redis, settings, spec, records, on_batch=on_batch)


def _open(path: str | Path) -> BinaryIO:
    try:
        return open(path, "rb")  # closed by the caller's `with`
    except FileNotFoundError:
        raise EnqueueError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise EnqueueError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise EnqueueError(f"{path}: cannot read: {exc.strerror}") from None


async def enqueue_rows(redis: Redis, settings: Settings, spec: CampaignSpec,
                       records: Iterable[Record], *,
                       on_batch: Callable[[int], None] | None = None) -> EnqueueReport:
    """Create (or check) the campaign, then queue `records` in batches of one script call.

    Values in each record are the phone then the placeholders of `spec`, in order.
    """
    store = CampaignStore(redis, Keys(settings.redis.key_prefix))
    try:
        await store.ensure(spec, time.time())
    except CampaignConflict as exc:
        raise EnqueueError(str(exc)) from None
    run = _Run(spec, settings, store, on_batch)
    for record in records:
        item = run.accept(record)
        if item is not None and run.add(item):
            await run.flush()
    await run.flush()
    report = run.report
    await store.add_totals(spec.campaign_id, RunTotals(
        report.rows, report.accepted, report.duplicates, report.rejected, report.suppressed))
    return report


class _Run:
    """One enqueue run: validates records, collects batches, keeps the report."""

    def __init__(self, spec: CampaignSpec, settings: Settings, store: CampaignStore,
                 on_batch: Callable[[int], None] | None) -> None:
        self.report = EnqueueReport(spec.campaign_id)
        self._spec = spec
        self._store = store
        self._on_batch = on_batch
        self._normalise = phone.normaliser(settings.enqueue.default_region)
        self._batch_size = settings.enqueue.batch_size
        self._max_errors = settings.enqueue.max_errors_listed
        self._pack = msgpack.Packer().pack
        self._batch: list[tuple[str, bytes]] = []

    def accept(self, record: Record) -> tuple[str, bytes] | None:
        """The (number, payload) to queue for a record, or None after rejecting it."""
        self.report.rows += 1
        line, values, error = record
        if values is not None:
            number, error = self._number(values[0])
            if number is not None:
                texts, error = self._placeholder_values(values)
                if error is None:
                    return number, self._pack([number, texts])
        self._reject(line, error or "unreadable row")
        return None

    def add(self, item: tuple[str, bytes]) -> bool:
        """Add to the batch; True when the batch is full."""
        self._batch.append(item)
        return len(self._batch) >= self._batch_size

    async def flush(self) -> None:
        if self._batch:
            accepted, duplicates, suppressed = await self._store.enqueue_batch(
                self._spec, self._batch)
            self.report.accepted += accepted
            self.report.duplicates += duplicates
            self.report.suppressed += suppressed
            self._batch = []
        if self._on_batch is not None:
            self._on_batch(self.report.rows)

    def _number(self, raw: str | None) -> phone.Normalised:
        return self._normalise(raw) if raw is not None else (None, REASON_MISSING_PHONE)

    def _placeholder_values(self, values: Sequence[str | None]
                            ) -> tuple[list[str] | None, str | None]:
        """(the stripped placeholder values, None), or (None, why one is missing)."""
        if len(values) == 1:
            return None, None  # a text without placeholders
        texts = [value.strip() if value is not None else "" for value in values[1:]]
        if all(texts):
            return texts, None
        name = self._spec.placeholders[texts.index("")]
        return None, f"placeholder {{{name}}} has no value"

    def _reject(self, line: int, reason: str) -> None:
        self.report.rejected += 1
        if len(self.report.errors) < self._max_errors:
            self.report.errors.append((line, reason))
