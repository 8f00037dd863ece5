"""Loading a campaign file into Redis: rows -> validation -> batches -> store.

Every data row ends as exactly one of accepted, duplicate (the campaign has that number
already, from this file or an earlier run), suppressed (the number opted out), excluded
(another client reserved the number for the same election) or rejected (with its line and
one reason, e.g. no consent source): accepted + duplicates + suppressed + excluded +
rejected = rows. Problems with the run as a whole (unreadable file, no phone column, a
placeholder the header lacks, no consent columns when consent is required, a campaign that
exists with another text) raise EnqueueError before anything is queued.

Consent columns (dispatch.consent) are read besides the placeholders; a text may also use
them as placeholders ("… vous avez donné votre accord via {consent_source}"), under the
exact name of the column.

The text is linted (dispatch.policy.lint) before anything is queued: a text with no opt-out
mention or not naming the sender (TextRules.sender, else the client) is refused unless
TextRules allows it; an override that let a text through is written in the campaign meta.
The report carries the lint, with the exact SMS parts and cost of the messages queued: each
row's message sized as it is read (dispatch.policy.cost), each batch sent as one script call
per message size so that the script's count of what it queued gives their parts.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from dispatch import consent, phone
from dispatch.ingest import IngestError, Record, RowSource, format_for, open_source
from dispatch.keys import Keys
from dispatch.policy.calls import CallPolicy
from dispatch.policy.cost import RenderedParts, Size, grouped
from dispatch.policy.lint import (
    LintReport,
    Problem,
    lint_text,
    refused_because,
    sender_identity,
)
from dispatch.policy.sending import Schedule, SlotPolicies, send_policy
from dispatch.policy.timezones import DEFAULT_ZONE
from dispatch.policy.voice_lint import VoiceLintReport, default_preamble, lint_voice
from dispatch.policy.windows import WindowError
from dispatch.settings import ConfigError, Settings, pool_for
from dispatch.store.campaigns import (
    CampaignConflict,
    CampaignSpec,
    CampaignStore,
    QueueItem,
    RunTotals,
)
from dispatch.store.entries import entry_packer
from dispatch.store.redis import Redis
from dispatch.store.replication import Replication
from dispatch.template import TemplateError, placeholders

CHANNEL_VOICE = "voice"
CAMPAIGN_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # also a client or election name
REASON_MISSING_PHONE = "phone is missing"

# Called after each batch with (rows read, bytes read).
Progress = Callable[[int, int], None]
# Called with (line, reason) for every rejected row, however many (--rejects FILE).
RejectSink = Callable[[int, str], None]


class EnqueueError(Exception):
    """The run cannot happen at all; one line naming what is wrong. Nothing was queued."""


class EnqueueInterrupted(Exception):
    """Ctrl-C during a run: `report` counts what was queued before it (the batch in flight
    may have been queued too: a re-run counts its rows as duplicates)."""

    def __init__(self, report: EnqueueReport) -> None:
        super().__init__(f"interrupted after {report.rows:,} rows")
        self.report = report


@dataclass
class EnqueueReport:
    campaign: str
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    suppressed: int = 0  # opted out: not queued
    excluded: int = 0  # reserved by another client for the same election: not queued
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason), capped
    # The text's lint, its cost counted for the messages this run accepted.
    lint: LintReport | VoiceLintReport | None = None
    # An SMS campaign's rendered messages: the exact parts of those this run queued.
    sms_parts: RenderedParts | None = None
    # How the file was read: its encoding and (CSV) delimiter, detected or as given.
    encoding: str = ""
    delimiter: str | None = None

    @property
    def errors_truncated(self) -> bool:
        """More rows were rejected than `errors` lists (all of them: a RejectSink)."""
        return self.rejected > len(self.errors)

    @property
    def nothing_usable(self) -> bool:
        """Every row rejected (or no row at all): the file is not what it should be."""
        return self.rejected == self.rows

    def to_json(self) -> dict[str, Any]:
        lint = {} if self.lint is None else {"lint": self.lint.to_json(),
                                             "overrides": list(self.lint.overridden)}
        return {
            "campaign": self.campaign, "accepted": self.accepted,
            "duplicates": self.duplicates, "rejected": self.rejected,
            "suppressed": self.suppressed, "excluded": self.excluded, "rows": self.rows,
            "errors": [{"line": line, "reason": reason} for line, reason in self.errors],
            "errors_truncated": self.errors_truncated,
            "file": {"encoding": self.encoding, "delimiter": self.delimiter},
            **lint,
        }


@dataclass(frozen=True)
class Exclusivity:
    """The client a campaign is for and the election it is part of: a number already
    reserved by another client for that election is excluded from it."""

    client: str
    election: str


@dataclass(frozen=True)
class TextRules:
    """Who the text must name, and the lint refusals the operator overrides."""

    sender: str = ""  # the party or candidate; "" = the client, if any
    allow_missing_optout: bool = False
    allow_missing_sender: bool = False


@dataclass(frozen=True)
class Voice:
    """A voice campaign: a call per row, the preamble read first, then a recording
    (`audio_url`) or the campaign's text read aloud."""

    preamble: str = ""  # "": the default one, naming the sender (policy.voice_lint)
    audio_url: str = ""
    calls: CallPolicy = field(default_factory=CallPolicy)


