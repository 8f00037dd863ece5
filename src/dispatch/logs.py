"""Where the daemon's and the simulator's log lines go, and how they read: one line per
event on stderr, for a terminal, for journald, or for log tooling.

- `text` (the default): `2024-05-02 10:15:03,123 INFO [web1-2] dispatch.app: ...`.
- Under systemd, when stderr *is* the journal stream (JOURNAL_STREAM names stderr's
  device and inode: the sd-daemon convention, see `journal_stream`): the same line without
  the time and level (journald stamps it), prefixed by the syslog priority journald reads
  and strips: `<6>[web1-2] dispatch.app: ...`. Every line of a traceback carries it.
- `json`: one object per line, `{"ts", "level", "logger", "msg", "worker", ...}` plus the
  structured fields a line was logged with (`extra=fields(campaign=..., event=...)`) and
  `exc` for a traceback. Under journald it is prefixed by the priority as well (journald
  strips it: MESSAGE stays pure JSON, PRIORITY is right).

`worker` names the process: the daemon's consumer name (`<name>-K` for worker K of
`dispatch run --processes N`, `<name>` for the supervisor), `simulator` for the simulator.

A filter on the handler (`Redact`) is the safety net of the rule "never a phone number,
never a password in a log": whatever a line ends up holding, anything that looks like a
phone number (E.164, French national format, bare international digits as SMPP carries
them) is replaced by `[phone]`, and every configured secret by `[secret]`, in the
message, the structured fields and the traceback. Lines are written with numbers left out
in the first place; this is for the one that was not.

`OutageLog` turns a stream of failures of one dependency (a gateway, Redis) into three
kinds of lines: when it starts failing, at most one summary a minute while it lasts, and
when it recovers, with how long it lasted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, TextIO
from urllib.parse import urlsplit

LOG_FORMATS: Final = ("text", "json")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
# The attribute of a LogRecord that holds a line's structured fields (see `fields`).
FIELDS: Final = "fields"
# Campaign lifecycle lines (started, paused, resumed, cancelled, finished) come from this
# logger; with `dispatch run --processes N` only worker 1 lets them through (`setup`).
CAMPAIGN_LOGGER: Final = "dispatch.daemon.campaign_log"
OUTAGE_SUMMARY_S: Final = 60.0

# syslog priorities (sd-daemon(3)): journald files a line prefixed `<N>` under priority N.
PRIORITY_DEBUG, PRIORITY_INFO, PRIORITY_WARNING, PRIORITY_ERR, PRIORITY_CRIT = 7, 6, 4, 3, 2


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (a custom level: the next one down)."""
    if levelno >= logging.CRITICAL:
        return PRIORITY_CRIT
    if levelno >= logging.ERROR:
        return PRIORITY_ERR
    if levelno >= logging.WARNING:
        return PRIORITY_WARNING
    if levelno >= logging.INFO:
        return PRIORITY_INFO
    return PRIORITY_DEBUG


def fields(**values: object) -> dict[str, object]:
    """`extra=` for a line with structured fields: `log.info("...", extra=fields(
    campaign=cid, event="campaign_started"))`. JSON lines carry them as keys; text lines
    only show the message, which says the same in words."""
    return {FIELDS: values}


def journal_stream(stream: TextIO | None = None,
                   environ: Mapping[str, str] | None = None) -> bool:
    """Whether `stream` (stderr) is connected to journald: systemd sets JOURNAL_STREAM to
    "<device>:<inode>" of the stream it connected to stdout/stderr; a child that
    redirected stderr elsewhere (a pipe, a file) inherits the variable, not the stream."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, sep, inode = value.partition(":")
    if not sep:
        return False
    try:
        stat = os.fstat((sys.stderr if stream is None else stream).fileno())
        return (stat.st_dev, stat.st_ino) == (int(device), int(inode))
    except (OSError, ValueError, AttributeError):  # no file descriptor, or not numbers
        return False


# What a phone number may look like in a line. Digits may be grouped by single spaces,
# dots or dashes (06 12 34 56 78, +33 6 12 34 56 78). A bare run of 9 to 15 digits is a
# number without its "+" (33612345678 as SMPP carries it) or its national significant
# number (612345678), unless it is the first half of a Redis stream id (1714567890123-0)
# or the integer part of a decimal.
_PHONE: Final = re.compile(r"""
      \+\d(?:[ .-]?\d){6,14}(?!\d)                # E.164: +33612345678, +33 6 12 34 56 78
    | (?<![\w+])0[1-9](?:[ .-]?\d\d){4}(?!\d)     # national: 0612345678, 06.12.34.56.78
    | (?<![\w+.-])\d{9,15}(?!\w|[.,-]\d)          # bare: 33612345678, 0033612345678
