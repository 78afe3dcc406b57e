"""Regions and countries, as Keap REST v1 validates addresses (wire spec §7.1.4).

A region needs `country_code` (ISO 3166 alpha-3). It is accepted as ISO 3166-2
(`US-AZ`) or as the full name, and stored and returned as the full name. The bare
abbreviation (`AZ`) is rejected: that is the K16 bug, where v1 PUT refuses a value a
GET returned. Regions are checked for the countries tabled here; other countries'
regions are taken as given.
"""

from __future__ import annotations

import re

_US = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
    "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
    "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "AS": "American Samoa",
    "GU": "Guam", "MP": "Northern Mariana Islands", "PR": "Puerto Rico",
    "VI": "Virgin Islands, U.S.",
}  # fmt: skip
_CA = {
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories",
    "NU": "Nunavut", "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec",
    "SK": "Saskatchewan", "YT": "Yukon",
}  # fmt: skip

# alpha-3 -> (ISO 3166-2 prefix, {code: name}) for the countries whose regions we check.
REGIONS = {"USA": ("US", _US), "CAN": ("CA", _CA)}

# Names the legacy XML-RPC `Country` field carries, by alpha-3 (a small table: the
# sandbox stores unknown names as given).
COUNTRY_NAMES = {
    "USA": "United States", "CAN": "Canada", "MEX": "Mexico", "GBR": "United Kingdom",
    "IRL": "Ireland", "AUS": "Australia", "NZL": "New Zealand", "DEU": "Germany",
    "FRA": "France", "ESP": "Spain", "ITA": "Italy", "NLD": "Netherlands", "BRA": "Brazil",
    "IND": "India", "ZAF": "South Africa",
}  # fmt: skip
_COUNTRY_ALIASES = {
    **{name.casefold(): code for code, name in COUNTRY_NAMES.items()},
    "united states of america": "USA", "us": "USA", "usa": "USA", "u.s.": "USA",
    "uk": "GBR", "great britain": "GBR", "ca": "CAN", "can": "CAN",
}  # fmt: skip

_ALPHA3 = re.compile(r"[A-Z]{3}")


class RegionError(ValueError):
    """Raised with Keap's message text, e.g. "BILLING Region is invalid"."""


def is_alpha3(code: str) -> bool:
    return bool(_ALPHA3.fullmatch(code or ""))


def region_full_name(*, field: str, region: str, country_code: str) -> str:
    """The stored (full-name) form of a REST address region, or RegionError."""
    if not country_code:
        raise RegionError("COUNTRY CODE needed if Region Exists")
    if country_code not in REGIONS:
        return region
    prefix, table = REGIONS[country_code]
    wanted = region.strip()
    if wanted.upper().startswith(f"{prefix}-") and wanted[3:].upper() in table:
        return table[wanted[3:].upper()]
    for name in table.values():
        if name.casefold() == wanted.casefold():
            return name
    raise RegionError(f"{field} Region is invalid")


def country_code_for(text: str) -> str:
    """XML-RPC `Country` text -> alpha-3 when we know it, else the text unchanged."""
    value = (text or "").strip()
    if is_alpha3(value) and value in COUNTRY_NAMES:
        return value
    return _COUNTRY_ALIASES.get(value.casefold(), value)


def country_name_for(code: str) -> str:
    """alpha-3 -> the name XML-RPC returns in `Country`; unknown values unchanged."""
    return COUNTRY_NAMES.get(code, code)