class Prepared(NamedTuple):
    spec: CampaignSpec
    lint: LintReport | VoiceLintReport  # an SMS text's: cost not yet counted


def campaign_spec(settings: Settings, campaign_id: str, text: str, gateway: str, *,
                  window: str = "", deadline: str = "", consent_required: bool = True,
                  exclusivity: Exclusivity | None = None,
                  rules: TextRules = TextRules(), pool: str | None = None,
                  voice: Voice | None = None) -> Prepared:
    """The campaign to create or extend, once its id, gateway, pool, text (and its lint),
    sending window, deadline, client and election are checked. Without `pool`, the
    gateway's only pool. With `voice`, a call per row: `text` is read aloud (empty with a
    recording)."""
    if not CAMPAIGN_ID.fullmatch(campaign_id):
        raise EnqueueError(f"invalid campaign id {campaign_id!r}: use 1 to 64 letters, digits, "
                           f"'_', '.' or '-'")
    try:
        pool = pool_for(settings, gateway, pool)
    except ConfigError as exc:
        raise EnqueueError(str(exc)) from None
    _check_channel(settings, gateway, pool, voice)
    check_schedule(window, deadline, CHANNEL_VOICE if voice else "sms")
    client, election = _exclusivity(exclusivity)
    sender = sender_identity(rules.sender, client) or ""
    if voice is not None:
        return _voice_spec(settings, campaign_id, text, gateway, pool, voice, window,
                           deadline, consent_required, client, election, rules)
    names = tuple(_text_placeholders(text))
    lint = check_text(text, sender, rules, _price(settings.gateways[gateway].price_per_part))
    # A pool's campaign has no one sender: the opt-outs of its lines are checked per
    # message by the daemon, for the line each message actually goes out on.
    line = "" if pool else settings.gateways[gateway].sender
    spec = CampaignSpec(campaign_id, text, names, gateway, line, window, deadline,
                        consent_required, client, election, sender_identity=sender,
                        lint_overrides=lint.overridden, pool=pool)
    return Prepared(spec, lint)


def _voice_spec(settings: Settings, campaign_id: str, text: str, gateway: str, pool: str,
                voice: Voice, window: str, deadline: str, consent_required: bool,
                client: str, election: str, rules: TextRules) -> Prepared:
    sender = sender_identity(rules.sender, client) or ""
    preamble = voice.preamble.strip() or (default_preamble(sender) if sender else "")
    config = settings.gateways[gateway]
    lint = check_voice(preamble, text, voice.audio_url, sender, rules,
                       _price(config.price_per_attempt), _price(config.price_per_minute))
    spec = CampaignSpec(campaign_id, text, lint.placeholders, gateway, "", window, deadline,
                        consent_required, client, election, sender_identity=sender,
                        lint_overrides=lint.overridden, pool=pool, channel=CHANNEL_VOICE,
                        preamble=preamble, audio_url=voice.audio_url, calls=voice.calls)
    return Prepared(spec, lint)