""", re.VERBOSE)
PHONE_MASK: Final = "[phone]"
SECRET_MASK: Final = "[secret]"
MIN_SECRET_LEN: Final = 4  # shorter "secrets" would mangle ordinary words


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret and everything that looks like a phone number masked."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, SECRET_MASK)
    return _PHONE.sub(PHONE_MASK, text) if any(c.isdigit() for c in text) else text


class Redact(logging.Filter):
    """Masks phone numbers and `secrets` in the final message (arguments merged in), in
    string fields and in the traceback; passes every record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first: a secret containing another is masked whole.
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LEN},
                              key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit: shown raw (and masked) all the same
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message, self.secrets), None
        values = getattr(record, FIELDS, None)
        if isinstance(values, dict):
            setattr(record, FIELDS, {key: self._value(value) for key, value in values.items()})
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True

    def _value(self, value: object) -> object:
        if isinstance(value, str):
            return redact(value, self.secrets)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 10**8:
            return PHONE_MASK if redact(str(value)) != str(value) else value
        return value


class TextFormatter(logging.Formatter):
    """`<time> <LEVEL> [worker] logger: message`; under journald `<N>[worker] logger:
    message`, `<N>` on every line (a traceback's too)."""

    def __init__(self, worker: str, *, journal: bool = False) -> None:
        tag = f" [{worker}]" if worker else ""
        super().__init__(f"%(name)s{tag}: %(message)s" if journal
                         else f"%(asctime)s %(levelname)s{tag} %(name)s: %(message)s")
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return _prefixed(text, record.levelno) if self.journal else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ISO 8601, milliseconds), level, logger, msg,
    worker, the line's structured fields, and exc (the traceback) when there is one."""

    def __init__(self, worker: str, *, journal: bool = False) -> None:
        super().__init__()
        self.worker = worker
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = dict(getattr(record, FIELDS, None) or {})
        line.update(ts=datetime.fromtimestamp(record.created, UTC).isoformat(
                        timespec="milliseconds").replace("+00:00", "Z"),
                    level=record.levelname.lower(), logger=record.name,
                    msg=record.getMessage(), worker=self.worker)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        text = json.dumps(line, ensure_ascii=False, default=str)
        return f"<{priority(record.levelno)}>{text}" if self.journal else text


def _prefixed(text: str, levelno: int) -> str:
    prefix = f"<{priority(levelno)}>"
    return "\n".join(prefix + line for line in text.split("\n"))


def formatter(log_format: str, worker: str, *, journal: bool) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(worker, journal=journal)
    if log_format == "text":
        return TextFormatter(worker, journal=journal)
    raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")


class _Handler(logging.StreamHandler[TextIO]):
    """Ours: `setup` replaces it when called again, and leaves other handlers alone (a
    test's log capture)."""


def setup(log_format: str = "text", level: str | int = "INFO", *, worker: str = "",
          campaigns: bool = True, secrets: Iterable[str] = (),
          stream: TextIO | None = None, environ: Mapping[str, str] | None = None
          ) -> logging.Handler:
    """Send every log line to `stream` (stderr) in `log_format`, `worker` named in each;
    journald's form when stderr is the journal stream. `campaigns`: whether this process
    writes campaign lifecycle lines (one worker of several does). `secrets` are masked."""
    stream = sys.stderr if stream is None else stream
    handler = _Handler(stream)
    handler.setFormatter(formatter(log_format, worker,
                                   journal=journal_stream(stream, environ)))
    handler.addFilter(Redact(secrets))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request at INFO: thousands of lines a second, and their URLs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.INFO)
    # coredis tells at INFO each script it loads on first use ("Retry attempt 1 due to
    # error: No matching script"): what it does by design, not news for an operator.
    logging.getLogger("coredis").setLevel(logging.WARNING)
    logging.getLogger(CAMPAIGN_LOGGER).setLevel(logging.NOTSET if campaigns
                                                else logging.WARNING)
    return handler


