"""French public holidays: Easter-based dates, fixed dates, territories."""

from __future__ import annotations

import datetime as dt

import pytest

from dispatch.policy.holidays import FRENCH_HOLIDAYS, HolidayCalendar, easter, holidays

D = dt.date


@pytest.mark.parametrize(("year", "sunday"), [
    (2024, D(2024, 3, 31)), (2025, D(2025, 4, 20)), (2026, D(2026, 4, 5)),
    (2027, D(2027, 3, 28)), (2000, D(2000, 4, 23)), (2285, D(2285, 3, 22)),
    (2038, D(2038, 4, 25)),
])
def test_easter(year: int, sunday: dt.date) -> None:
    assert easter(year) == sunday


def test_the_eleven_national_holidays_of_2026() -> None:
    assert list(holidays(2026)) == [
        D(2026, 1, 1), D(2026, 4, 6), D(2026, 5, 1), D(2026, 5, 8), D(2026, 5, 14),
        D(2026, 5, 25), D(2026, 7, 14), D(2026, 8, 15), D(2026, 11, 1), D(2026, 11, 11),
        D(2026, 12, 25)]


def test_easter_based_holidays_of_2027() -> None:
    days = holidays(2027)
    assert days[D(2027, 3, 29)] == "Lundi de Pâques"
    assert days[D(2027, 5, 6)] == "Ascension"
    assert days[D(2027, 5, 17)] == "Lundi de Pentecôte"


@pytest.mark.parametrize(("zone", "day"), [
    ("Indian/Mayotte", D(2026, 4, 27)), ("America/Martinique", D(2026, 5, 22)),
    ("America/Guadeloupe", D(2026, 5, 27)), ("America/Cayenne", D(2026, 6, 10)),
    ("Indian/Reunion", D(2026, 12, 20)), ("Pacific/Noumea", D(2026, 9, 24)),
    ("Pacific/Tahiti", D(2026, 6, 29)), ("Pacific/Tahiti", D(2026, 4, 3)),
    ("Pacific/Wallis", D(2026, 7, 29)),
])
def test_territorial_holidays_apply_in_their_territory_only(zone: str, day: dt.date) -> None:
    assert FRENCH_HOLIDAYS.is_holiday(zone, day)
    assert not FRENCH_HOLIDAYS.is_holiday("Europe/Paris", day)


def test_national_holidays_apply_overseas_and_abroad() -> None:
    for zone in ("Indian/Reunion", "Pacific/Noumea", "America/New_York"):
        assert FRENCH_HOLIDAYS.is_holiday(zone, D(2026, 7, 14))
    assert not FRENCH_HOLIDAYS.is_holiday("America/New_York", D(2026, 12, 20))


def test_alsace_moselle_days_are_off_unless_asked_for() -> None:
    good_friday, st_stephen = D(2026, 4, 3), D(2026, 12, 26)
    alsace = HolidayCalendar(alsace_moselle=True)
    assert not FRENCH_HOLIDAYS.is_holiday("Europe/Paris", good_friday)
    assert alsace.is_holiday("Europe/Paris", good_friday)
    assert alsace.is_holiday("Europe/Paris", st_stephen)
    assert not alsace.is_holiday("Indian/Reunion", st_stephen)


def test_a_campaign_can_add_days_off() -> None:
    calendar = HolidayCalendar(extra=[D(2026, 6, 2)])
    assert calendar.is_holiday("Indian/Reunion", D(2026, 6, 2))
    assert calendar.name("Europe/Paris", D(2026, 6, 2)) == "campaign day off"
    assert calendar.name("Europe/Paris", D(2026, 7, 14)) == "Fête nationale"
    assert calendar.name("Europe/Paris", D(2026, 7, 15)) is None


def test_the_cached_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        holidays(2026)[D(2026, 1, 2)] = "no"  # type: ignore[index]
