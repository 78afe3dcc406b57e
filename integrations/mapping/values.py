"""Reading values the way marketers write them: numbers given as strings, dates in
the common formats, booleans as yes/no, and format checks (email, phone, date,
postal code). Pure functions, no I/O; shared by rules, templates and normalisers.
"""

from __future__ import annotations

import calendar
import math
import re
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator, EmailValidator

from .phones import phone_e164

# The date formats HighLevel accepts for dateOfBirth (CreateContactDto, "Supported
# formats"), then the common written ones. Day-first formats are left out: 03/04/2000
# is read the US way, as HighLevel does.
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%m-%d-%Y",
    "%Y.%m.%d",
    "%m.%d.%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d %Y",
    "%B %d %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%Y%m%d",
)
FORMATS = ("email", "phone", "date", "postal_code")

_NUMBER = re.compile(r"^[+-]?\$?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+-]?\d+)?$")
_TRUE = frozenset({"true", "yes", "y", "1", "on", "t", "checked"})
_FALSE = frozenset({"false", "no", "n", "0", "off", "f", "unchecked"})
_MAX_PARSE = 64  # longer text is never a number or a date: don't spend time on it
_email_validator = EmailValidator()
# A fast yes for the common email shape: Django's dot-atom local part and its domain
# pattern (EmailValidator.user_regex / domain_regex) in one expression. A match is
# valid for Django too; anything else is left to the validator (quoted local parts,
# address literals, "localhost").
_EMAIL_PLAIN = re.compile(
    r"[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*@"
    + DomainNameValidator.hostname_re
    + DomainNameValidator.domain_re
    + DomainNameValidator.tld_no_fqdn_re,
    re.IGNORECASE,
)

# Postal code shapes by country (alpha-2); other countries: 2-10 letters/digits.
_POSTAL = {
    "US": re.compile(r"^\d{5}(?:-\d{4})?$"),
    "CA": re.compile(r"^[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d$", re.I),
    "GB": re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$", re.I),
    "AU": re.compile(r"^\d{4}$"),
    "DE": re.compile(r"^\d{5}$"),
    "FR": re.compile(r"^\d{5}$"),
    "MX": re.compile(r"^\d{5}$"),
}
_POSTAL_ANY = re.compile(r"^[A-Z0-9][A-Z0-9 -]{0,8}[A-Z0-9]$", re.I)


# Tuples of types: isinstance with one is several times faster than with an `a | b`
# union, and these run for every value of every lead.
_CONTAINERS = (list, tuple, dict, set, frozenset)
_NOT_TEXT = (list, tuple, dict, set)
_NUMBERS = (int, float)