# The secret keys of a gateway's settings (dispatch.settings.SECRET_KEYS; the logs sit
# below the settings and do not import them).
GATEWAY_SECRET_KEYS = ("password", "auth_token", "inbound_secret")


def settings_secrets(gateways: Iterable[Any], redis_url: str = "") -> list[str]:
    """The secrets of a configuration: gateway passwords, auth tokens and inbound
    secrets, and the password in the Redis URL (`gateways`: GatewaySettings)."""
    found = [secret for gateway in gateways
             for secret in (getattr(gateway, key, "") for key in GATEWAY_SECRET_KEYS)
             if secret]
    if redis_url:
        try:
            password = urlsplit(redis_url).password
        except ValueError:
            password = None
        if password:
            found.append(password)
    return found


def error_kind(exc: BaseException, operation: str = "") -> str:
    """`[operation: ]Kind: first line of the message` (at most 160 characters), of the
    first error inside exception groups (a task group wraps what its tasks raise): how
    an outage's cause is told (OutageLog.failed)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    kind = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return (f"{operation}: {kind}" if operation else kind)[:160]


class OutageLog:
    """The log lines of one dependency's outages (a gateway, Redis), rate-limited:

    - the first failure: `<what> failing: <kind>` (WARNING);
    - while it lasts, at most one line every `every_s` seconds, when failures keep coming:
      `<what> still failing after N s: M <unit> in the last S s (latest: <kind>)`;
    - the first success after: `<what> recovered after N s: M <unit> in all` (WARNING as
      well: `journalctl -p warning` shows the whole incident).

    `failed` and `recovered` are cheap when nothing changes (recovered while up: one test),
    so they can be called on every answer."""

    def __init__(self, what: str, logger: logging.Logger, *, unit: str = "errors",
                 every_s: float = OUTAGE_SUMMARY_S,
                 clock: Callable[[], float] = time.monotonic,
                 extra: Mapping[str, object] | None = None) -> None:
        self.what = what
        self._log = logger
        self._unit = unit
        self._every_s = every_s
        self._clock = clock
        self._extra = dict(extra or {})
        self._since: float | None = None
        self._told_at = 0.0
        self._recent = 0  # failures since the last line
        self._total = 0
        self._kind = ""

    @property
    def failing(self) -> bool:
        return self._since is not None

    def failed(self, kind: str, count: int = 1) -> None:
        now = self._clock()
        self._kind = kind
        if self._since is None:
            self._since, self._told_at, self._recent, self._total = now, now, 0, count
            self._log.warning("%s failing: %s", self.what, kind,
                              extra=self._fields("outage_started", kind=kind))
            return
        self._recent += count
        self._total += count
        if now - self._told_at >= self._every_s:
            self._log.warning(
                "%s still failing after %.0f s: %d %s in the last %.0f s (latest: %s)",
                self.what, now - self._since, self._recent, self._unit, now - self._told_at,
                kind, extra=self._fields("outage_ongoing", kind=kind, count=self._recent,
                                         duration_s=round(now - self._since, 3)))
            self._told_at, self._recent = now, 0

    def recovered(self) -> None:
        if self._since is None:
            return
        duration = self._clock() - self._since
        self._log.warning("%s recovered after %.1f s: %d %s in all (last: %s)", self.what,
                          duration, self._total, self._unit, self._kind,
                          extra=self._fields("outage_ended", kind=self._kind,
                                             count=self._total,
                                             duration_s=round(duration, 3)))
        self._since = None

    def _fields(self, event: str, **values: object) -> dict[str, object]:
        return fields(event=event, **self._extra, **values)
