"""Phone numbers to E.164: phonenumbers' answer, with a fast path for North American
numbers written the usual ways.

    phone_e164("(602) 555-0101", "US") -> "+16025550101"      phone_e164("555", "US") -> None

phonenumbers.parse costs ~35 µs and is_valid_number up to ~50 µs (it tries the 25
regions sharing +1), far more than the rest of mapping a lead. For the shapes a form
writes a North American number in, "(602) 555-0101", "602-555-0101", "602.555.0101",
"6025550101", "+1 602 555 0101", when read for the US or Canada, parse() can only
give country code 1 and those ten digits (the area code and exchange start 2-9, so
no national prefix or country code is stripped). Validity is then phonenumbers' own
test (metadata patterns, see _number_type_helper and _region_code_for_number_from_list
in phonenumberutil) with each region's patterns joined into one regular expression.
Anything else goes to phonenumbers. tests/mapping/test_fast_paths.py pins both ways
to the same answers.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

MAX_PHONE_CHARS = 64
# "(602) 555-0101", "602-555-0101", "602.555.0101", "602 555 0101", "6025550101", each
# optionally after "+1" / "+1 " / "+1-": ten digits, the area code and exchange 2-9.
_NANP_SHAPE = re.compile(
    r"(?:\+1[ .-]?)?(?:\(([2-9]\d\d)\) ?|([2-9]\d\d)([ .-]?))([2-9]\d\d)[ .-]?(\d{4})"
)
_FAST_REGIONS = frozenset({"US", "CA"})
_NANP_REGIONS = COUNTRY_CODE_TO_REGION_CODE[1]
_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


class _RegionTest:
    """phonenumbers' `_number_type_helper(nsn, metadata) != UNKNOWN` for one region
    and ten-digit numbers: the general pattern, then any type's pattern."""

    def __init__(self, region: str, length: int = 10):
        metadata = PhoneMetadata.metadata_for_region(region, None)
        self.region = region
        leading = metadata.leading_digits if metadata is not None else None
        self.leading = re.compile(leading) if leading is not None else None
        self.general = self._pattern(metadata.general_desc, length) if metadata else None
        names = list(_TYPE_DESCS)
        if metadata is not None and not metadata.same_mobile_and_fixed_line_pattern:
            names.append("mobile")
        alternatives = []
        for name in names:
            desc = getattr(metadata, name, None) if metadata is not None else None
            pattern = self._pattern(desc, length)
            if pattern is not None:
                alternatives.append(f"(?:{pattern})")
        types = "|".join(alternatives)
        # Both tests in one expression: the general pattern as a lookahead over the
        # whole number, then any type's pattern.
        if self.general is not None and types:
            both: re.Pattern[str] | None = re.compile(f"(?=(?:{self.general})\\Z)(?:{types})")
        else:
            both = None
        self.fullmatch = both.fullmatch if both is not None else None

    @staticmethod
    def _pattern(desc: object, length: int) -> str | None:
        """The desc's pattern when a number of `length` digits can match it."""
        if desc is None:
            return None
        lengths = getattr(desc, "possible_length", ())
        if lengths and length not in lengths:
            return None
        pattern = getattr(desc, "national_number_pattern", None)
        return pattern or None

    def valid(self, nsn: str) -> bool:
        return self.fullmatch is not None and self.fullmatch(nsn) is not None


@lru_cache(maxsize=32)
def _region_test(region: str) -> _RegionTest:
    return _RegionTest(region)


def _nanp_valid(nsn: str, region: str) -> bool:
    """phonenumbers: is_valid_number_for_region(n, region) or is_valid_number(n), for
    +1 and a ten-digit national number."""
    test = _TESTS.get(region) or _region_test(region)
    if test.valid(nsn):
        return True
    found = _nanp_region(nsn)
    return found is not None and found != region and _region_test(found).valid(nsn)


_TESTS = {region: _region_test(region) for region in _FAST_REGIONS}


def _nanp_region(nsn: str) -> str | None:
    """phonenumbers' region_code_for_number for +1 (_region_code_for_number_from_list):
    in list order, the first region whose leading digits match, or, for a region
    without leading digits, whose patterns the number matches."""
    for step in _nanp_steps():
        if isinstance(step, str):
            if _region_test(step).valid(nsn):
                return step
            continue
        match = step.match(nsn)
        if match is not None:
            return next(name for name, value in match.groupdict().items() if value is not None)
    return None


@lru_cache(maxsize=1)
def _nanp_steps() -> tuple[str | re.Pattern[str], ...]:
    """The +1 regions in order: a region without leading digits as its name; each run
    of regions with leading digits as one expression with a group per region (the
    first alternative that matches is the first region in the run)."""
    steps: list[str | re.Pattern[str]] = []
    run: list[str] = []
    for region in _NANP_REGIONS:
        test = _region_test(region)
        if test.leading is None:
            if run:
                steps.append(re.compile("|".join(run)))
                run = []
            steps.append(region)
        else:
            run.append(f"(?P<{region}>{test.leading.pattern})")
    if run:
        steps.append(re.compile("|".join(run)))
    return tuple(steps)


def _slow_e164(text: str, region: str) -> str | None:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    # Valid for the default region is the common case and much cheaper to check than
    # is_valid_number, which tries every region sharing the country code (+1: 25).
    if phonenumbers.is_valid_number_for_region(parsed, region) or phonenumbers.is_valid_number(
        parsed
    ):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


@lru_cache(maxsize=16_384)
def phone_e164(text: str, region: str = "US") -> str | None:
    """The number in E.164 when it is valid (read for `region`, an alpha-2 code, when
    written without a country code), else None. `text` is stripped already."""
    if not text or len(text) > MAX_PHONE_CHARS:
        return None
    region = region or "US"
    if region in _FAST_REGIONS:
        shape = _NANP_SHAPE.fullmatch(text)
        if shape is not None:
            area, exchange, line = shape[1] or shape[2], shape[4], shape[5]
            nsn = area + exchange + line
            return f"+1{nsn}" if _nanp_valid(nsn, region) else None
    return _slow_e164(text, region)


def phone_e164_reference(text: str, region: str = "US") -> str | None:
    """phonenumbers alone (no fast path, no cache): what phone_e164 must answer."""
    if not text or len(text) > MAX_PHONE_CHARS:
        return None
    return _slow_e164(text, region or "US")
