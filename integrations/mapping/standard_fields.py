"""Lead fields → a CRM-neutral ContactData.

The 17 fields LeadConduit maps automatically (seeds/000) are read under their
LeadConduit names; a step's field mappings then add or override fields by hand
("custom:<id>" for CRM custom fields, a ContactData attribute, or any CRM-native
field name). Pure functions: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import fields as dataclass_fields
from datetime import date, datetime
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from integrations.crm.base import ContactData

from .places import place_from_lead
from .templates import is_template, lookup, render

# LeadConduit name -> ContactData attribute (seeds/000 "Automatically Mapped Fields").
STANDARD_FIELDS: dict[str, str] = {
    "first_name": "first_name",
    "middle_name": "middle_name",
    "last_name": "last_name",
    "suffix": "suffix",
    "email": "email",
    "phone_1": "phones",
    "phone_2": "phones",
    "phone_3": "phones",
    "address_1": "address_line1",
    "address_2": "address_line2",
    "city": "city",
    "state": "region_name",
    "postal_code": "postal_code",
    "website": "website",
    "comments": "notes",
    "title": "job_title",
    "dob": "birthday",
}
# Read too when present, though not among the 17: they complete an address or a match.
EXTRA_STANDARD = {"country": "country", "company": "company"}

CONTACT_ATTRIBUTES = {f.name for f in dataclass_fields(ContactData)} - {"custom_fields", "extra"}
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d", "%m-%d-%Y", "%Y.%m.%d", "%m.%d.%Y", "%d %b %Y")


class MappingSkip(Exception):
    """The lead should not be sent by this step. `reason` is a fixed phrase."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def parse_date(value: Any) -> date | None:
    """A date of birth in any common format; None when it cannot be read."""
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if not text:
        return None
    text = re.sub(r"T.*$", "", text)  # an ISO date-time: keep the date
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def normalise_phone(value: Any, region: str = "US") -> str:
    """E.164 when the number parses as valid, else the digits as written."""
    text = str(value or "").strip()
    if not text:
        return ""
    try:
        parsed = phonenumbers.parse(text, region or "US")
    except phonenumbers.NumberParseException:
        return text
    if phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return text


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value).strip()


def contact_from_lead(
    fields: dict[str, Any], mappings: Sequence[tuple[str, str]] = ()
) -> ContactData:
    """Build the contact for one step. `mappings` are (source, target) pairs.

    Raises MappingSkip when the lead cannot be sent (an invalid email, neither an
    email nor a phone): the delivery is recorded as `skip` with no request made.
    """
    place = place_from_lead(state=_text(fields, "state"), country_value=_text(fields, "country"))
    contact = ContactData(
        first_name=_text(fields, "first_name"),
        middle_name=_text(fields, "middle_name"),
        last_name=_text(fields, "last_name"),
        suffix=_text(fields, "suffix"),
        email=_text(fields, "email").lower(),
        address_line1=_text(fields, "address_1"),
        address_line2=_text(fields, "address_2"),
        city=_text(fields, "city"),
        region_code=place.region_code,
        region_name=place.region_name,
        postal_code=_text(fields, "postal_code"),
        country_alpha2=place.country_alpha2,
        country_alpha3=place.country_alpha3,
        website=_text(fields, "website"),
        notes=_text(fields, "comments"),
        job_title=_text(fields, "title"),
        birthday=parse_date(fields.get("dob")),
        company=_text(fields, "company"),
    )
    region = place.country_alpha2 or "US"
    contact.phones = [
        phone
        for phone in (normalise_phone(_text(fields, f"phone_{n}"), region) for n in (1, 2, 3))
        if phone
    ]
    for source, target in mappings:
        _apply_mapping(contact, fields, source, target)

    if contact.email:
        try:
            validate_email(contact.email)
        except ValidationError:
            raise MappingSkip("invalid email") from None
    if not contact.email and not contact.phones:
        raise MappingSkip("no email or phone")
    if fields.get("dob") and contact.birthday is None:
        raise MappingSkip("invalid date of birth")
    return contact


def _apply_mapping(contact: ContactData, fields: dict[str, Any], source: str, target: str) -> None:
    value: Any = render(source, fields) if is_template(source) else lookup(fields, source.strip())
    if value is None or value == "":
        return
    target = target.strip()
    if target.startswith("custom:"):
        contact.custom_fields[target.removeprefix("custom:")] = value
    elif target == "phones":
        contact.phones = [normalise_phone(value, contact.country_alpha2 or "US")] + contact.phones
    elif target == "birthday":
        contact.birthday = parse_date(value)
    elif target in CONTACT_ATTRIBUTES:
        setattr(contact, target, str(value))
    else:
        contact.extra[target] = value
