"""ContactService and DataService, as Keap's XML-RPC API answers them (wire spec §5.3,
§7.2; seeds/002 ContactService reference). Each handler takes the call's parameters
(the legacy key first, ignored: the gateway already authenticated the caller) and
returns the result or raises xmlrpc.client.Fault.
"""

from __future__ import annotations

import fnmatch

from django.db import transaction

from . import faults, legacy_fields, seed, store
from .models import Contact, Enrollment, TagApplication


def _contact(verb: str, contact_id: int) -> Contact:
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise faults.record_not_found(verb, contact_id)
    return contact


def _followup(sequence_id: int) -> seed.FollowUpSequence:
    sequence = seed.FOLLOWUP_SEQUENCES.get(sequence_id)
    if sequence is None:
        raise faults.loading("follow-up sequence")  # §7.2.3: note the tag is [Loading]
    return sequence


def _enrollment(contact: Contact, sequence_id: int) -> Enrollment | None:
    return (
        contact.enrollments.filter(kind=Enrollment.FOLLOWUP, sequence_id=sequence_id)
        .exclude(status=Enrollment.REMOVED)
        .first()
    )


# --- ContactService ------------------------------------------------------------------


def add(key: str, data: dict) -> int:
    """Always inserts (§7.2.4)."""
    return store.contact_create(legacy_fields.to_patch(data)).pk


def add_with_dup_check(key: str, data: dict, dup_check_type: str) -> int:
    """The lowest-id match is updated and its id returned; otherwise a new contact."""
    if dup_check_type not in ("Email", "EmailAndName", "EmailAndNameAndCompany"):
        raise faults.invalid_parameter(f"Invalid dupCheckType: {dup_check_type}")
    patch = legacy_fields.to_patch(data)
    with transaction.atomic():
        match = store.contact_find_duplicate(
            email=str(data.get("Email", "")).strip(),
            mode=dup_check_type,
            given_name=str(data.get("FirstName", "")).strip(),
            family_name=str(data.get("LastName", "")).strip(),
            company=str(data.get("Company", "")).strip(),
        )
        if match is None:
            return store.contact_create(patch).pk
        return store.contact_apply(match, patch).pk


def update(key: str, contact_id: int, data: dict) -> int:
    patch = legacy_fields.to_patch(data)
    return store.contact_apply(_contact("update", contact_id), patch).pk


def load(key: str, contact_id: int, fields: list) -> dict:
    names = legacy_fields.check_names(fields)
    return legacy_fields.to_struct(_contact("load", contact_id), names)


def find_by_email(key: str, email: str, fields: list) -> list:
    """Searches Email, EmailAddress2 and EmailAddress3 (seeds/002), case-insensitively."""
    names = legacy_fields.check_names(fields)
    found = Contact.objects.filter(store.email_q(email.strip())).order_by("id")
    return [legacy_fields.to_struct(c, names) for c in found] if email.strip() else []


def merge(key: str, contact_id: int, duplicate_contact_id: int) -> bool:
    if contact_id == duplicate_contact_id:
        raise faults.invalid_parameter("Cannot merge a contact with itself")
    keep = _contact("merge", contact_id)
    store.contact_merge(keep=keep, duplicate=_contact("merge", duplicate_contact_id))
    return True


def add_to_group(key: str, contact_id: int, tag_id: int) -> bool:
    contact = _contact("addToGroup", contact_id)
    if tag_id not in seed.TAGS:
        raise faults.record_not_found("addToGroup", tag_id)
    store.tags_apply(contact_id=contact.pk, tag_ids=[tag_id])
    return True


def remove_from_group(key: str, contact_id: int, tag_id: int) -> bool:
    contact = _contact("removeFromGroup", contact_id)
    store.tags_remove(contact=contact, tag_ids=[tag_id])
    return True


def add_to_campaign(key: str, contact_id: int, campaign_id: int) -> bool:
    """Legacy "campaigns" are follow-up sequences (seeds/002 addToCampaign)."""
    _followup(campaign_id)
    contact = _contact("addToCampaign", contact_id)
    store.enrollment_start(contact=contact, kind=Enrollment.FOLLOWUP, sequence_id=campaign_id)
    return True


def _set_enrollment_status(method: str, contact_id: int, sequence_id: int, status: str) -> bool:
    """False when the contact is not on the sequence (Keap answers, it does not fault)."""
    _followup(sequence_id)
    row = _enrollment(_contact(method, contact_id), sequence_id)
    if row is None:
        return False
    row.status = status
    row.save(update_fields=["status"])
    return True


def remove_from_campaign(key: str, contact_id: int, campaign_id: int) -> bool:
    return _set_enrollment_status("removeFromCampaign", contact_id, campaign_id, Enrollment.REMOVED)


def pause_campaign(key: str, contact_id: int, sequence_id: int) -> bool:
    return _set_enrollment_status("pauseCampaign", contact_id, sequence_id, Enrollment.PAUSED)


def resume_campaign_for_contact(key: str, contact_id: int, sequence_id: int) -> bool:
    return _set_enrollment_status(
        "resumeCampaignForContact", contact_id, sequence_id, Enrollment.ACTIVE
    )


def get_next_campaign_step(key: str, contact_id: int, sequence_id: int) -> int:
    """The id of the contact's next step on the sequence; 0 when none is left or the
    contact is not on it."""
    sequence = _followup(sequence_id)
    row = _enrollment(_contact("getNextCampaignStep", contact_id), sequence_id)
    if row is None or row.step_index >= len(sequence.steps):
        return 0
    return sequence.steps[row.step_index]