def _check_channel(settings: Settings, gateway: str, pool: str, voice: Voice | None) -> None:
    """Calls go through a voice gateway, on lines (one call at a time each); SMS do not."""
    kind = settings.gateways[gateway].type
    if voice is None and kind == CHANNEL_VOICE:
        raise EnqueueError(f"gateway {gateway!r} places calls: give --channel voice")
    if voice is not None and kind != CHANNEL_VOICE:
        raise EnqueueError(f"gateway {gateway!r} is a {kind} gateway: a voice campaign "
                           f"needs a voice gateway")
    if voice is not None and not pool:
        raise EnqueueError(f"a voice campaign needs a pool of lines (a call holds its line "
                           f"until it ends); gateway {gateway!r} has none: configure "
                           f"[pools.NAME] with gateway = {gateway!r}")


def gateway_of(settings: Settings, gateway: str | None, pool: str | None) -> str:
    """The gateway given, else the given pool's, else the only one configured, else
    "default" (an operator with one gateway, whatever its name, never has to name it)."""
    if gateway is not None:
        return gateway
    if pool is not None and pool in settings.lines.pools:
        return settings.lines.pools[pool].gateway
    if len(settings.gateways) == 1:
        return next(iter(settings.gateways))
    return "default"


def check_voice(preamble: str, say: str, audio_url: str, sender: str, rules: TextRules,
                price_per_attempt: Decimal, price_per_minute: Decimal) -> VoiceLintReport:
    """The voice script's lint; EnqueueError naming every refusal no override allows."""
    try:
        report = lint_voice(preamble, say=say, audio_url=audio_url, sender=sender or None,
                            price_per_attempt=price_per_attempt,
                            price_per_minute=price_per_minute,
                            allow_missing_optout=rules.allow_missing_optout,
                            allow_missing_sender=rules.allow_missing_sender)
    except ValueError as exc:  # a sender with no letter or digit
        raise EnqueueError(f"--sender: {exc}") from None
    _refuse(report.refusals)
    return report


def check_text(text: str, sender: str, rules: TextRules, price_per_part: Decimal) -> LintReport:
    """The text's lint; EnqueueError naming every refusal no override allows."""
    try:
        report = lint_text(text, sender=sender or None, price_per_part=price_per_part,
                           allow_missing_optout=rules.allow_missing_optout,
                           allow_missing_sender=rules.allow_missing_sender)
    except ValueError as exc:  # a sender with no letter or digit
        raise EnqueueError(f"--sender: {exc}") from None
    _refuse(report.refusals)
    return report


def _refuse(refusals: Sequence[Problem]) -> None:
    if refusals:  # the line `dispatch lint` gives too
        raise EnqueueError(refused_because(refusals))


def _price(value: float) -> Decimal:
    """A configured price as a Decimal with at least cents (0.1 -> 0.10)."""
    price = Decimal(str(value))
    cents = price.quantize(Decimal("0.01"))
    return cents if cents == price else price


def _exclusivity(exclusivity: Exclusivity | None) -> tuple[str, str]:
    if exclusivity is None:
        return "", ""
    for what, name in (("client", exclusivity.client), ("election", exclusivity.election)):
        if not CAMPAIGN_ID.fullmatch(name):
            raise EnqueueError(f"invalid {what} {name!r}: use 1 to 64 letters, digits, '_', "
                               f"'.' or '-'")
    return exclusivity.client, exclusivity.election


