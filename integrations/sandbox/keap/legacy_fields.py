"""XML-RPC Contact field names <-> the store's REST-shaped record (wire spec §5.4).

One contact store serves both APIs, so a contact added over XML-RPC reads back over
REST and the other way round. Names are exact and case-sensitive (`OwnerID`, not
`OwnerId`); anything else is `[NoFieldFound]`. Legacy semantics: "" clears a field,
and State/Country are free text (REST normalises them, XML-RPC does not; hence K16's
"GET returned a region PUT then refuses").
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any
from xmlrpc.client import DateTime, Fault

from . import faults, places, seed
from .models import Company, Contact
from .store import tag_ids_of

_SCALARS = {
    "FirstName": "given_name", "MiddleName": "middle_name", "LastName": "family_name",
    "Suffix": "suffix", "Title": "prefix", "Nickname": "preferred_name",
    "SpouseName": "spouse_name", "JobTitle": "job_title", "Website": "website",
    "ContactType": "contact_type", "TimeZone": "time_zone", "Language": "preferred_locale",
    "ContactNotes": "notes",  # the REST `notes` slot (§2.4)
}  # fmt: skip
_INTS = {"LeadSourceId": "lead_source_id", "OwnerID": "owner_id"}
_DATES = {"Birthday": "birthday", "Anniversary": "anniversary"}
# name -> (record key, slot, key inside the slot)
_SLOTTED: dict[str, tuple[str, str, str]] = {
    "Email": ("email_addresses", "EMAIL1", "email"),
    "EmailAddress2": ("email_addresses", "EMAIL2", "email"),
    "EmailAddress3": ("email_addresses", "EMAIL3", "email"),
}
for _n in range(1, 6):
    _SLOTTED[f"Phone{_n}"] = ("phone_numbers", f"PHONE{_n}", "number")
    _SLOTTED[f"Phone{_n}Ext"] = ("phone_numbers", f"PHONE{_n}", "extension")
    _SLOTTED[f"Phone{_n}Type"] = ("phone_numbers", f"PHONE{_n}", "type")
for _n in (1, 2):
    _SLOTTED[f"Fax{_n}"] = ("fax_numbers", f"FAX{_n}", "number")
    _SLOTTED[f"Fax{_n}Type"] = ("fax_numbers", f"FAX{_n}", "type")
for _slot, _names in {
    "BILLING": "StreetAddress1 StreetAddress2 City State PostalCode ZipFour1 Country",
    "SHIPPING": "Address2Street1 Address2Street2 City2 State2 PostalCode2 ZipFour2 Country2",
    "OTHER": "Address3Street1 Address3Street2 City3 State3 PostalCode3 ZipFour3 Country3",
}.items():
    for _name, _key in zip(
        _names.split(),
        ("line1", "line2", "locality", "region", "postal_code", "zip_four", "country_code"),
        strict=True,
    ):
        _SLOTTED[_name] = ("addresses", _slot, _key)
# Real Contact fields with no REST counterpart: kept as given (§5.4, K21).
_LEGACY_ONLY = set(
    "Address1Type Address2Type Address3Type AssistantName AssistantPhone Leadsource "
    "ReferralCode Username Password".split()
)
READ_ONLY = set("Id DateCreated LastUpdated CreatedBy LastUpdatedBy Groups Validated".split())
_DAY = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


def _text(value: Any) -> str | None:
    if value is None:  # <nil/>: clears the field, as "" does
        return None
    if isinstance(value, DateTime):
        value = value.value
    text = str(value).strip() if not isinstance(value, bool) else str(int(value))
    return text or None


def _day(name: str, value: Any) -> str | None:
    raw = value.value if isinstance(value, DateTime) else str(value).strip()
    if raw == "":
        return None
    match = _DAY.match(raw)
    try:
        return date(*map(int, match.groups())).isoformat()
    except (AttributeError, ValueError):  # no match, or not a real day
        raise _bad(name) from None


def _int(name: str, value: Any) -> int | None:
    if value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()):
        return int(value)
    raise _bad(name)


def _bad(name: str) -> Fault:
    return faults.invalid_parameter(f"Invalid value for field Contact.{name}")


def _custom(name: str, value: Any) -> tuple[str, Any]:
    field = seed.CUSTOM_FIELDS_BY_NAME.get(name[1:])
    if field is None:
        raise faults.no_field("Contact", name)
    if field.field_type == "WholeNumber":
        return str(field.id), _int(name, value)
    if field.field_type == "Date":
        return str(field.id), _day(name, value)
    return str(field.id), _text(value)


def to_patch(data: dict[str, Any]) -> dict[str, Any]:
    """An XML-RPC Contact struct -> a store patch. Raises Fault for unknown, read-only
    or unconvertible fields."""
    patch: dict[str, Any] = {}
    for name, value in data.items():
        if value is None:  # a client's <nil/>: read as "" (clear), Keap's own way (§5.5)
            value = ""
        if name in _SCALARS:
            patch[_SCALARS[name]] = _text(value)
        elif name in _INTS:
            patch[_INTS[name]] = _int(name, value)
        elif name in _DATES:
            patch[_DATES[name]] = _day(name, value)
        elif name in _SLOTTED:
            key, slot, inner = _SLOTTED[name]
            text = _text(value)
            if inner == "country_code" and text:
                text = places.country_code_for(text)
            patch.setdefault(key, {}).setdefault(slot, {})[inner] = text
        elif name == "Company":
            patch["company_name"] = _text(value)
        elif name == "CompanyID":
            company_id = _int(name, value)
            if company_id is not None and not Company.objects.filter(pk=company_id).exists():
                raise faults.invalid_parameter(f"Company not found for Id:{company_id}")
            patch["company_id"] = company_id
        elif name in _LEGACY_ONLY:
            patch.setdefault("legacy", {})[name] = _text(value)
        elif name.startswith("_"):
            field_id, converted = _custom(name, value)
            patch.setdefault("custom_fields", {})[field_id] = converted
        elif name in READ_ONLY:
            raise faults.read_only("Contact", name)
        else:
            raise faults.no_field("Contact", name)
    return patch


def check_names(names: list[Any]) -> list[str]:
    """Selected field names, or the NoFieldFound fault for the first unknown one."""
    for name in names:
        known = isinstance(name, str) and (
            name in _SCALARS or name in _INTS or name in _DATES or name in _SLOTTED
            or name in _LEGACY_ONLY or name in READ_ONLY or name in ("Company", "CompanyID")
            or (name.startswith("_") and name[1:] in seed.CUSTOM_FIELDS_BY_NAME)
        )  # fmt: skip
        if not known:
            raise faults.no_field("Contact", name)
    return names


def _as_datetime(value: str | datetime) -> DateTime:
    if isinstance(value, datetime):
        return DateTime(value.replace(tzinfo=None, microsecond=0))
    return DateTime(datetime.fromisoformat(value))


def value_of(contact: Contact, name: str) -> Any:
    """One XML-RPC field of a contact; None when empty."""
    data = contact.data
    if name == "Id":
        return contact.pk
    if name in ("DateCreated", "LastUpdated"):
        moment = contact.date_created if name == "DateCreated" else contact.last_updated
        return _as_datetime(moment.astimezone(UTC))  # Keap sends no zone (§5.5)
    if name == "Groups":
        return ",".join(map(str, tag_ids_of(contact))) or None
    if name in _SCALARS:
        return data.get(_SCALARS[name])
    if name in _INTS:
        return data.get(_INTS[name])
    if name in _DATES:
        day = data.get(_DATES[name])
        return _as_datetime(day) if day else None
    if name in _SLOTTED:
        key, slot, inner = _SLOTTED[name]
        value = data.get(key, {}).get(slot, {}).get(inner)
        return places.country_name_for(value) if inner == "country_code" and value else value
    if name == "Company":
        return contact.company.name if contact.company_id else None
    if name == "CompanyID":
        return contact.company_id
    if name in _LEGACY_ONLY:
        return data.get("legacy", {}).get(name)
    if name.startswith("_"):
        field = seed.CUSTOM_FIELDS_BY_NAME[name[1:]]
        value = data.get("custom_fields", {}).get(str(field.id))
        return _as_datetime(value) if field.field_type == "Date" and value else value
    return None


def to_struct(contact: Contact, names: list[str]) -> dict[str, Any]:
    """The requested fields that have a value (Keap leaves empty ones out, §5.3)."""
    values = {name: value_of(contact, name) for name in names}
    return {k: v for k, v in values.items() if v not in (None, "")}