def reschedule_campaign_step(key: str, contact_ids: list, step_id: int) -> int:
    """Runs the step now for each listed contact active on its sequence; returns how
    many it ran for (seeds/002 sample: 3)."""
    sequence_id = seed.STEP_SEQUENCE.get(step_id)
    if sequence_id is None:
        raise faults.loading("follow-up sequence step")
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in contact_ids):
        raise faults.no_method_matching((key, contact_ids, step_id))
    position = seed.FOLLOWUP_SEQUENCES[sequence_id].steps.index(step_id)
    return Enrollment.objects.filter(
        kind=Enrollment.FOLLOWUP,
        sequence_id=sequence_id,
        status=Enrollment.ACTIVE,
        contact_id__in=contact_ids,
    ).update(step_index=position + 1)


def run_action_sequence(key: str, contact_id: int, action_set_id: int) -> list:
    """A list of {Action, Message, IsError}, one per action (seeds/002 sample)."""
    contact = _contact("runActionSequence", contact_id)
    if action_set_id not in seed.ACTION_SETS:
        raise faults.loading("action set")
    results = []
    for action in seed.ACTION_SETS[action_set_id][1]:
        if action.kind == "apply_tag":
            store.tags_apply(contact_id=contact.pk, tag_ids=[action.target])
            label, text = (
                "Apply/Remove Tag",
                f"tags applied to Contact: {seed.TAGS[action.target].name}",
            )
        elif action.kind == "remove_tag":
            TagApplication.objects.filter(contact=contact, tag_id=action.target).delete()
            label, text = (
                "Apply/Remove Tag",
                f"tags removed from Contact: {seed.TAGS[action.target].name}",
            )
        else:
            store.enrollment_start(
                contact=contact, kind=Enrollment.FOLLOWUP, sequence_id=action.target
            )
            name = seed.FOLLOWUP_SEQUENCES[action.target].name
            label, text = "Start/Stop Follow-up Sequence", f"Follow-up sequence started: {name}"
        results.append({"Action": label, "Message": text, "IsError": False})
    return results


# --- DataService ---------------------------------------------------------------------

_TABLES = {
    "LeadSource": (seed.LEAD_SOURCE_FIELDS, lambda: list(seed.LEAD_SOURCES.values())),
    "ContactGroup": (
        ("Id", "GroupName", "GroupCategoryId", "GroupDescription"),
        lambda: [
            {
                "Id": t.id,
                "GroupName": t.name,
                "GroupCategoryId": t.category_id,
                "GroupDescription": t.description,
            }
            for t in seed.TAGS.values()
        ],  # fmt: skip
    ),
    # Legacy follow-up sequences (ContactService.addToCampaign) and action sets
    # (runActionSequence), as Keap's table schema names their columns.
    "Campaign": (
        ("Id", "Name", "Status"),
        lambda: [
            {"Id": s.id, "Name": s.name, "Status": "Active"}
            for s in seed.FOLLOWUP_SEQUENCES.values()
        ],
    ),
    "ActionSequence": (
        ("Id", "TemplateName", "VisibleToTheseUsers"),
        lambda: [{"Id": k, "TemplateName": v[0]} for k, v in seed.ACTION_SETS.items()],
    ),
}


def _matches(row: dict, query: dict) -> bool:
    """§7.2.5: `%` is a wildcard, matching is case-insensitive, `~null~` matches null."""
    for name, wanted in query.items():
        value = row.get(name)
        if wanted == "~null~":
            if value not in (None, ""):
                return False
        elif isinstance(wanted, str):
            pattern = wanted.casefold().replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")
            if value is None or not fnmatch.fnmatchcase(
                str(value).casefold(), pattern.replace("%", "*")
            ):
                return False
        elif value != wanted:
            return False
    return True


def query(
    key: str,
    table: str,
    limit: int,
    page: int,
    query_data: dict,
    fields: list,
    order_by: str = "Id",
    ascending: bool = True,
) -> list:
    if table not in _TABLES:
        raise faults.no_table(table)
    columns, rows = _TABLES[table]
    for name in [*query_data, *fields, order_by]:
        if name not in columns:
            raise faults.no_field(table, name)
    found = [r for r in rows() if _matches(r, query_data)]
    found.sort(key=lambda r: (r.get(order_by) is None, r.get(order_by)), reverse=not ascending)
    limit = max(0, min(limit, 1000))  # §7.2.5: limit is capped at 1000; page is 0-based
    window = found[page * limit : (page + 1) * limit] if page >= 0 else []
    return [{f: r[f] for f in fields if r.get(f) not in (None, "")} for r in window]


def get_app_setting(key: str, module: str, setting: str) -> str:
    if (module, setting.lower()) == ("Contact", "optiontypes"):
        return ",".join(seed.CONTACT_TYPES)
    return ""


def get_user_info() -> dict:
    """Takes no key at all (§5.1, K13 DataService.php)."""
    admin = seed.USERS[1]
    return {
        "appAlias": seed.APP_HOST.split(".")[0],
        "appUrl": f"https://{seed.APP_HOST}",
        "casUsername": admin["email"],
        "displayName": admin["name"],
        "globalUserId": 1,
        "localUserId": 1,
        "email": admin["email"],
    }