def check_schedule(window: str, deadline: str, channel: str) -> None:
    """The daemon reads these from the meta; refuse what it could not use, and a deadline
    already past (every message would expire unsent)."""
    try:
        policy = send_policy(Schedule(window=window or None, deadline=deadline or None,
                                      channel=channel))
    except ValueError as exc:
        raise EnqueueError(str(exc)) from None
    passed_at = policy.deadline.for_zone(DEFAULT_ZONE)
    if passed_at is not None and passed_at.timestamp() <= time.time():
        when = f"{passed_at:%Y-%m-%d %H:%M} UTC"
        raise EnqueueError(f"the deadline {deadline!r} is already past ({when} in "
                           f"{DEFAULT_ZONE}): every message would expire unsent")


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
                       progress: Progress | None = None, window: str = "",
                       deadline: str = "", consent_required: bool = True,
                       exclusivity: Exclusivity | None = None,
                       rules: TextRules = TextRules(), pool: str | None = None,
                       voice: Voice | None = None,
                       on_reject: RejectSink | None = None, encoding: str | None = None,
                       delimiter: str | None = None) -> EnqueueReport:
    """Queue every acceptable row of the CSV/JSONL file at `path` for the campaign;
    `encoding` and `delimiter` None: detected (ingest.open_source)."""
    spec, lint = campaign_spec(settings, campaign_id, text, gateway, window=window,
                               deadline=deadline, consent_required=consent_required,
                               exclusivity=exclusivity, rules=rules, pool=pool, voice=voice)
    with _open(path) as binary:
        try:
            source = open_source(binary, format_for(str(path), fmt), encoding=encoding,
                                 delimiter=delimiter)
            _check_consent_columns(source, spec)
            records = source.select(spec.placeholders, consent.COLUMNS)
        except IngestError as exc:
            raise EnqueueError(f"{path}: {exc}") from None

        def on_batch(rows: int) -> None:
            if progress is not None:
                progress(rows, source.bytes_read())

        buckets = consent.bucket_count(os.fstat(binary.fileno()).st_size)
        report = await enqueue_rows(redis, settings, spec, records, on_batch=on_batch,
                                    consent_buckets=buckets, on_reject=on_reject)
        report.encoding, report.delimiter = source.encoding, source.delimiter
    # An SMS text's parts and cost: exact, from the messages queued.
    report.lint = (lint.with_queued(report.sms_parts)
                   if isinstance(lint, LintReport) and report.sms_parts is not None else lint)
    return report


def _check_consent_columns(source: RowSource, spec: CampaignSpec) -> None:
    """A CSV without consent columns for a campaign requiring consent: refused at once
    rather than every row rejected."""
    if source.columns is None or not spec.consent_required:
        return
    present = {column.lower() for column in source.columns}
    missing = [name for name in (consent.SOURCE, consent.DATE) if name not in present]
    if missing:
        raise IngestError(f"no {' and no '.join(missing)} column: the campaign requires "
                          f"consent (add the columns, or use --no-consent-required if "
                          f"consent is recorded elsewhere)")


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
                       on_batch: Callable[[int], None] | None = None,
                       consent_buckets: int = 1,
                       on_reject: RejectSink | None = None) -> EnqueueReport:
    """Create (or check) the campaign, then queue `records` in batches of one script call.

    Values in each record are the phone, the placeholders of `spec`, then the consent
    columns (consent.COLUMNS), in order. `consent_buckets`: for a new campaign, from the
    size of its file (consent.bucket_count).
    """
    store = CampaignStore(redis, Keys(settings.redis.key_prefix),
                          Replication(settings.redis.replicas, settings.redis.replica_timeout_ms))
    try:
        buckets = await store.ensure(spec, time.time(), consent_buckets)
    except CampaignConflict as exc:
        raise EnqueueError(str(exc)) from None
    run = _Run(spec, settings, store, buckets, on_batch, on_reject)
    try:
        for record in records:
            item = run.accept(record)
            if item is not None and run.add(item):
                await run.flush()
        await run.flush()
    except CampaignConflict as exc:  # purged while this run loaded it
        raise EnqueueError(str(exc)) from None
    except BaseException as exc:
        # Ctrl-C: what was queued stays queued (each script call is atomic); the
        # report says how far the run got, and a re-run resumes (queued rows: duplicates).
        if _is_interrupt(exc):
            raise EnqueueInterrupted(run.report) from None
        raise
    report = run.report
    await store.add_totals(spec.campaign_id, RunTotals(
        report.rows, report.accepted, report.duplicates, report.rejected, report.suppressed,
        report.excluded))
    return report


def _is_interrupt(exc: BaseException) -> bool:
    """A KeyboardInterrupt, alone or inside a Trio nursery's exception group."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(KeyboardInterrupt) is not None
    return isinstance(exc, KeyboardInterrupt)


def _a_call(values: Sequence[str] | None) -> Size:
    """A voice message's size: calls are not SMS parts."""
    return 0, "gsm7"


