"""Contacts as HighLevel keeps them: input cleaning, duplicate matching, JSON shape.

Called by views.py after the body passed the schema (schema.py); the checks here are
the ones a JSON schema cannot express (email and phone syntax, date formats, custom
field types), answered as 422 messages like the real class-validator ones.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.utils import timezone

from . import faults
from .models import Contact, CustomField, Location

# §6.3: the formats `dateOfBirth` accepts.
DOB_FORMATS = (
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%Y-%m-%d",
    "%m-%d-%Y",
    "%Y.%m.%d",
    "%m.%d.%Y",
    "%Y_%m_%d",
    "%m_%d_%Y",
)
# request key -> model field, for the plain string fields
_STRINGS = {
    "firstName": "first_name",
    "lastName": "last_name",
    "name": "name",
    "email": "email",
    "gender": "gender",
    "address1": "address1",
    "city": "city",
    "state": "state",
    "postalCode": "postal_code",
    "country": "country",
    "website": "website",
    "timezone": "timezone",
    "source": "source",
    "companyName": "company_name",
    "assignedTo": "assigned_to",
}
_NUMERIC_TYPES = {"NUMERICAL", "MONETORY"}
_LIST_TYPES = {"CHECKBOX", "MULTIPLE_OPTIONS"}


class Rejected(Exception):
    """The body is well formed but its values are not acceptable (a 422)."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


def trace_id() -> str:
    return secrets.token_hex(12)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{value.microsecond // 1000:03d}Z"
    )


