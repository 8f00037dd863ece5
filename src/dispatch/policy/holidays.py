"""French public holidays for any year, per territory — pure.

National (Code du travail L.3133-1), everywhere: 1 Jan, Easter Monday, 1 May, 8 May,
Ascension (Easter + 39), Whit Monday (Easter + 50), 14 Jul, 15 Aug, 1 Nov, 11 Nov, 25 Dec.
Easter is computed with the anonymous Gregorian algorithm (Meeus/Jones/Butcher).

Territorial extras, keyed by territory and found from the recipient's zone:
- abolition of slavery (loi 83-550): Mayotte 27 Apr, Martinique 22 May, Guadeloupe 27 May,
  French Guiana 10 Jun, Réunion 20 Dec;
- French Polynesia: Good Friday, 5 Mar (arrival of the Gospel), 29 Jun (autonomy day);
  New Caledonia: 24 Sep (citizenship day); Wallis and Futuna: 28 Apr (Saint Pierre Chanel),
  29 Jul (territory day).
- Alsace-Moselle (Good Friday, 26 Dec) cannot be told from a number (mobiles are not
  geographic): off by default, `HolidayCalendar(alsace_moselle=True)` adds both days to
  mainland recipients, for a campaign aimed at that region.
- Customary days off that are not legal holidays (carnival days in the Antilles) are not
  included; a campaign can still add dates with `extra`.

Recipients outside France (a zone with no territory) get the national holidays: the
campaigns are French, and the rule is a sending policy, not a statement about their country.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

MAINLAND: Final = "FR"

ZONE_TERRITORIES: Final[Mapping[str, str]] = {
    "Europe/Paris": MAINLAND,
    "Indian/Reunion": "RE",
    "Indian/Mayotte": "YT",
    "America/Guadeloupe": "GP",
    "America/Martinique": "MQ",
    "America/Cayenne": "GF",
    "America/Miquelon": "PM",
    "Pacific/Noumea": "NC",
    "Pacific/Tahiti": "PF",
    "Pacific/Wallis": "WF",
}

_FIXED_NATIONAL: Final = (
    (1, 1, "Jour de l'an"), (5, 1, "Fête du travail"), (5, 8, "Victoire 1945"),
    (7, 14, "Fête nationale"), (8, 15, "Assomption"), (11, 1, "Toussaint"),
    (11, 11, "Armistice 1918"), (12, 25, "Noël"),
)
_EASTER_NATIONAL: Final = ((1, "Lundi de Pâques"), (39, "Ascension"), (50, "Lundi de Pentecôte"))
_GOOD_FRIDAY: Final = (-2, "Vendredi saint")
_ABOLITION: Final = "Abolition de l'esclavage"
_FIXED_TERRITORIAL: Final[Mapping[str, tuple[tuple[int, int, str], ...]]] = {
    "YT": ((4, 27, _ABOLITION),),
    "MQ": ((5, 22, _ABOLITION),),
    "GP": ((5, 27, _ABOLITION),),
    "GF": ((6, 10, _ABOLITION),),
    "RE": ((12, 20, _ABOLITION),),
    "PF": ((3, 5, "Arrivée de l'Évangile"), (6, 29, "Fête de l'autonomie")),
    "NC": ((9, 24, "Fête de la citoyenneté"),),
    "WF": ((4, 28, "Saint Pierre Chanel"), (7, 29, "Fête du territoire")),
}
_EASTER_TERRITORIAL: Final[Mapping[str, tuple[tuple[int, str], ...]]] = {"PF": (_GOOD_FRIDAY,)}
_ALSACE_MOSELLE: Final = ((12, 26, "Saint Étienne"),)


def easter(year: int) -> dt.date:
    """Easter Sunday of `year` (Gregorian calendar)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def territory_for_zone(zone: str) -> str | None:
    """The French territory of a zone, None for a zone outside France."""
    return ZONE_TERRITORIES.get(zone)


@functools.lru_cache(maxsize=256)
def holidays(year: int, territory: str | None = MAINLAND, *,
             alsace_moselle: bool = False) -> Mapping[dt.date, str]:
    """The public holidays of `year` in `territory` (None: national ones only), by date."""
    days = _dated(year, _FIXED_NATIONAL, _EASTER_NATIONAL)
    if territory is not None:
        days.update(_dated(year, _FIXED_TERRITORIAL.get(territory, ()),
                           _EASTER_TERRITORIAL.get(territory, ())))
    if alsace_moselle and territory == MAINLAND:
        days.update(_dated(year, _ALSACE_MOSELLE, (_GOOD_FRIDAY,)))
    return MappingProxyType(dict(sorted(days.items())))  # cached: read-only


def _dated(year: int, fixed: Iterable[tuple[int, int, str]],
           from_easter: Iterable[tuple[int, str]]) -> dict[dt.date, str]:
    sunday = easter(year)
    days = {dt.date(year, month, day): name for month, day, name in fixed}
    days.update({sunday + dt.timedelta(days=offset): name for offset, name in from_easter})
    return days


class HolidayCalendar:
    """Which local dates are holidays for a recipient's zone; the windows ask it per date.

    `extra` adds campaign-specific dates (all zones); `alsace_moselle` see the module doc.
    Look-ups are cached per (zone, year): a set membership test per call.
    """

    def __init__(self, *, alsace_moselle: bool = False,
                 extra: Iterable[dt.date] = ()) -> None:
        self.alsace_moselle = alsace_moselle
        self.extra = frozenset(extra)
        self._by_zone_year: dict[tuple[str, int], frozenset[dt.date]] = {}

    def is_holiday(self, zone: str, day: dt.date) -> bool:
        key = (zone, day.year)
        dates = self._by_zone_year.get(key)
        if dates is None:
            dates = self._by_zone_year[key] = self._dates(zone, day.year)
        return day in dates

    def name(self, zone: str, day: dt.date) -> str | None:
        """The holiday's name, for messages saying why a message waits."""
        if day in self.extra:
            return "campaign day off"
        return self._holidays(zone, day.year).get(day)

    def _dates(self, zone: str, year: int) -> frozenset[dt.date]:
        return frozenset(self._holidays(zone, year)) | self.extra

    def _holidays(self, zone: str, year: int) -> Mapping[dt.date, str]:
        return holidays(year, territory_for_zone(zone), alsace_moselle=self.alsace_moselle)


FRENCH_HOLIDAYS: Final = HolidayCalendar()
