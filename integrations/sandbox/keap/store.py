"""The sandbox's contact store, shared by REST and XML-RPC: services that write and
selectors that read.

`Contact.data` holds one REST-shaped record. Slot lists (emails, phones, faxes,
addresses) are kept keyed by their `field` so v1's merge-by-slot update is a dict
update; they are rendered back as lists:

    {"given_name": "Ann", "birthday": "1990-09-25", "notes": "...",
     "email_addresses": {"EMAIL1": {"email": "ann@x.io"}},
     "phone_numbers": {"PHONE1": {"number": "+1 555", "type": "Mobile"}},
     "addresses": {"BILLING": {"line1": "1 Main St", "region": "Arizona", ...}},
     "custom_fields": {"7": 42}, "social_accounts": {"LinkedIn": "ann"},
     "legacy": {"Address1Type": "Home"}}          # XML-RPC fields REST has no name for

A *patch* has the same layout; None deletes a value, a slot or a key. Two extra patch
keys set the company: `company_id` (REST `company.id`) and `company_name` (XML-RPC
`Company`, found or created by name).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from . import seed
from .models import Company, Contact, Enrollment, Note, TagApplication

SLOT_KEYS = ("email_addresses", "phone_numbers", "fax_numbers", "addresses")
MAP_KEYS = ("custom_fields", "social_accounts", "legacy")
# GET /v1/contacts/{id} leaves these out unless optional_properties asks (§7.1.5);
# `notes` (the ContactNotes slot, §2.4) is not in the 2025 schema, so it is opt-in too.
OPTIONAL_PROPERTIES = ("custom_fields", "job_title", "lead_source_id", "notes")
NOTES_MAX = 10_000  # ContactNotes is silently truncated (§7.1.10, K20)
# Statuses a fresh opt_in_reason turns marketable (§7.1.7); "Manual" is Opt-Out: Manual.
_OPT_IN_FLIPS = {"UnengagedMarketable", "UnengagedNonMarketable", "NonMarketable", "Manual"}
_MARKETABLE = {"UnengagedMarketable", "SingleOptIn", "DoubleOptin", "Confirmed"}


def iso(moment: datetime) -> str:
    """Keap-style timestamp: UTC with milliseconds, e.g. 2024-01-31T12:00:00.000Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- writes ------------------------------------------------------------------------


def company_for_name(name: str) -> Company:
    """The company called `name` (case-insensitive), created when new."""
    seed.ensure_companies()
    found = Company.objects.filter(name__iexact=name).first()
    if found:
        return found
    top = Company.objects.aggregate(top=Max("id"))["top"] or 0
    return Company.objects.create(id=max(top, 999) + 1, name=name)


def company_exists(company_id: int) -> bool:
    seed.ensure_companies()
    return Company.objects.filter(pk=company_id).exists()


def contact_apply(contact: Contact, patch: dict[str, Any]) -> Contact:
    """Merge a patch into a contact (new or existing) and save it."""
    data = contact.data
    for key, value in patch.items():
        if key in SLOT_KEYS or key in MAP_KEYS:
            _merge_map(data, key, value, nested=key in SLOT_KEYS)
        elif key == "company_id":
            contact.company_id = value
        elif key == "company_name":
            contact.company = company_for_name(value) if value else None
        elif value is None:
            data.pop(key, None)
        else:
            data[key] = value
    if data.get("notes"):
        data["notes"] = data["notes"][:NOTES_MAX]
    _update_email_status(data, opting_in=bool(patch.get("opt_in_reason")))
    emails = [
        (data.get("email_addresses", {}).get(f"EMAIL{n}") or {}).get("email") or ""
        for n in (1, 2, 3)
    ]
    contact.email1, contact.email2, contact.email3 = (e.lower() for e in emails)
    contact.given_name_lc = (data.get("given_name") or "").lower()
    contact.family_name_lc = (data.get("family_name") or "").lower()
    contact.last_updated = timezone.now()
    contact.save()
    return contact


