"""The recipient's time zone, from the E.164 number — pure.

French numbering is mapped explicitly (phonenumbers does not know that +262 639 is Mayotte,
and gives two zones for +262 692): a table of country code, then national-number prefix,
longest first. Every other country goes through phonenumbers' `time_zones_for_number`.

Choices:
- +262: Réunion by default (0262/0263/0692/0693, 07092); Mayotte for 0269, 02689, 0639 and
  070935-070937. +590 (Guadeloupe, Saint-Martin, Saint-Barthélemy: one offset, no DST) is
  America/Guadeloupe; +689 (three zones) is Pacific/Tahiti, where nearly everyone lives.
- Several zones from phonenumbers (a mobile of a country with many zones): the first in
  alphabetical order, so that the choice is stable. No choice is right for every such
  number; campaigns are French, where this never happens.
- A number phonenumbers cannot place ("Etc/Unknown", unparseable, or a zone missing from
  this machine's tz database): DEFAULT_ZONE, never an error, since this runs per message.

Speed: a French number costs a few dict look-ups; a foreign one is cached (bounded LRU).
"""

from __future__ import annotations

import functools
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

DEFAULT_ZONE: Final = "Europe/Paris"
_UNKNOWN: Final = "Etc/Unknown"

# Country code -> zone, for the codes of one zone.
_SINGLE_ZONE: Final[dict[str, str]] = {
    "33": "Europe/Paris",
    "590": "America/Guadeloupe",
    "594": "America/Cayenne",
    "596": "America/Martinique",
    "687": "Pacific/Noumea",
    "689": "Pacific/Tahiti",
    "508": "America/Miquelon",
    "681": "Pacific/Wallis",
}
# +262 shared by Réunion and Mayotte: national-number prefixes of Mayotte, else Réunion.
_REUNION: Final = "Indian/Reunion"
_MAYOTTE: Final = "Indian/Mayotte"
_MAYOTTE_PREFIXES: Final = ("269", "2689", "639", "70935", "70936", "70937")
_SHARED_CODES: Final = frozenset({"262"})


def zone_for_number(e164: str) -> str:
    """The IANA zone of an E.164 number ("+262639123456" -> "Indian/Mayotte")."""
    digits = e164[1:] if e164[:1] == "+" else e164
    # French country codes have 2 or 3 digits, and country codes are prefix-free.
    zone = _SINGLE_ZONE.get(digits[:2]) or _SINGLE_ZONE.get(digits[:3])
    if zone is not None:
        return zone
    if digits[:3] in _SHARED_CODES:
        return _MAYOTTE if digits.startswith(_MAYOTTE_PREFIXES, 3) else _REUNION
    return _foreign_zone(digits)


@functools.lru_cache(maxsize=16384)
def _foreign_zone(digits: str) -> str:
    try:
        number = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return DEFAULT_ZONE
    zones = [z for z in pn_timezone.time_zones_for_number(number) if _known(z)]
    return min(zones) if zones else DEFAULT_ZONE


def _known(zone: str) -> bool:
    """Is `zone` a zone this machine's tz database has (phonenumbers may know newer names)?"""
    if zone == _UNKNOWN:
        return False
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
