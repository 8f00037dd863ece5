"""The recipient's zone from the number: French numbering explicit, others via phonenumbers."""

from __future__ import annotations

import pytest

from dispatch.phone import normalise
from dispatch.policy.timezones import DEFAULT_ZONE, zone_for_number


@pytest.mark.parametrize(("number", "zone"), [
    ("+33612345678", "Europe/Paris"),
    ("+33143123456", "Europe/Paris"),
    ("+262692123456", "Indian/Reunion"),
    ("+262693123456", "Indian/Reunion"),
    ("+262262123456", "Indian/Reunion"),
    ("+262709212345", "Indian/Reunion"),
    ("+262639123456", "Indian/Mayotte"),
    ("+262269612345", "Indian/Mayotte"),
    ("+262268912345", "Indian/Mayotte"),
    ("+262709351234", "Indian/Mayotte"),
    ("+590690123456", "America/Guadeloupe"),
    ("+594694123456", "America/Cayenne"),
    ("+596696123456", "America/Martinique"),
    ("+687751234", "Pacific/Noumea"),
    ("+68987123456", "Pacific/Tahiti"),
    ("+508551234", "America/Miquelon"),
    ("+681821234", "Pacific/Wallis"),
])
def test_french_numbering_is_mapped_explicitly(number: str, zone: str) -> None:
    assert zone_for_number(number) == zone


@pytest.mark.parametrize(("national", "zone"), [
    ("0692 12 34 56", "Indian/Reunion"), ("0639 40 12 34", "Indian/Mayotte"),
    ("0690 12 34 56", "America/Guadeloupe"), ("0694 12 34 56", "America/Cayenne"),
    ("0696 12 34 56", "America/Martinique"), ("06 12 34 56 78", "Europe/Paris"),
])
def test_national_formats_normalised_by_dispatch_phone_land_in_the_right_zone(
        national: str, zone: str) -> None:
    e164, reason = normalise(national, "FR")
    assert reason is None and e164 is not None
    assert zone_for_number(e164) == zone


@pytest.mark.parametrize(("number", "zone"), [
    ("+14155550123", "America/Los_Angeles"),
    ("+12125550123", "America/New_York"),
    ("+32470123456", "Europe/Brussels"),
])
def test_other_countries_go_through_phonenumbers(number: str, zone: str) -> None:
    assert zone_for_number(number) == zone


def test_several_zones_pick_the_first_alphabetically() -> None:
    # An Australian mobile is not tied to a state: phonenumbers lists every mainland zone.
    assert zone_for_number("+61412345678") == "Australia/Adelaide"
    # A UK mobile: London, Guernsey, Jersey, Isle of Man (one offset, so no harm done).
    assert zone_for_number("+447911123456") == "Europe/Guernsey"


@pytest.mark.parametrize("number", ["+999123", "not a number", "", "+", "+8"])
def test_an_unplaceable_number_gets_the_default_zone_never_an_error(number: str) -> None:
    assert zone_for_number(number) == DEFAULT_ZONE


def test_without_plus_sign_the_digits_are_read_the_same() -> None:
    assert zone_for_number("262639123456") == "Indian/Mayotte"
