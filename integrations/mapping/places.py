"""Countries and regions: what a lead writes ("TX", "Texas", "US", "USA") to ISO codes.

Keap wants a region as ISO 3166-2 ("US-TX") together with an alpha-3 country code
(crm-wire-spec §7.1.4); HighLevel wants the alpha-2 country and a state name/code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import pycountry

DEFAULT_COUNTRY = "US"


@dataclass(frozen=True)
class Place:
    country_alpha2: str = ""
    country_alpha3: str = ""
    region_code: str = ""  # ISO 3166-2
    region_name: str = ""


@lru_cache(maxsize=512)
def country(value: str) -> tuple[str, str] | None:
    """(alpha2, alpha3) for a code or name, or None."""
    value = value.strip()
    if not value:
        return None
    try:
        found = pycountry.countries.lookup(value)
    except LookupError:
        return None
    return found.alpha_2, found.alpha_3


@lru_cache(maxsize=2048)
def _region(country_alpha2: str, value: str) -> tuple[str, str] | None:
    value = value.strip()
    if not value:
        return None
    code = value.upper()
    if not code.startswith(f"{country_alpha2}-"):
        code = f"{country_alpha2}-{code}"
    found = pycountry.subdivisions.get(code=code)
    if found is not None:
        return found.code, found.name
    folded = value.casefold()
    for sub in pycountry.subdivisions.get(country_code=country_alpha2) or ():
        if sub.name.casefold() == folded:
            return sub.code, sub.name
    return None


@lru_cache(maxsize=4096)
def place_from_lead(*, state: str, country_value: str) -> Place:
    """Resolve a lead's state and country. An unknown state is kept as written."""
    codes = country(country_value) if country_value else country(DEFAULT_COUNTRY)
    if codes is None:
        return Place(region_name=state.strip())
    alpha2, alpha3 = codes
    region = _region(alpha2, state) if state else None
    if region is None:
        return Place(alpha2, alpha3, "", state.strip())
    return Place(alpha2, alpha3, region[0], region[1])