def _merge_map(data: dict, key: str, changes: dict | None, *, nested: bool) -> None:
    current = data.setdefault(key, {})
    for name, value in (changes or {}).items():
        if value is None:
            current.pop(name, None)
        elif nested:
            slot = {**current.get(name, {}), **value}
            slot = {k: v for k, v in slot.items() if v not in (None, "")}
            if slot:
                current[name] = slot
            else:
                current.pop(name, None)
        else:
            current[name] = value
    if not current:
        data.pop(key)


def _update_email_status(data: dict, *, opting_in: bool) -> None:
    if not data.get("email_addresses"):
        data.pop("email_status", None)
        return
    status = data.setdefault("email_status", "UnengagedNonMarketable")
    if opting_in and status in _OPT_IN_FLIPS:
        data["email_status"] = "SingleOptIn"


def contact_create(patch: dict[str, Any]) -> Contact:
    return contact_apply(Contact(data={}), patch)


def contact_merge(*, keep: Contact, duplicate: Contact) -> Contact:
    """XML-RPC ContactService.merge: `keep` wins every field it has, takes the
    duplicate's empty ones, tags, sequences and notes; the duplicate is deleted."""
    with transaction.atomic():
        merged = {**duplicate.data, **keep.data}
        for key in SLOT_KEYS + MAP_KEYS:
            both = {**duplicate.data.get(key, {}), **keep.data.get(key, {})}
            if both:
                merged[key] = both
        keep.data = merged
        keep.company_id = keep.company_id or duplicate.company_id
        for row in duplicate.tag_rows.all():
            TagApplication.objects.get_or_create(contact=keep, tag_id=row.tag_id)
        for row in duplicate.enrollments.all():
            Enrollment.objects.get_or_create(
                contact=keep,
                kind=row.kind,
                campaign_id=row.campaign_id,
                sequence_id=row.sequence_id,
                defaults={"status": row.status, "step_index": row.step_index},
            )
        duplicate.note_rows.update(contact=keep)
        duplicate.delete()
        return contact_apply(keep, {})


def tags_apply(*, contact_id: int, tag_ids: list[int]) -> dict[str, str]:
    """Per-tag result, as REST v1 reports it (§7.1.8)."""
    contact = Contact.objects.filter(pk=contact_id).first()
    results = {}
    for tag_id in tag_ids:
        if contact is None:
            results[str(tag_id)] = "CONTACT_NOT_FOUND"
        elif tag_id not in seed.TAGS:
            results[str(tag_id)] = "TAG_ID_NOT_FOUND"
        else:
            _, created = TagApplication.objects.get_or_create(contact=contact, tag_id=tag_id)
            results[str(tag_id)] = "SUCCESS" if created else "DUPLICATE"
    if contact is not None:
        contact_apply(contact, {})  # tags change last_updated
    return results


def tags_remove(*, contact: Contact, tag_ids: list[int]) -> int:
    deleted, _ = TagApplication.objects.filter(contact=contact, tag_id__in=tag_ids).delete()
    contact_apply(contact, {})
    return deleted


def enrollment_start(*, contact: Contact, kind: str, sequence_id: int, campaign_id: int = 0):
    """Put the contact on a sequence (again): active, from its first step."""
    row, _ = Enrollment.objects.update_or_create(
        contact=contact,
        kind=kind,
        campaign_id=campaign_id,
        sequence_id=sequence_id,
        defaults={"status": Enrollment.ACTIVE, "step_index": 0, "added_at": timezone.now()},
    )
    return row


def note_create(*, contact: Contact, title: str, body: str, type: str, user_id: int | None):
    return Note.objects.create(contact=contact, title=title, body=body, type=type, user_id=user_id)


# --- reads --------------------------------------------------------------------------


def contact_find_duplicate(
    *, email: str, mode: str, given_name: str = "", family_name: str = "", company: str = ""
) -> Contact | None:
    """The lowest-id contact matching `mode` (Email | EmailAndName |
    EmailAndNameAndCompany). Email compares EMAIL1..3; everything case-insensitively."""
    if not email:
        return None
    query = Contact.objects.filter(email_q(email))
    if mode in ("EmailAndName", "EmailAndNameAndCompany"):
        query = query.filter(given_name_lc=given_name.lower(), family_name_lc=family_name.lower())
    if mode == "EmailAndNameAndCompany":
        query = (
            query.filter(company__name__iexact=company)
            if company
            else query.filter(company__isnull=True)
        )
    return query.order_by("id").first()


