"""Log lines: text, journald and JSON forms, the journal stream's detection, the redaction
of numbers and secrets, and the rate-limited outage lines."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from dispatch.logs import (
    CAMPAIGN_LOGGER,
    GATEWAY_SECRET_KEYS,
    OutageLog,
    Redact,
    fields,
    journal_stream,
    priority,
    redact,
    settings_secrets,
    setup,
)
from dispatch.settings import SECRET_KEYS, GatewaySettings


@pytest.fixture
def stream(tmp_path: Path) -> Iterator[TextIO]:
    """A real file (a file descriptor, as stderr has), read back by `lines`."""
    with (tmp_path / "stderr").open("w+", encoding="utf-8") as file:
        yield file


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger(CAMPAIGN_LOGGER).setLevel(logging.NOTSET)


def lines(stream: TextIO) -> list[str]:
    stream.flush()
    stream.seek(0)
    return stream.read().splitlines()


def journal_of(stream: TextIO) -> dict[str, str]:
    stat = os.fstat(stream.fileno())
    return {"JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"}


log = logging.getLogger("dispatch.test")


# Priorities and the journal stream.

@pytest.mark.parametrize(("level", "expected"), [
    (logging.DEBUG, 7), (logging.INFO, 6), (logging.WARNING, 4), (logging.ERROR, 3),
    (logging.CRITICAL, 2), (logging.INFO + 5, 6), (5, 7)])
def test_levels_map_to_syslog_priorities(level: int, expected: int) -> None:
    assert priority(level) == expected


def test_the_journal_stream_is_stderr_only_when_device_and_inode_match(
        stream: TextIO, tmp_path: Path) -> None:
    assert journal_stream(stream, journal_of(stream))
    with (tmp_path / "other").open("w") as other:
        assert not journal_stream(stream, journal_of(other))  # stderr redirected elsewhere
    assert not journal_stream(stream, {})
    assert not journal_stream(stream, {"JOURNAL_STREAM": "garbage"})
    assert not journal_stream(stream, {"JOURNAL_STREAM": "1:x"})
    assert not journal_stream(io.StringIO(), journal_of(stream))  # no file descriptor


# The three forms.

def test_text_lines_have_time_level_worker_and_logger(stream: TextIO) -> None:
    setup("text", "INFO", worker="web1-2", stream=stream, environ={})
    log.info("campaign %s paused", "c1")
    log.debug("not shown at INFO")
    [line] = lines(stream)
    assert line.endswith(" INFO [web1-2] dispatch.test: campaign c1 paused")
    assert line[:4].isdigit() and line[4] == "-"  # 2024-05-02 10:15:03,123


def test_under_journald_text_lines_carry_the_priority_and_no_time(stream: TextIO) -> None:
    setup("text", "DEBUG", worker="web1", stream=stream, environ=journal_of(stream))
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    log.critical("c")
    assert lines(stream) == ["<7>dispatch.test [web1]: d", "<6>dispatch.test [web1]: i",
                             "<4>dispatch.test [web1]: w", "<3>dispatch.test [web1]: e",
                             "<2>dispatch.test [web1]: c"]


def test_under_journald_every_line_of_a_traceback_carries_the_priority(
        stream: TextIO) -> None:
    setup("text", "INFO", stream=stream, environ=journal_of(stream))
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("handler failed")
    written = lines(stream)
    assert written[0] == "<3>dispatch.test: handler failed"
    assert len(written) > 3
    assert all(line.startswith("<3>") for line in written)
    assert written[-1] == "<3>RuntimeError: boom"


def test_json_lines_carry_ts_level_logger_msg_worker_and_fields(stream: TextIO) -> None:
    setup("json", "INFO", worker="web1-1", stream=stream, environ={})
    log.warning("gateway %s failing: %s", "default", "HTTP 503",
                extra=fields(event="outage_started", gateway="default", count=3))
    [line] = lines(stream)
    record = json.loads(line)
    assert record.pop("ts").endswith("Z")
    assert record == {"level": "warning", "logger": "dispatch.test",
                      "msg": "gateway default failing: HTTP 503", "worker": "web1-1",
                      "event": "outage_started", "gateway": "default", "count": 3}


def test_json_lines_carry_the_traceback_and_under_journald_the_priority(
        stream: TextIO) -> None:
    setup("json", "INFO", worker="w", stream=stream, environ=journal_of(stream))
    try:
        raise ValueError("bad")
    except ValueError:
        log.exception("failed")
    [line] = lines(stream)  # the traceback inside: still one line
    assert line.startswith("<3>{")
    record = json.loads(line[3:])
    assert record["msg"] == "failed"
    assert record["exc"].endswith("ValueError: bad")


def test_setup_again_replaces_its_handler_and_keeps_others(stream: TextIO) -> None:
    other = logging.NullHandler()
    logging.getLogger().addHandler(other)
    setup("text", "INFO", stream=stream, environ={})
    setup("json", "INFO", stream=stream, environ={})
    ours = [h for h in logging.getLogger().handlers if h.__class__.__name__ == "_Handler"]
    assert len(ours) == 1
    assert other in logging.getLogger().handlers
    log.info("once")
    assert len(lines(stream)) == 1


def test_only_the_worker_that_tells_campaigns_writes_their_lifecycle(stream: TextIO) -> None:
    lifecycle = logging.getLogger(CAMPAIGN_LOGGER)
    setup("text", "INFO", worker="w-2", campaigns=False, stream=stream, environ={})
    lifecycle.info("campaign c1 started")
    lifecycle.warning("still told")
    setup("text", "INFO", worker="w-1", campaigns=True, stream=stream, environ={})
    lifecycle.info("campaign c1 paused")
    told = [line.split(": ", 1)[1] for line in lines(stream)]
    assert told == ["still told", "campaign c1 paused"]


# Never a number, never a secret.

@pytest.mark.parametrize("number", [
    "+33612345678", "+33 6 12 34 56 78", "+262692123456", "0612345678", "06 12 34 56 78",
    "06.12.34.56.78", "06-12-34-56-78", "33612345678", "0033612345678", "612345678",
    "262692123456"])
def test_phone_numbers_in_any_format_are_masked(number: str) -> None:
    assert redact(f"reply from {number}: STOP") == "reply from [phone]: STOP"
    assert redact(f"to={number}") == "to=[phone]"
    assert redact(f"({number})") == "([phone])"


@pytest.mark.parametrize("text", [
    "entry 1714567890123-0 is unreadable", "claimed 1200 messages", "in 0.25 s",
    "rate 12345.678901 msg/s", "bound to 127.0.0.1:2775", "ESME_RTHROTTLED (0x00000058)",
    "campaign c20240502 finished", "retrying in 1714567890.5 s", "HTTP 503"])
def test_ordinary_figures_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_the_filter_masks_message_fields_traceback_and_secrets(stream: TextIO) -> None:
    setup("json", "INFO", stream=stream, environ={}, secrets=["hunter22", "ab"])
    try:
        raise ValueError("bind refused for password hunter22 to +33612345678")
    except ValueError:
        log.exception("failed for %s (password %s)", "0612345678", "hunter22",
                      extra=fields(to="33612345678", number=33612345678, count=1200))
    written = lines(stream)[0]
    for leaked in ("612345678", "hunter22"):
        assert leaked not in written
    record = json.loads(written)
    assert record["msg"] == "failed for [phone] (password [secret])"
    assert (record["to"], record["number"], record["count"]) == ("[phone]", "[phone]", 1200)
    assert "[secret] to [phone]" in record["exc"]
    assert Redact(["ab", "abcd"]).secrets == ["abcd"]  # too short to be masked


def test_secrets_of_a_configuration() -> None:
    gateways = [GatewaySettings(password="smpp-pass"), GatewaySettings(auth_token="tok-123"),
                GatewaySettings(inbound_secret="hmac-key"), GatewaySettings()]
    assert settings_secrets(gateways, "redis://user:redis-pw@host:6379/0") == [
        "smpp-pass", "tok-123", "hmac-key", "redis-pw"]
    assert GATEWAY_SECRET_KEYS == SECRET_KEYS  # every secret a gateway setting holds
    assert settings_secrets([], "unix:///run/redis.sock") == []


# Outages: one line when it starts, one a minute at most, one when it ends.

class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_told_when_it_starts_once_a_minute_and_when_it_ends(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    outage = OutageLog("gateway default", logging.getLogger("dispatch.test.outage"),
                       unit="messages to retry", clock=clock, extra={"gateway": "default"})
    caplog.set_level(logging.INFO, "dispatch.test.outage")
    outage.recovered()  # up: nothing to tell
    assert not outage.failing
    outage.failed("gateway unreachable: ConnectError", 10)
    for _ in range(59):  # a failure a second, for a minute
        clock.now += 1
        outage.failed("gateway unreachable: ConnectError", 10)
    clock.now += 1
    outage.failed("gateway timeout", 10)  # 60 s: the summary
    for _ in range(30):
        clock.now += 1
        outage.failed("gateway timeout", 10)
    clock.now += 0.5
    outage.recovered()
    outage.recovered()  # told once
    assert not outage.failing
    told = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert told == [
        ("WARNING", "gateway default failing: gateway unreachable: ConnectError"),
        ("WARNING", "gateway default still failing after 60 s: 600 messages to retry in "
                    "the last 60 s (latest: gateway timeout)"),
        ("WARNING", "gateway default recovered after 90.5 s: 910 messages to retry in all "
                    "(last: gateway timeout)")]
    assert [(r.fields["event"], r.fields["gateway"])  # type: ignore[attr-defined]
            for r in caplog.records] == [("outage_started", "default"),
                                         ("outage_ongoing", "default"),
                                         ("outage_ended", "default")]
    assert caplog.records[2].fields["duration_s"] == 90.5  # type: ignore[attr-defined]


def test_a_second_outage_starts_over(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    outage = OutageLog("redis", logging.getLogger("dispatch.test.outage"), clock=clock)
    caplog.set_level(logging.INFO, "dispatch.test.outage")
    outage.failed("ConnectionError: refused")
    clock.now += 2
    outage.recovered()
    clock.now += 100
    outage.failed("TimeoutError")
    clock.now += 59
    outage.failed("TimeoutError")  # within a minute of its start: no summary
    clock.now += 1
    outage.recovered()
    assert [r.getMessage() for r in caplog.records] == [
        "redis failing: ConnectionError: refused",
        "redis recovered after 2.0 s: 1 errors in all (last: ConnectionError: refused)",
        "redis failing: TimeoutError",
        "redis recovered after 60.0 s: 2 errors in all (last: TimeoutError)"]
