"""ContactData -> the struct Keap's XML-RPC ContactService stores (`add`, `update`,
`addWithDupCheck`). Pure functions: no I/O.

Reference: crm-wire-spec.md §5.4 (field names, from novaksolutions/infusionsoft-php-sdk
`Infusionsoft/Generated/Contact.php`) and §5.5 (Python xmlrpc.client marshalling).
"""

from __future__ import annotations

import xmlrpc.client
from datetime import date, datetime, time
from typing import Any

import pycountry

from .base import ContactData

# The three address slots of a Keap contact, in (line1, line2, city, state, postal code,
# country) order. The slot is what makes an address billing, shipping or other; the
# AddressNType fields are free labels whose accepted values are undocumented (§5.4 [?]),
# so they are left to `contact.extra`.
ADDRESS_SLOTS: dict[str, tuple[str, str, str, str, str, str]] = {
    "BILLING": ("StreetAddress1", "StreetAddress2", "City", "State", "PostalCode", "Country"),
    "SHIPPING": (
        "Address2Street1",
        "Address2Street2",
        "City2",
        "State2",
        "PostalCode2",
        "Country2",
    ),
    "OTHER": ("Address3Street1", "Address3Street2", "City3", "State3", "PostalCode3", "Country3"),
}
MAX_PHONES = 5  # Phone1..Phone5
_I4_MIN, _I4_MAX = -(2**31), 2**31 - 1


def xmlrpc_value(value: Any) -> Any:
    """One value as Keap's XML-RPC server can take it; None when it should not be sent.

    - None and "" are omitted: xmlrpc.client cannot marshal None without `<nil/>`,
      which Keap's support for is unknown (§5.5, §8.6).
    - Dates become `<dateTime.iso8601>YYYYMMDDT00:00:00</dateTime.iso8601>` (see
      `keap_date`).
    - Integers outside i4 become strings: xmlrpc.client raises OverflowError on them,
      and the usual culprit is a phone or account number typed as an int.
    - Anything else that is not a plain scalar is sent as its text.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool | float | str):
        return value
    if isinstance(value, int):
        return value if _I4_MIN <= value <= _I4_MAX else str(value)
    if isinstance(value, date):
        return keap_date(value)
    return str(value)


def keap_date(value: date) -> xmlrpc.client.DateTime:
    """A date (or datetime) as an XML-RPC dateTime at local midnight, with no zone.

    Keap's Date fields (Birthday, Anniversary, Date custom fields) take
    `dateTime.iso8601`, as the official PHP iSDK's `infuDate()` sends them
    (`Ymd\\TH:i:s`). A "YYYY-MM-DD" string would depend on the server parsing text
    into a date, which is undocumented. A birthday has no time zone, so midnight with
    no offset keeps the day from shifting.
    """
    day = value.date() if isinstance(value, datetime) else value
    return xmlrpc.client.DateTime(datetime.combine(day, time()))


def country_name(alpha2: str, alpha3: str = "") -> str:
    """Keap's legacy Country field holds the country's English name ("United States"),
    as its own web forms write it; the codes are only a fallback."""
    found = pycountry.countries.get(alpha_2=alpha2) if alpha2 else None
    if found is None:
        return alpha3 or alpha2
    return getattr(found, "common_name", found.name)


def custom_field_name(name: str) -> str:
    """Custom fields are addressed as `_` + their database Name (§5.4)."""
    name = str(name).strip()
    return name if name.startswith("_") else f"_{name}"


def contact_fields(contact: ContactData, *, address_type: str = "BILLING") -> dict[str, Any]:
    """The XML-RPC struct for one contact. Empty values are left out.

    Order of precedence: standard fields, then custom fields (`_Name`), then
    `contact.extra` (CRM-native names set by hand in the step's mappings, e.g.
    OwnerID, ContactType, LeadSourceId), so a hand-made mapping wins.

    Raises ValueError for an address_type other than BILLING, SHIPPING or OTHER.
    """
    slot = ADDRESS_SLOTS.get((address_type or "BILLING").upper())
    if slot is None:
        raise ValueError("unknown address type")
    data: dict[str, Any] = {
        "FirstName": contact.first_name,
        "MiddleName": contact.middle_name,
        "LastName": contact.last_name,
        "Suffix": contact.suffix,
        "Email": contact.email,
        "Website": contact.website,
        "JobTitle": contact.job_title,
        "Birthday": contact.birthday,
        "ContactNotes": contact.notes,
        "Company": contact.company,
    }
    for number, phone in enumerate(contact.phones[:MAX_PHONES], start=1):
        data[f"Phone{number}"] = phone
    line1, line2, city, state, postal_code, country = slot
    data[line1] = contact.address_line1
    data[line2] = contact.address_line2
    data[city] = contact.city
    data[state] = contact.region_name
    data[postal_code] = contact.postal_code
    # Mapping defaults the country to the US when a lead names none, so a country
    # alone is not an address: send it only alongside one.
    if contact.has_address and (contact.country_alpha2 or contact.country_alpha3):
        data[country] = country_name(contact.country_alpha2, contact.country_alpha3)
    for name, value in contact.custom_fields.items():
        data[custom_field_name(name)] = value
    for name, value in contact.extra.items():
        data[str(name)] = value

    marshalled = ((name, xmlrpc_value(value)) for name, value in data.items())
    return {name: value for name, value in marshalled if value is not None}
