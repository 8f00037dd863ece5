"""Phone numbers: normalisation to E.164, the mobile check, masking for logs — pure.

SMS reach mobiles only, so a number is accepted when phonenumbers classes it MOBILE or
FIXED_LINE_OR_MOBILE; a call reaches landlines too (FIXED_LINE, for a voice campaign's
normaliser). Every other outcome comes back as one reason, and a reason never contains the
number itself.

Two things phonenumbers does not do for us:
- The French overseas departments share the national format of metropolitan France
  (0692 12 34 56 is a Réunion mobile) but have their own country codes; parsed with
  region FR such a number comes out as an invalid +33692...; `OVERSEAS_PREFIXES` sends it
  to the right region instead.
- Parsing is the main cost of an enqueue (~20k numbers/s). The common case, a number of
  the default region written nationally or with its country code, is classified here
  against the same phonenumbers metadata patterns in the same order (~10x faster); every
  other input, and every number the fast path would not accept, goes through phonenumbers.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final

import phonenumbers
from phonenumbers import PhoneNumberType

# National significant number prefix -> region, for numbers written nationally in region FR.
# The 0709x ranges are the overseas mobile blocks opened in 2023 (from phonenumbers' metadata);
# the fixed-line prefixes are here so that such a number is rejected as "fixed line", which
# tells the user more than "invalid".
OVERSEAS_PREFIXES: Final[dict[str, str]] = {
    "692": "RE", "693": "RE", "262": "RE", "263": "RE",  # Réunion
    "639": "YT", "269": "YT",  # Mayotte
    "690": "GP", "691": "GP", "590": "GP",  # Guadeloupe, Saint-Martin, Saint-Barthélemy
    "694": "GF", "594": "GF",  # French Guiana
    "696": "MQ", "697": "MQ", "596": "MQ",  # Martinique
    "7090": "GP", "7091": "MQ", "7092": "RE",
    "70930": "GF", "70931": "GF", "70932": "GF", "70933": "GF",
    "70935": "YT", "70936": "YT", "70937": "YT",
}
_OVERSEAS_HOME: Final = "FR"
# National format ("0" then the prefix, not the "00" international prefix), longest prefix first.
_OVERSEAS_NATIONAL: Final = re.compile(
    "0(" + "|".join(sorted(OVERSEAS_PREFIXES, key=len, reverse=True)) + ")")

REASON_EMPTY: Final = "phone is empty"
REASON_INVALID: Final = "invalid phone number"

_MOBILE_TYPES: Final = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_CALLABLE_TYPES: Final = _MOBILE_TYPES | {PhoneNumberType.FIXED_LINE}
_TYPE_NAMES: Final[dict[int, str]] = {
    PhoneNumberType.FIXED_LINE: "fixed line",
    PhoneNumberType.TOLL_FREE: "toll-free",
    PhoneNumberType.PREMIUM_RATE: "premium rate",
    PhoneNumberType.SHARED_COST: "shared cost",
    PhoneNumberType.VOIP: "VoIP",
    PhoneNumberType.PERSONAL_NUMBER: "personal number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "UAN",
    PhoneNumberType.VOICEMAIL: "voicemail",
}
# Separators people write inside numbers; removed before the fast path looks at the digits.
_SEPARATORS: Final = str.maketrans("", "", " .-()/\t\u00a0\u202f")

# (e164, None) for an accepted number, (None, reason) otherwise.
Normalised = tuple[str, None] | tuple[None, str]


def normalise(raw: str, region: str, *, calls: bool = False) -> Normalised:
    """`raw` as an E.164 mobile number (with `calls`: or landline), or the reason it cannot
    be sent an SMS (called)."""
    return normaliser(region, calls=calls)(raw)


@functools.lru_cache(maxsize=32)
def normaliser(region: str, *, calls: bool = False) -> PhoneNormaliser:
    """The (cached) normaliser of one default region; with `calls`, landlines pass too."""
    return PhoneNormaliser(region, calls=calls)


def mask(e164: str) -> str:
    """The number with its middle digits hidden, for logs: +33612345678 -> +33612****78."""
    keep_head = 6 if len(e164) >= 10 else 3
    hidden = max(len(e164) - keep_head - 2, 1)
    return f"{e164[:keep_head]}{'*' * hidden}{e164[-2:]}"


def type_reason(number_type: int, *, calls: bool = False) -> str | None:
    """None for a type that can receive SMS (with `calls`: a call), else why not."""
    if number_type in (_CALLABLE_TYPES if calls else _MOBILE_TYPES):
        return None
    name = _TYPE_NAMES.get(number_type)
    wanted = "a mobile or landline number" if calls else "a mobile number"
    return f"not {wanted} ({name})" if name else REASON_INVALID


class PhoneNormaliser:
    """Normalises numbers for one default region; build once, call per row."""

    def __init__(self, region: str, *, calls: bool = False) -> None:
        self.region = region.upper()
        self._calls = calls  # landlines accepted too
        self._home = _RegionRules.for_region(self.region)
        self._overseas = self.region == _OVERSEAS_HOME
        self._regions: dict[str, _RegionRules | None] = {self.region: self._home}

    def __call__(self, raw: str) -> Normalised:
        digits = raw.translate(_SEPARATORS)
        if not digits:
            return None, REASON_EMPTY
        fast = self._fast(digits)
        if fast is not None:
            return fast, None
        return self._slow(raw, digits)

    def parse_region(self, digits: str) -> str:
        """The region to parse a number with: an overseas one for its national prefixes."""
        if self._overseas:
            match = _OVERSEAS_NATIONAL.match(digits)
            if match:
                return OVERSEAS_PREFIXES[match[1]]
        return self.region

    def _fast(self, digits: str) -> str | None:
        """The E.164 form when the fast path can accept the number, else None."""
        home = self._home
        if home is None or not digits.isascii():
            return None
        nsn: str | None
        if digits.startswith(home.national_prefix) and not digits.startswith(home.intl_prefix):
            rules = self._rules(self.parse_region(digits))
            nsn = digits[len(home.national_prefix):]
        else:
            rules, nsn = home, home.strip_country_code(digits)
        if rules is None or nsn is None or not nsn.isdigit() or not rules.accepts(nsn):
            return None
        return f"+{rules.country_code}{nsn}"

    def _rules(self, region: str) -> _RegionRules | None:
        if region not in self._regions:
            self._regions[region] = _RegionRules.for_region(region)
        return self._regions[region]

    def _slow(self, raw: str, digits: str) -> Normalised:
        try:
            number = phonenumbers.parse(raw, self.parse_region(digits))
        except phonenumbers.NumberParseException:
            return None, REASON_INVALID
        reason = type_reason(phonenumbers.number_type(number), calls=self._calls)
        if reason:
            return None, reason
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


@dataclass(frozen=True)
class _Desc:
    """One PhoneNumberDesc of the metadata: possible lengths and the national pattern."""

    lengths: frozenset[int]
    pattern: str | None

    @classmethod
    def of(cls, desc: phonenumbers.PhoneNumberDesc | None) -> _Desc:
        source = desc.national_number_pattern if desc is not None else None
        lengths = desc.possible_length if desc is not None else ()
        return cls(frozenset(lengths or ()), source or None)

    def pattern_for(self, length: int) -> str | None:
        """The pattern a number of `length` digits is checked against; None: cannot match."""
        if self.pattern is None or (self.lengths and length not in self.lengths):
            return None
        return self.pattern


_NEVER: Final = re.compile(r"(?!)")


class _RegionRules:
    """phonenumbers' number-type decision for one region, restricted to 'is it a mobile'.

    phonenumbers types a number by trying, in order: the general pattern (else UNKNOWN),
    the special types (premium, toll-free, shared cost, VoIP, personal, pager, UAN,
    voicemail; the first match wins), then fixed line and mobile. MOBILE or
    FIXED_LINE_OR_MOBILE therefore comes out exactly when the general pattern matches, no
    special one does, and the mobile pattern matches (the fixed-line one when the region
    says both are the same). That is one regex per number length, with lookaheads.
    """

    def __init__(self, meta: phonenumbers.PhoneMetadata, national_prefix: str,
                 intl_prefix: str) -> None:
        self.country_code = str(meta.country_code)
        self.national_prefix = national_prefix
        self.intl_prefix = intl_prefix
        self._general = _Desc.of(meta.general_desc)
        self._special = tuple(_Desc.of(d) for d in (
            meta.premium_rate, meta.toll_free, meta.shared_cost, meta.voip,
            meta.personal_number, meta.pager, meta.uan, meta.voicemail))
        same = bool(meta.same_mobile_and_fixed_line_pattern)
        self._sendable = _Desc.of(meta.fixed_line if same else meta.mobile)
        self._by_length: dict[int, re.Pattern[str]] = {}

    @classmethod
    def for_region(cls, region: str) -> _RegionRules | None:
        """The rules, or None when the region's metadata needs phonenumbers' full parser."""
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        prefixes = _simple_prefixes(meta) if meta is not None else None
        return cls(meta, *prefixes) if meta is not None and prefixes is not None else None

    def strip_country_code(self, digits: str) -> str | None:
        for prefix in ("+", self.intl_prefix):
            if digits.startswith(prefix + self.country_code):
                return digits[len(prefix) + len(self.country_code):]
        return None

    def accepts(self, nsn: str) -> bool:
        """True exactly when phonenumbers would type `nsn` MOBILE or FIXED_LINE_OR_MOBILE."""
        if nsn.startswith("0"):
            return False  # a leading zero may be significant (Italy): leave it to phonenumbers
        pattern = self._by_length.get(len(nsn)) or self._compile(len(nsn))
        return pattern.fullmatch(nsn) is not None

    def _compile(self, length: int) -> re.Pattern[str]:
        general = self._general.pattern_for(length)
        sendable = self._sendable.pattern_for(length)
        special = [p for p in (d.pattern_for(length) for d in self._special) if p is not None]
        if general is None or sendable is None:
            pattern = _NEVER
        else:
            excluded = f"(?!(?:{'|'.join(special)})\\Z)" if special else ""
            pattern = re.compile(f"(?=(?:{general})\\Z){excluded}(?:{sendable})")
        self._by_length[length] = pattern
        return pattern


def _simple_prefixes(meta: phonenumbers.PhoneMetadata) -> tuple[str, str] | None:
    """(national, international) prefixes when both are plain digits and used as such."""
    national, intl = meta.national_prefix, meta.international_prefix
    if not (national and national.isdigit() and intl and intl.isdigit()):
        return None
    if meta.national_prefix_for_parsing not in (None, national):
        return None
    return (national, intl) if meta.national_prefix_transform_rule is None else None
