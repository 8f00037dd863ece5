"""Sending windows in local time: zones, DST, holidays; deadlines; the per-message policy."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.policy.deadline import (
    EARLY_VOTE_ZONES,
    NO_DEADLINE,
    Deadline,
    DeadlineError,
    election_eve,
    election_eve_deadline,
    parse_deadline,
)
from dispatch.policy.holidays import FRENCH_HOLIDAYS
from dispatch.policy.sending import EXPIRE, SEND, Action, SendPolicy
from dispatch.policy.windows import (
    SMS_WINDOW,
    VOICE_WINDOW,
    SendingWindow,
    WindowError,
    intersect,
    is_open,
    next_open,
    next_open_ts,
    open_interval,
    parse_window,
)

PARIS, REUNION = "Europe/Paris", "Indian/Reunion"
H = FRENCH_HOLIDAYS


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


# --- parsing -----------------------------------------------------------------------------

def test_default_windows() -> None:
    assert str(SMS_WINDOW) == "mon-sat 09:00-20:00"
    assert str(VOICE_WINDOW) == "mon-fri 10:00-13:00,14:00-20:00"
    assert parse_window("mon-sat 09:00-20:00") == SMS_WINDOW


@pytest.mark.parametrize(("spec", "canonical"), [
    ("mon - fri 10h-13h , 14h-20h", "mon-fri 10:00-13:00,14:00-20:00"),
    ("lun-sam 9:00-20:00", "mon-sat 09:00-20:00"),
    ("MON,WED,FRI 09:00-12:00", "mon 09:00-12:00; wed 09:00-12:00; fri 09:00-12:00"),
    ("sat-mon 09:00-10:00", "mon 09:00-10:00; sat-sun 09:00-10:00"),
    ("daily 20:00-24:00; daily 00:00-08:00", "mon-sun 00:00-08:00,20:00-24:00"),
    ("mon-fri 09:00-12:00,11:00-14:00; sat 10:00-12:00;", "mon-fri 09:00-14:00; sat 10:00-12:00"),
])
def test_parse_window_syntax(spec: str, canonical: str) -> None:
    assert str(parse_window(spec)) == canonical


@pytest.mark.parametrize(("spec", "says"), [
    ("", "empty sending window"),
    ("mon-sax 09:00-20:00", "unknown day 'sax'"),
    ("mon-sat", "needs days then times"),
    ("mon-sat 09:00", "'09:00' is not a range"),
    ("mon 20:00-09:00", "cannot cross midnight"),
    ("mon 09:00-25:00", "'25:00' is not a time"),
    ("mon 09:75-10:00", "'09:75' is not a time"),
    ("mon nine-ten", "'nine' is not a time"),
    ("mon 24:00-24:00", "ends before it starts"),
])
def test_parse_window_errors_name_what_is_wrong(spec: str, says: str) -> None:
    with pytest.raises(WindowError, match=says):
        parse_window(spec)


# --- time zones --------------------------------------------------------------------------

@pytest.mark.parametrize(("zone", "at", "opens"), [
    # Monday 2 March 2026. Réunion is UTC+4: 08:30 UTC is 12:30 there.
    (REUNION, utc(2026, 3, 2, 8, 30), utc(2026, 3, 2, 8, 30)),
    (REUNION, utc(2026, 3, 2, 4, 30), utc(2026, 3, 2, 5, 0)),
    (PARIS, utc(2026, 3, 2, 7, 30), utc(2026, 3, 2, 8, 0)),  # 08:30 CET: not yet
    ("Indian/Mayotte", utc(2026, 3, 2, 5, 30), utc(2026, 3, 2, 6, 0)),  # UTC+3
    ("America/Guadeloupe", utc(2026, 3, 2, 8, 30), utc(2026, 3, 2, 13, 0)),  # 04:30 local
    ("America/Cayenne", utc(2026, 3, 2, 23, 0), utc(2026, 3, 3, 12, 0)),  # 20:00 local: closed
    ("Pacific/Noumea", utc(2026, 3, 2, 20, 0), utc(2026, 3, 2, 22, 0)),  # Tue 07:00 local
    ("Pacific/Tahiti", utc(2026, 3, 7, 6, 0), utc(2026, 3, 7, 19, 0)),  # Fri 20:00 local
])
def test_the_window_is_in_the_recipients_local_time(
        zone: str, at: dt.datetime, opens: dt.datetime) -> None:
    assert next_open(SMS_WINDOW, zone, H, at) == opens
    assert is_open(SMS_WINDOW, zone, H, at) == (at == opens)


def test_sunday_is_closed_for_sms_and_the_end_of_a_range_is_excluded() -> None:
    sunday_noon = utc(2026, 3, 8, 11, 0)
    assert not is_open(SMS_WINDOW, PARIS, H, sunday_noon)
    assert next_open(SMS_WINDOW, PARIS, H, sunday_noon) == utc(2026, 3, 9, 8, 0)
    assert is_open(SMS_WINDOW, PARIS, H, utc(2026, 3, 7, 18, 59, 59))
    assert not is_open(SMS_WINDOW, PARIS, H, utc(2026, 3, 7, 19, 0))


def test_voice_has_a_lunch_break_and_no_saturday() -> None:
    assert next_open(VOICE_WINDOW, PARIS, H, utc(2026, 3, 2, 12, 30)) == utc(2026, 3, 2, 13, 0)
    assert next_open(VOICE_WINDOW, PARIS, H, utc(2026, 3, 6, 19, 0)) == utc(2026, 3, 9, 9, 0)


def test_next_open_returns_at_itself_when_open_and_rejects_naive_times() -> None:
    at = dt.datetime(2026, 3, 2, 12, 0, 0, 1234, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert next_open(SMS_WINDOW, PARIS, H, at) == at
    with pytest.raises(ValueError, match="timezone-aware"):
        next_open(SMS_WINDOW, PARIS, H, dt.datetime(2026, 3, 2, 12, 0))


# --- DST ---------------------------------------------------------------------------------

def test_paris_windows_across_the_spring_change() -> None:
    # Sat 28 March 2026 is CET (UTC+1); clocks go forward on Sun 29; Mon 30 is CEST (UTC+2).
    assert next_open(SMS_WINDOW, PARIS, H, utc(2026, 3, 28, 5, 0)) == utc(2026, 3, 28, 8, 0)
    assert next_open(SMS_WINDOW, PARIS, H, utc(2026, 3, 28, 19, 0)) == utc(2026, 3, 30, 7, 0)
    daily = parse_window("daily 09:00-20:00")
    assert next_open(daily, PARIS, None, utc(2026, 3, 29, 0, 0)) == utc(2026, 3, 29, 7, 0)
    assert open_interval(daily, PARIS, None, utc(2026, 3, 29, 12).timestamp()) == (
        utc(2026, 3, 29, 7).timestamp(), utc(2026, 3, 29, 18).timestamp())


def test_paris_windows_across_the_autumn_change() -> None:
    # Sat 24 October 2026 is CEST; clocks go back on Sun 25; Mon 26 is CET.
    assert next_open(SMS_WINDOW, PARIS, H, utc(2026, 10, 24, 18, 0)) == utc(2026, 10, 26, 8, 0)
    daily = parse_window("daily 09:00-20:00")
    assert open_interval(daily, PARIS, None, utc(2026, 10, 25, 12).timestamp()) == (
        utc(2026, 10, 25, 8).timestamp(), utc(2026, 10, 25, 19).timestamp())


def test_a_window_start_in_the_skipped_hour_opens_when_the_clock_jumps() -> None:
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST at 01:00 UTC; 02:30 never happens.
    night = parse_window("daily 02:30-05:00")
    assert not is_open(night, PARIS, None, utc(2026, 3, 29, 0, 59))
    assert next_open(night, PARIS, None, utc(2026, 3, 29, 0, 0)) == utc(2026, 3, 29, 1, 0)
    assert is_open(night, PARIS, None, utc(2026, 3, 29, 2, 59))  # 04:59 CEST
    assert not is_open(night, PARIS, None, utc(2026, 3, 29, 3, 0))  # 05:00 CEST


def test_a_wall_time_that_happens_twice_is_inside_the_window_both_times() -> None:
    # 25 October 2026: 03:00 CEST goes back to 02:00 CET at 01:00 UTC; 02:00-03:00 is twice.
    starts = parse_window("daily 02:30-05:00")
    assert next_open(starts, PARIS, None, utc(2026, 10, 25, 0, 0)) == utc(2026, 10, 25, 0, 30)
    assert not is_open(starts, PARIS, None, utc(2026, 10, 25, 1, 15))  # 02:15 CET, second pass
    assert next_open(starts, PARIS, None, utc(2026, 10, 25, 1, 15)) == utc(2026, 10, 25, 1, 30)
    ends = parse_window("daily 00:00-02:30")
    assert is_open(ends, PARIS, None, utc(2026, 10, 25, 0, 15))  # 02:15 CEST
    assert not is_open(ends, PARIS, None, utc(2026, 10, 25, 0, 45))  # 02:45 CEST
    assert next_open(ends, PARIS, None, utc(2026, 10, 25, 0, 45)) == utc(2026, 10, 25, 1, 0)
    assert not is_open(ends, PARIS, None, utc(2026, 10, 25, 1, 30))  # 02:30 CET


def test_a_zone_whose_clocks_jump_over_midnight() -> None:
    # Havana, 8 March 2026: 00:00 CST jumps to 01:00 CDT at 05:00 UTC; midnight never happens.
    early = parse_window("daily 00:00-02:00")
    assert next_open(early, "America/Havana", None, utc(2026, 3, 8, 4, 30)) == utc(2026, 3, 8, 5)


# --- holidays ----------------------------------------------------------------------------

def test_holidays_skip_to_the_next_open_day() -> None:
    # Tuesday 14 July 2026 10:00 CEST -> Wednesday 15 July 09:00 CEST.
    assert not is_open(SMS_WINDOW, PARIS, H, utc(2026, 7, 14, 8, 0))
    assert next_open(SMS_WINDOW, PARIS, H, utc(2026, 7, 14, 8, 0)) == utc(2026, 7, 15, 7, 0)
    assert is_open(SMS_WINDOW, PARIS, None, utc(2026, 7, 14, 8, 0))  # without holidays


def test_a_weekend_followed_by_easter_monday() -> None:
    # Sat 4 April 2026 20:00 CEST: Sunday closed, Easter Monday 6 April off -> Tue 7 April.
    assert next_open(SMS_WINDOW, PARIS, H, utc(2026, 4, 4, 18, 0)) == utc(2026, 4, 7, 7, 0)


def test_overseas_holidays_follow_the_recipients_territory() -> None:
    # Monday 20 December 2027: abolition of slavery in Réunion, a working day in Paris.
    at = utc(2027, 12, 20, 9, 0)
    assert not is_open(SMS_WINDOW, REUNION, H, at)
    assert next_open(SMS_WINDOW, REUNION, H, at) == utc(2027, 12, 21, 5, 0)
    assert is_open(SMS_WINDOW, PARIS, H, at)


# --- deadline ----------------------------------------------------------------------------

def test_election_eve_deadline_is_midnight_local_the_day_before_the_vote() -> None:
    vote = dt.date(2027, 4, 11)  # a Sunday
    assert election_eve_deadline(vote, PARIS) == utc(2027, 4, 9, 22, 0)  # 10 April 00:00 CEST
    assert election_eve_deadline(vote, REUNION) == utc(2027, 4, 9, 20, 0)  # 00:00 UTC+4


def test_election_eve_is_per_zone_and_early_zones_are_a_day_earlier() -> None:
    deadline = election_eve(dt.date(2027, 4, 11), early_zones=EARLY_VOTE_ZONES)
    assert deadline.for_zone(PARIS) == utc(2027, 4, 9, 22, 0)
    assert deadline.for_zone(REUNION) == utc(2027, 4, 9, 20, 0)
    assert deadline.for_zone("Pacific/Noumea") == utc(2027, 4, 9, 13, 0)
    # Guadeloupe votes on Saturday 10 April: its blackout starts Friday 9 April 00:00 AST.
    assert deadline.for_zone("America/Guadeloupe") == utc(2027, 4, 9, 4, 0)
    assert deadline.for_zone("Pacific/Tahiti") == utc(2027, 4, 9, 10, 0)
    assert not deadline.expired(utc(2027, 4, 9, 21, 59, 59), PARIS)
    assert deadline.expired(utc(2027, 4, 9, 22, 0), PARIS)
    assert deadline.expired(utc(2027, 4, 9, 22, 0)) and not deadline.expired(utc(2027, 4, 9, 21))


@pytest.mark.parametrize(("text", "paris", "reunion"), [
    ("2027-04-10", utc(2027, 4, 9, 22), utc(2027, 4, 9, 20)),
    ("2027-04-10T00:00", utc(2027, 4, 9, 22), utc(2027, 4, 9, 20)),
    ("2027-04-10 00:00", utc(2027, 4, 9, 22), utc(2027, 4, 9, 20)),
    ("2027-04-10T00:00+02:00", utc(2027, 4, 9, 22), utc(2027, 4, 9, 22)),
    ("2027-04-09T22:00Z", utc(2027, 4, 9, 22), utc(2027, 4, 9, 22)),
])
def test_parse_deadline_local_or_instant(
        text: str, paris: dt.datetime, reunion: dt.datetime) -> None:
    deadline = parse_deadline(text)
    assert (deadline.for_zone(PARIS), deadline.for_zone(REUNION)) == (paris, reunion)


@pytest.mark.parametrize("text", ["", "tomorrow", "2027-13-01", "10/04/2027"])
def test_parse_deadline_errors(text: str) -> None:
    with pytest.raises(DeadlineError, match="expected 2027-04-10"):
        parse_deadline(text)


def test_deadline_misuse_is_refused() -> None:
    with pytest.raises(DeadlineError, match="not both"):
        Deadline(wall=dt.datetime(2027, 4, 10), instant=utc(2027, 4, 10))
    with pytest.raises(DeadlineError, match="needs a UTC offset"):
        Deadline(instant=dt.datetime(2027, 4, 10))
    assert NO_DEADLINE.for_zone(PARIS) is None
    assert not NO_DEADLINE.expired(utc(9999, 1, 1))
    assert str(election_eve(dt.date(2027, 4, 11), early_zones=["Pacific/Tahiti"])) == (
        "2027-04-10T00:00:00 local (Pacific/Tahiti 2027-04-09T00:00:00)")


def test_a_deadline_midnight_that_never_happens_is_reached_at_the_jump() -> None:
    deadline = parse_deadline("2026-03-08T00:00")
    assert deadline.for_zone("America/Havana") == utc(2026, 3, 8, 5, 0)


# --- the per-message policy --------------------------------------------------------------

def test_decide_send_wait_expire() -> None:
    policy = SendPolicy(deadline=election_eve(dt.date(2027, 4, 11)))
    paris, reunion = "+33612345678", "+262692123456"
    assert policy.decide(paris, utc(2027, 4, 8, 10, 0)) is SEND  # Thursday 12:00 CEST
    waiting = policy.decide(paris, utc(2027, 4, 8, 5, 0))  # 07:00 CEST
    assert (waiting.action, waiting.until) == (Action.WAIT, utc(2027, 4, 8, 7, 0))
    # Friday 21:00 CEST: the next window (Saturday 09:00) is after the deadline.
    assert policy.decide(paris, utc(2027, 4, 9, 19, 0)) is EXPIRE
    assert policy.decide(paris, utc(2027, 4, 9, 22, 0)) is EXPIRE
    # Friday 19:30 CEST is 21:30 in Réunion: closed there, and nothing opens before its eve.
    assert policy.decide(reunion, utc(2027, 4, 9, 17, 30)) is EXPIRE
    assert policy.decide(paris, utc(2027, 4, 9, 17, 30)) is SEND


def test_decide_caches_per_zone_but_follows_time() -> None:
    policy = SendPolicy()
    number = "+33612345678"
    assert policy.decide_ts(number, utc(2026, 3, 2, 18, 59).timestamp()) is SEND
    assert policy.decide_ts(number, utc(2026, 3, 2, 19, 0).timestamp()).action is Action.WAIT
    assert policy.decide_ts(number, utc(2026, 3, 2, 10, 0).timestamp()) is SEND  # back in time
    decisions = policy.decide_many([number, "+262692123456"], utc(2026, 3, 2, 4).timestamp())
    assert [d.until for d in decisions] == [utc(2026, 3, 2, 8), utc(2026, 3, 2, 5)]


def test_for_campaign() -> None:
    voice = SendPolicy.for_campaign(channel="voice", deadline="2026-03-04")
    assert voice.window == VOICE_WINDOW
    assert voice.decide("+33612345678", utc(2026, 3, 3, 23, 0)) is EXPIRE
    custom = SendPolicy.for_campaign(window="mon-sun 10:00-18:00", skip_holidays=False)
    assert custom.decide("+33612345678", utc(2026, 7, 14, 12, 0)) is SEND
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        SendPolicy.for_campaign(channel="fax")
    with pytest.raises(WindowError):
        SendPolicy.for_campaign(window="weekends")


ZONES = ["Europe/Paris", "Indian/Reunion", "America/Havana", "Pacific/Noumea",
         "America/Miquelon", "Australia/Lord_Howe"]
NUMBERS = {"Europe/Paris": "+33612345678", "Indian/Reunion": "+262692123456",
           "Pacific/Noumea": "+687751234", "America/Miquelon": "+508551234"}
START = utc(2026, 1, 1).timestamp()
YEAR = 366 * 86400


@settings(max_examples=60, deadline=None)
@given(zone=st.sampled_from(ZONES), window=st.sampled_from([SMS_WINDOW, VOICE_WINDOW]),
       offsets=st.lists(st.floats(0, YEAR), min_size=1, max_size=30),
       in_order=st.booleans())
def test_the_cached_policy_agrees_with_the_plain_functions(
        zone: str, window: SendingWindow, offsets: list[float], in_order: bool) -> None:
    policy = SendPolicy(window, H)
    for offset in sorted(offsets) if in_order else offsets:
        now = START + offset
        decision = policy.decide_zone(zone, now)
        opens = next_open_ts(window, zone, H, now)
        if opens == now:
            assert decision is SEND
        else:
            assert decision.action is Action.WAIT and decision.until_ts == opens
            assert open_interval(window, zone, H, now) is None


def test_a_window_narrowed_to_a_slot_keeps_the_times_open_in_both() -> None:
    narrowed = intersect(VOICE_WINDOW, parse_window("lun-ven 12:00-15:00; sam 10:00-12:00"))
    assert str(narrowed) == "mon-fri 12:00-13:00,14:00-15:00"
    with pytest.raises(WindowError, match="never open"):
        intersect(VOICE_WINDOW, parse_window("sam-dim 10:00-12:00"))


def test_each_consent_slot_gets_the_campaign_s_policy_narrowed_to_it() -> None:
    from dispatch.policy.sending import SendPolicy, SlotPolicies

    slots = SlotPolicies(SendPolicy(VOICE_WINDOW))
    assert slots.for_slot("") is slots.base
    evening = slots.for_slot("lun-ven 18:00-21:00")
    assert str(evening.window) == "mon-fri 18:00-20:00"
    assert slots.for_slot("lun-ven 18:00-21:00") is evening  # built once
    with pytest.raises(WindowError):
        slots.for_slot("after dinner")
