from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.phone import REASON_EMPTY, REASON_INVALID, PhoneNormaliser, mask, normalise


@pytest.mark.parametrize("raw", [
    "0612345678", "06 12 34 56 78", "06.12.34.56.78", "06-12-34-56-78", "(06) 12 34 56 78",
    "+33612345678", "+33 6 12 34 56 78", "0033 6 12 34 56 78", "+33 (0)6 12 34 56 78",
    " 06 12 34 56 78 ", "06\u00a012\u00a034\u00a056\u00a078",
])
def test_french_mobile_in_every_usual_format(raw: str) -> None:
    assert normalise(raw, "FR") == ("+33612345678", None)


def test_new_07_mobile_range() -> None:
    assert normalise("07 51 23 45 67", "FR") == ("+33751234567", None)


@pytest.mark.parametrize(("raw", "e164"), [
    ("0692 12 34 56", "+262692123456"),  # Réunion
    ("0693 01 23 45", "+262693012345"),
    ("0639 01 23 45", "+262639012345"),  # Mayotte
    ("0639 40 12 34", "+262639401234"),
    ("0639 69 12 34", "+262639691234"),
    ("0690 12 34 56", "+590690123456"),  # Guadeloupe
    ("0691 22 34 56", "+590691223456"),
    ("0694 12 34 56", "+594694123456"),  # Guiana
    ("0696 12 34 56", "+596696123456"),  # Martinique
    ("0697 12 34 56", "+596697123456"),
    ("07 09 21 23 45", "+262709212345"),  # 0709x: overseas mobile blocks of 2023
])
def test_overseas_departments_get_their_own_country_code(raw: str, e164: str) -> None:
    assert normalise(raw, "FR") == (e164, None)


def test_phonenumbers_alone_gets_overseas_numbers_wrong() -> None:
    """Why OVERSEAS_PREFIXES exists: with region FR, a Réunion mobile is an invalid +33."""
    number = phonenumbers.parse("0692 12 34 56", "FR")
    assert number.country_code == 33
    assert not phonenumbers.is_valid_number(number)


def test_overseas_number_written_internationally() -> None:
    assert normalise("+262 692 12 34 56", "FR") == ("+262692123456", None)
    assert normalise("00 590 690 12 34 56", "FR") == ("+590690123456", None)


def test_unallocated_overseas_block_is_invalid_not_metropolitan() -> None:
    # 0639 12 is not an allocated Mayotte block: it must not become a +33 number either.
    assert normalise("0639 12 34 56", "FR") == (None, REASON_INVALID)


@pytest.mark.parametrize(("raw", "reason"), [
    ("", REASON_EMPTY),
    ("  ", REASON_EMPTY),
    ("-", REASON_EMPTY),
    ("abc", REASON_INVALID),
    ("0612", REASON_INVALID),
    ("06 12 34 56 78 90 12", REASON_INVALID),
    ("07 12 34 56 78", REASON_INVALID),  # 071 is not allocated
    ("01 45 67 89 01", "not a mobile number (fixed line)"),
    ("0800 12 34 56", "not a mobile number (toll-free)"),
    ("0899 12 34 56", "not a mobile number (premium rate)"),
    ("09 39 12 34 56", "not a mobile number (VoIP)"),
    ("0262 12 34 56", "not a mobile number (fixed line)"),
])
def test_rejections_give_one_reason_without_the_number(raw: str, reason: str) -> None:
    assert normalise(raw, "FR") == (None, reason)


def test_foreign_mobile_is_accepted() -> None:
    assert normalise("+44 7911 123456", "FR") == ("+447911123456", None)


def test_other_default_region() -> None:
    assert normalise("07911 123456", "GB") == ("+447911123456", None)
    assert normalise("0692 12 34 56", "GB") == (None, REASON_INVALID)


def test_region_without_simple_prefixes_still_works() -> None:
    # Argentina's national prefix rules are regexes: everything goes through phonenumbers.
    assert normalise("+54 9 11 1234 5678", "AR") == ("+5491112345678", None)


def test_mask_hides_the_middle_digits() -> None:
    assert mask("+33612345678") == "+33612****78"
    assert mask("+262639012345") == "+26263*****45"
    assert "345" not in mask("+12345")


def _reference(raw: str, region: str) -> tuple[str | None, str | None]:
    """phonenumbers alone (after the overseas region choice): what the fast path must equal."""
    digits = "".join(c for c in raw if c not in " .-()/")
    if not digits:
        return None, REASON_EMPTY
    try:
        number = phonenumbers.parse(raw, PhoneNormaliser(region).parse_region(digits))
    except phonenumbers.NumberParseException:
        return None, REASON_INVALID
    kind = phonenumbers.number_type(number)
    if kind in (phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None
    return None, normalise(raw, region)[1]


_prefixes = st.sampled_from(["0", "+33", "0033", "+262", "00590", "+44", "0", "+39", ""])
_leads = st.sampled_from(["6", "7", "69", "639", "709", "1", "8", "9", "3", "0", ""])
_tails = st.text(alphabet="0123456789", min_size=6, max_size=11)


@settings(max_examples=3000, deadline=None)
@given(prefix=_prefixes, lead=_leads, tail=_tails,
       region=st.sampled_from(["FR", "RE", "GB", "IT", "DE", "US"]),
       separator=st.sampled_from(["", " ", "."]))
def test_fast_path_agrees_with_phonenumbers(prefix: str, lead: str, tail: str, region: str,
                                            separator: str) -> None:
    raw = prefix + separator + lead + separator.join(tail[i:i + 2] for i in range(0, 12, 2))
    assert normalise(raw, region) == _reference(raw, region)