def email_q(email: str) -> Q:
    """Matches any of EMAIL1..3, case-insensitively (the columns are lower-cased)."""
    e = (email or "").lower()
    return Q(email1=e) | Q(email2=e) | Q(email3=e)


def tag_ids_of(contact: Contact) -> list[int]:
    return [r.tag_id for r in contact.tag_rows.order_by("date_applied", "id")]


def _slots(data: dict, key: str) -> list[dict]:
    return [{**item, "field": name} for name, item in sorted(data.get(key, {}).items())]


def contact_rest(contact: Contact, *, optional: set[str] | frozenset = frozenset()) -> dict:
    """FullContact (§2.3). Optional properties appear only when asked for."""
    data = contact.data
    out: dict[str, Any] = {"id": contact.pk}
    for key in (
        "given_name middle_name family_name prefix suffix preferred_name spouse_name website "
        "contact_type owner_id preferred_locale time_zone source_type opt_in_reason"
    ).split():
        if key in data:
            out[key] = data[key]
    for key in SLOT_KEYS:
        out[key] = _slots(data, key)
    out["social_accounts"] = [
        {"name": n, "type": t} for t, n in sorted(data.get("social_accounts", {}).items())
    ]
    if data.get("birthday"):
        out["birthday"] = f"{data['birthday']}T00:00:00.000Z"  # date-time on the way out
    if data.get("anniversary"):
        out["anniversary"] = data["anniversary"]
    if data.get("origin"):
        out["origin"] = data["origin"]
    if contact.company_id:
        out["company"] = {"id": contact.company_id, "company_name": contact.company.name}
        out["company_name"] = contact.company.name
    out["email_status"] = data.get("email_status", "NonMarketable")
    out["email_opted_in"] = out["email_status"] in _MARKETABLE
    out["ScoreValue"] = "0"
    out["tag_ids"] = tag_ids_of(contact)
    out["relationships"] = []
    out["date_created"] = iso(contact.date_created)
    out["last_updated"] = iso(contact.last_updated)
    for key in OPTIONAL_PROPERTIES:
        if key not in optional:
            continue
        if key == "custom_fields":
            values = data.get("custom_fields", {})
            out[key] = [{"id": f, "content": values.get(str(f))} for f in seed.CUSTOM_FIELDS]
        elif key in data:
            out[key] = data[key]
    return out


def contact_partial(contact: Contact, *, optional: set[str] | frozenset = frozenset()) -> dict:
    """RestPartialContact as the list endpoint returns it: a few fields, plus any
    optional_properties asked for (by any FullContact name)."""
    full = contact_rest(contact, optional=optional & set(OPTIONAL_PROPERTIES))
    keep = {"id", "given_name", "family_name", "email_addresses", "company", "company_name"}
    return {k: v for k, v in full.items() if k in keep or k in optional}


def note_rest(note: Note) -> dict:
    out = {
        "id": note.pk,
        "contact_id": note.contact_id,
        "title": note.title,
        "body": note.body,
        "type": note.type or None,
        "user_id": note.user_id,
        "date_created": iso(note.date_created),
        "last_updated": iso(note.last_updated),
    }
    return {k: v for k, v in out.items() if v is not None}


def contact_everything(contact: Contact) -> dict:
    """Every field, tag, sequence and note of a contact (for _control/contacts)."""
    out = contact_rest(contact, optional=set(OPTIONAL_PROPERTIES))
    out["legacy_fields"] = contact.data.get("legacy", {})
    out["tags"] = [
        {"id": t, "name": seed.TAGS[t].name if t in seed.TAGS else ""} for t in out["tag_ids"]
    ]
    out["sequences"] = [
        {
            "kind": row.kind,
            "campaign_id": row.campaign_id or None,
            "sequence_id": row.sequence_id,
            "status": row.status,
            "step_index": row.step_index,
            "added_at": iso(row.added_at),
        }
        for row in contact.enrollments.order_by("id")
    ]
    out["note_records"] = [note_rest(n) for n in contact.note_rows.order_by("id")]
    return out