class _Run:
    """One enqueue run: validates records, collects batches, keeps the report."""

    def __init__(self, spec: CampaignSpec, settings: Settings, store: CampaignStore,
                 buckets: int, on_batch: Callable[[int], None] | None,
                 on_reject: RejectSink | None = None) -> None:
        self.report = EnqueueReport(spec.campaign_id)
        self._on_reject = on_reject
        self._spec = spec
        self._store = store
        self._buckets = buckets
        self._on_batch = on_batch
        self._normalise = phone.normaliser(settings.enqueue.default_region,
                                           calls=spec.channel == CHANNEL_VOICE)
        self._consent = consent.ConsentReader(spec.consent_required,
                                              dt.datetime.now(dt.UTC).date())
        self._placeholder_end = 1 + len(spec.placeholders)
        self._batch_size = settings.enqueue.batch_size
        self._max_errors = settings.enqueue.max_errors_listed
        self._pack = entry_packer()
        self._batch: list[QueueItem] = []
        self._sizes: list[Size] = []  # the batch's messages' parts and encodings, in order
        self._first: dict[str, Size] = {}  # the size of each number's first row in the batch
        if spec.channel != CHANNEL_VOICE:
            self.report.sms_parts = RenderedParts(spec.text, spec.placeholders)
        self._sized = self.report.sms_parts.size if self.report.sms_parts else _a_call
        # A voice campaign calls a recipient only inside the time slot consented to.
        self._slots = (SlotPolicies(send_policy(Schedule(spec.window or None,
                                                         spec.deadline or None,
                                                         CHANNEL_VOICE)))
                       if spec.channel == CHANNEL_VOICE else None)

    def accept(self, record: Record) -> QueueItem | None:
        """What to queue for a record, or None after rejecting it."""
        self.report.rows += 1
        line, values, error = record
        if values is not None:
            number, error = self._number(values[0])
            if number is not None:
                texts, error = self._placeholder_values(values[1:self._placeholder_end])
                if error is None:
                    given, error = self._consent(*values[self._placeholder_end:])
                    if given is not None:
                        slot, error = self._slot(given.slot)
                        if error is None:  # queued next (add): sized here, from its values
                            # A number's later rows in the batch go in the group of its
                            # first (never queued: duplicates of it), so the first stays
                            # the one queued, as without groups.
                            self._sizes.append(self._first.setdefault(number,
                                                                      self._sized(texts)))
                            return QueueItem(number, self._pack(number, texts, slot), given)
        self._reject(line, error or "unreadable row")
        return None

    def _slot(self, slot: str | None) -> tuple[str, str | None]:
        """A voice recipient's consent slot, checked to meet the campaign's window:
        (slot, None), or ("", why not)."""
        if self._slots is None or not slot:
            return "", None
        try:
            self._slots.for_slot(slot)
        except WindowError as exc:
            return "", f"{consent.SLOT}: {exc}"
        return slot, None

    def add(self, item: QueueItem) -> bool:
        """Add to the batch; True when the batch is full."""
        self._batch.append(item)
        return len(self._batch) >= self._batch_size

    async def flush(self) -> None:
        # One script call per message size (most batches have one): the script says how
        # many of a call it queued, not which, so only then are the parts queued exact.
        for size, items in grouped(self._batch, self._sizes):
            result = await self._store.enqueue_batch(self._spec, self._buckets, items)
            self.report.accepted += result.accepted
            self.report.duplicates += result.duplicates
            self.report.suppressed += result.suppressed
            self.report.excluded += result.excluded
            if self.report.sms_parts is not None:
                self.report.sms_parts.queued(size, result.accepted)
        await self._store.replicated()
        self._batch = []
        self._sizes = []
        self._first = {}
        if self._on_batch is not None:
            self._on_batch(self.report.rows)

    def _number(self, raw: str | None) -> phone.Normalised:
        return self._normalise(raw) if raw is not None else (None, REASON_MISSING_PHONE)

    def _placeholder_values(self, values: Sequence[str | None]
                            ) -> tuple[list[str] | None, str | None]:
        """(the stripped placeholder values, None), or (None, why one is missing)."""
        if not values:
            return None, None  # a text without placeholders
        texts = [value.strip() if value is not None else "" for value in values]
        if all(texts):
            return texts, None
        name = self._spec.placeholders[texts.index("")]
        return None, f"placeholder {{{name}}} has no value"

    def _reject(self, line: int, reason: str) -> None:
        self.report.rejected += 1
        if len(self.report.errors) < self._max_errors:
            self.report.errors.append((line, reason))
        if self._on_reject is not None:
            self._on_reject(line, reason)