def e164(raw: str, default_region: str) -> str | None:
    """§7.3.10: accept E.164 and common national formats, answer in E.164."""
    try:
        number = phonenumbers.parse(raw, default_region or "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean(body: dict[str, Any], location: Location) -> dict[str, Any]:
    """Model field values from a schema-valid body. Raises Rejected."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for key, field in _STRINGS.items():
        if key in body:
            out[field] = (body[key] or "").strip()
    if out.get("email"):
        try:
            validate_email(out["email"])
        except ValidationError:
            problems.append("email must be an email")
    if "email" in out:
        out["email_lower"] = out["email"].lower()
    if out.get("country"):
        out["country"] = out["country"].upper()
        if not re.fullmatch(r"[A-Z]{2}", out["country"]):
            problems.append("country must be a valid ISO 3166-1 alpha-2 country code")
    if "phone" in body:
        raw = (body["phone"] or "").strip()
        out["phone"] = e164(raw, location.country) if raw else ""
        if out["phone"] is None:
            problems.append("phone must be a valid phone number")
    if "dateOfBirth" in body:
        out["date_of_birth"] = _date_of_birth(body["dateOfBirth"], problems)
    for key, field in (
        ("dndSettings", "dnd_settings"),
        ("inboundDndSettings", "inbound_dnd_settings"),
    ):
        if key in body:
            out[field] = body[key] or {}
    if "dnd" in body:
        out["dnd"] = bool(body["dnd"])
    if "tags" in body:
        out["tags"] = normalise_tags(body["tags"] or [])
    if body.get("customFields"):
        out["custom_fields"] = _custom_fields(body["customFields"], location, problems)
    if problems:
        raise Rejected(problems)
    return out


def _date_of_birth(value: Any, problems: list[str]) -> date | None:
    if value in (None, ""):
        return None
    for fmt in DOB_FORMATS:
        try:
            return datetime.strptime(str(value), fmt).date()
        except ValueError:
            continue
    problems.append("dateOfBirth must be a valid date")
    return None


def normalise_tags(tags: list[str]) -> list[str]:
    # HighLevel shows tags lower-cased; whether the API folds case is undocumented
    # (§7.3.3 [?]). The sandbox folds, so a client must not rely on the original case.
    return list(dict.fromkeys(t.strip().lower() for t in tags if t and t.strip()))


def _custom_fields(
    items: list[dict[str, Any]], location: Location, problems: list[str]
) -> dict[str, Any]:
    """{field id: value}. Items name a field by `id` (or `key`); the value is in
    `field_value` or, as many integrations send it, `value` (§6.3 [O])."""
    known = {f.id: f for f in CustomField.objects.filter(location=location)}
    by_key = {f.field_key: f for f in known.values()}
    values: dict[str, Any] = {}
    for n, item in enumerate(items):
        field = known.get(item.get("id") or "") or by_key.get(item.get("key") or "")
        if field is None:
            faults.bump("custom_fields_ignored")  # HighLevel ignores unknown ids silently
            continue
        value = item.get("field_value", item.get("value"))
        if value is not None and field.data_type in _NUMERIC_TYPES:
            try:
                value = float(value) if "." in str(value) else int(value)
            except (TypeError, ValueError):
                problems.append(f"customFields.{n}.field_value must be a number")
        if value is not None and field.data_type in _LIST_TYPES and isinstance(value, str):
            value = [value]
        values[field.id] = value
    return values


def find_match(
    location: Location, *, email: str = "", phone: str = "", exclude: str = ""
) -> tuple[Contact, str] | None:
    """The existing contact a duplicate check finds: email first, then phone (§7.3.1).
    One query for both (each side on its own index); the oldest match of a side wins."""
    wanted = Q()
    if email:
        wanted |= Q(email_lower=email.lower())
    if phone:
        wanted |= Q(phone=phone)
    if not wanted:
        return None
    candidates = list(
        Contact.objects.filter(wanted, location=location)
        .exclude(pk=exclude)
        .order_by("date_added", "id")
    )
    for field, matches in (
        ("email", lambda c: bool(email) and c.email_lower == email.lower()),
        ("phone", lambda c: bool(phone) and c.phone == phone),
    ):
        found = next((c for c in candidates if matches(c)), None)
        if found:
            return found, field
    return None


def create(location: Location, values: dict[str, Any]) -> Contact:
    contact = Contact(location=location)
    apply(contact, values)
    contact.save()
    faults.bump("contacts_created")
    return contact


def apply(contact: Contact, values: dict[str, Any]) -> None:
    """Set the given fields (and nothing else). Tags REPLACE (§7.3.3); custom fields
    merge by id, a null value clearing one."""
    names_given = {"first_name", "last_name"} & set(values)
    for field, value in values.items():
        if field == "custom_fields":
            merged = {**contact.custom_fields, **value}
            contact.custom_fields = {k: v for k, v in merged.items() if v is not None}
        else:
            setattr(contact, field, value)
    if names_given and "name" not in values:
        contact.name = f"{contact.first_name} {contact.last_name}".strip()
    contact.date_updated = timezone.now()


def update(contact: Contact, values: dict[str, Any]) -> Contact:
    apply(contact, values)
    contact.save()
    faults.bump("contacts_updated")
    return contact


def serialize(contact: Contact, *, dob_as_datetime: bool = False) -> dict[str, Any]:
    """The contact as the API returns it: unset optional fields are left out."""
    data: dict[str, Any] = {"id": contact.id, "locationId": contact.location_id}
    for key, field in _STRINGS.items():
        value = getattr(contact, field)
        if value:
            data[key] = value
    if contact.phone:
        data["phone"] = contact.phone
    for key, value in (
        ("firstNameLowerCase", contact.first_name.lower()),
        ("lastNameLowerCase", contact.last_name.lower()),
        ("fullNameLowerCase", contact.name.lower()),
        ("emailLowerCase", contact.email_lower),
    ):
        if value:
            data[key] = value
    if contact.date_of_birth:
        # Create answers 1990-09-25T00:00:00.000Z; GET/upsert document YYYY-MM-DD (§6.3).
        dob = contact.date_of_birth.isoformat()
        data["dateOfBirth"] = f"{dob}T00:00:00.000Z" if dob_as_datetime else dob
    data.update(
        dnd=contact.dnd,
        dndSettings=contact.dnd_settings,
        type="lead",
        tags=list(contact.tags),
        customFields=[{"id": k, "value": v} for k, v in contact.custom_fields.items()],
        dateAdded=iso(contact.date_added),
        dateUpdated=iso(contact.date_updated),
    )
    if contact.inbound_dnd_settings:
        data["inboundDndSettings"] = contact.inbound_dnd_settings
    return data
