"""Normalising one contact value: email, phone, postal code, date of birth, names.

Each normaliser returns (value, valid): the normalised value when it is valid, or
the value as received (stripped) when it is not, so the caller can choose to send it
as received, drop it, or skip the step. All are idempotent: normalising a normalised
value changes nothing. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, NamedTuple

from .phones import phone_e164
from .values import as_text, is_email, is_postal_code, parse_date


class Normalised(NamedTuple):
    value: Any
    valid: bool


def email_normalise(value: Any) -> Normalised:
    """Lower-cased and stripped; valid when the syntax is."""
    text = as_text(value).lower()
    return Normalised(text, is_email(text))


def phone_normalise(value: str, region: str = "US") -> Normalised:
    """E.164 when the number is valid (read for `region` when written without a
    country code), else the text as received."""
    text = as_text(value)
    e164 = phone_e164(text, region or "US")
    return Normalised(text, False) if e164 is None else Normalised(e164, True)


_NOT_POSTAL = re.compile(r"[^A-Z0-9]")


def postal_code_normalise(value: Any, country_alpha2: str = "US") -> Normalised:
    """US: 12345 or 12345-6789; Canada and the UK: upper case with the usual space;
    elsewhere upper-cased and stripped."""
    text = as_text(value).upper()
    country = (country_alpha2 or "US").upper()
    if country == "US" and len(text) == 5 and text.isascii() and text.isdigit():
        return Normalised(text, True)  # the common case: what the lines below give
    compact = _NOT_POSTAL.sub("", text)
    if country == "US" and compact.isdigit() and len(compact) in (5, 9):
        text = compact if len(compact) == 5 else f"{compact[:5]}-{compact[5:]}"
    elif country in ("CA", "GB") and 5 <= len(compact) <= 7:
        text = f"{compact[:-3]} {compact[-3:]}"
    return Normalised(text, is_postal_code(text, country))


def birthday_normalise(value: Any) -> Normalised:
    """A date of birth in any common format (HighLevel's list and more) as a date."""
    if isinstance(value, date):
        return Normalised(value, True)
    day = parse_date(value)
    if day is None:
        return Normalised(as_text(value), False)
    return Normalised(day, True)


_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "rev"})
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "v", "esq", "phd", "md", "dds", "cpa"})
_PARTICLES = frozenset({"van", "von", "de", "da", "del", "della", "der", "den", "di", "la", "le"})
_PARTICLES |= {"du", "st", "bin", "al", "dos", "das", "ten", "ter", "mac"}


class NameParts(NamedTuple):
    first: str = ""
    middle: str = ""
    last: str = ""
    suffix: str = ""


def name_split(full_name: Any) -> NameParts:
    """First / middle / last / suffix from a full name: "Dr. Ann Q. Lee Jr.",
    "Lee, Ann", "Ann van der Berg". Titles are dropped; one word is a first name."""
    text = " ".join(as_text(full_name).split())[:200]
    if "," in text:
        before, _, after = text.partition(",")
        after_words = [w for w in after.replace(",", " ").split()]
        while after_words and after_words[0].rstrip(".").casefold() in _TITLES:
            after_words.pop(0)
        if after_words and all(_is_suffix(w) for w in after_words):
            text = f"{before} {' '.join(after_words)}"  # "Ann Lee, Jr."
        elif before.strip() and after_words:  # "Lee, Ann Q"
            return NameParts(after_words[0], " ".join(after_words[1:]), before.strip())
        else:
            text = text.replace(",", " ")
    words = text.split()
    while words and words[0].rstrip(".").casefold() in _TITLES:
        words.pop(0)
    suffix = ""
    if len(words) > 1 and _is_suffix(words[-1]):
        suffix = words.pop()
    if not words:
        return NameParts(suffix=suffix)
    if len(words) == 1:
        return NameParts(words[0], "", "", suffix)
    first, rest = words[0], words[1:]
    start = len(rest) - 1
    while start > 0 and rest[start - 1].casefold() in _PARTICLES:
        start -= 1
    return NameParts(first, " ".join(rest[:start]), " ".join(rest[start:]), suffix)


def _is_suffix(word: str) -> bool:
    return word.rstrip(".").casefold() in _SUFFIXES