def is_blank(value: Any) -> bool:
    """None, an empty or whitespace-only string, an empty list or object."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, _CONTAINERS):
        return not value
    return False


def as_text(value: Any) -> str:
    """A scalar as text ("" for None; booleans as true/false). Lists/objects: ""."""
    if type(value) is str:  # the common case, first
        return value.strip()
    if value is None or isinstance(value, _NOT_TEXT):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_number(value: Any) -> float | None:
    """A number, or a string that is one ("80", " 1,200.50 ", "$12"); else None."""
    if isinstance(value, str):
        return (_number_text_kept if len(value) <= 256 else _number_text)(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, _NUMBERS):
        try:
            number = float(value)
        except OverflowError:  # an int beyond float range
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _number_text(value: str) -> float | None:
    text = value.strip()
    if not text or len(text) > _MAX_PARSE or not _NUMBER.match(text):
        return None
    try:
        number = float(text.replace(",", "").replace("$", ""))
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


# Rules and custom fields read the same few numbers ("80", "$1,200") lead after lead,
# and one lead's score several times: the answer is kept by the text.
_number_text_kept = lru_cache(maxsize=4096)(_number_text)


@lru_cache(maxsize=4096)
def _parse_date_text(text: str) -> date | None:
    day = _parse_date_fast(text)
    return day if day is not None else parse_date_reference(text)


def parse_date_reference(text: str) -> date | None:
    """The first of DATE_FORMATS that reads `text` (strptime): what the fast path
    below must agree with."""
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


# The shapes strptime reads for the first formats of DATE_FORMATS, without its cost
# (~10 µs a format tried): 1990-09-25 (%Y-%m-%d), 09/25/1990 (%m/%d/%Y), 09-25-1990
# (%m-%d-%Y), 1990.09.25 (%Y.%m.%d), 25 Sep 1990 (%d %b %Y). No earlier format can
# read these shapes, so the first that strptime would succeed with is the one below.
# %m and %d are strptime's: 1-2 digits, not 0 (see _strptime.TimeRE).
_MONTH_TEXT = r"(1[0-2]|0[1-9]|[1-9])"
_DAY_TEXT = r"(3[01]|[12]\d|0[1-9]|[1-9])"
# The three shapes as one expression's alternatives (none can read another's text):
# groups 1-4 year, separator, month, day; 5-8 month, separator, day, year; 9-11 day,
# month name, year.
_SHAPES = re.compile(
    rf"(\d{{4}})([-.]){_MONTH_TEXT}\2{_DAY_TEXT}"
    rf"|{_MONTH_TEXT}([/-]){_DAY_TEXT}\6(\d{{4}})"
    rf"|{_DAY_TEXT} ([A-Za-z]{{3}}) (\d{{4}})"
)
_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name}


def _parse_date_fast(text: str) -> date | None:
    """The date for the common shapes, None for anything else (read the slow way)."""
    shape = _SHAPES.fullmatch(text)
    if shape is None:
        return None  # no shape, or a month or day strptime would not read
    if shape[1] is not None:
        year, month, day = shape[1], shape[3], shape[4]
    elif shape[5] is not None:
        year, month, day = shape[8], shape[5], shape[7]
    else:
        number = _MONTHS.get(shape[10].lower())
        if number is None:
            return None
        year, month, day = shape[11], str(number), shape[9]
    try:
        return date(int(year), int(month), int(day))
    except ValueError:  # 02/30: strptime fails too; let the slow path say so
        return None


def parse_date(value: Any) -> date | None:
    """A calendar date in any common format (an ISO date-time keeps its date)."""
    if type(value) is not str:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if not isinstance(value, str):
            return None
    text = value.strip()
    if not text or len(text) > _MAX_PARSE:
        return None
    if len(text) > 10 and text[4:5] == "-" and text[10:11] in ("T", " "):
        text = text[:10]  # 2024-01-05T10:00:00Z
    return _parse_date_text(text)


def parse_moment(value: Any) -> datetime | None:
    """A point in time, naive UTC: ISO date-times keep their time, plain dates are
    midnight. For comparisons ("received before 2024-06-01")."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and 10 < len(value.strip()) <= _MAX_PARSE:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            day = parse_date(value)
            return None if day is None else datetime(day.year, day.month, day.day)
    else:
        day = parse_date(value)
        return None if day is None else datetime(day.year, day.month, day.day)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def parse_bool(value: Any) -> bool | None:
    """True/False for yes/no-like values, None when the value says neither."""
    if isinstance(value, str):
        folded = value.strip().casefold()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, _NUMBERS):
        return None if value not in (0, 1) else bool(value)
    return None


def is_email(value: Any) -> bool:
    text = as_text(value)
    if not text or len(text) > 254:
        return False
    return _email_text_valid(text)


# A lead's address is checked more than once per step (an "email is valid" rule, then
# the contact's email), and again in later steps: the answer is kept by its text.
@lru_cache(maxsize=4096)
def _email_text_valid(text: str) -> bool:
    if _EMAIL_PLAIN.fullmatch(text):
        return True
    # EmailValidator.__call__'s first two refusals, with its own regex: said here they
    # cost no ValidationError (whose error_list holds itself: a reference cycle that
    # keeps its traceback's frames alive until the garbage collector runs).
    if "@" not in text or len(text) > 320:
        return False
    if not _email_validator.user_regex.match(text.rsplit("@", 1)[0]):
        return False
    try:
        _email_validator(text)
    except ValidationError:
        return False
    return True


def parse_phone(value: Any, region: str = "US") -> phonenumbers.PhoneNumber | None:
    """A valid phone number (E.164-able) or None."""
    text = as_text(value)
    if not text or len(text) > _MAX_PARSE:
        return None
    try:
        parsed = phonenumbers.parse(text, region or "US")
    except phonenumbers.NumberParseException:
        return None
    # Valid for the default region is the common case and much cheaper to check than
    # is_valid_number, which tries every region sharing the country code (+1: 25).
    if phonenumbers.is_valid_number_for_region(parsed, region or "US"):
        return parsed
    return parsed if phonenumbers.is_valid_number(parsed) else None


def is_postal_code(value: Any, country_alpha2: str = "US") -> bool:
    text = as_text(value)
    pattern = _POSTAL.get((country_alpha2 or "US").upper(), _POSTAL_ANY)
    return bool(text) and bool(pattern.match(text))


def is_valid(value: Any, fmt: str, *, region: str = "US") -> bool:
    """Whether `value` is a valid `fmt` (one of FORMATS). Blank is never valid."""
    if fmt == "email":
        return is_email(value)
    if fmt == "phone":
        return phone_e164(as_text(value), region or "US") is not None
    if fmt == "date":
        return parse_date(value) is not None
    if fmt == "postal_code":
        return is_postal_code(value, region)
    raise ValueError(f"unknown format {fmt!r}")
