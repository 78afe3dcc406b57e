"""What the step editor's pickers offer: names from the account's catalogue and the
CRM's spec, each with the value the step stores. Selectors: they read only."""

from __future__ import annotations

from typing import Any

from integrations.crm.registry import RECIPIENTS, crm_spec
from integrations.crm.spec import FieldSpec, RecipientSpec
from integrations.models import Step

from .refs import CUSTOM_PREFIX, entries

Choice = tuple[str, str]
Grouped = list[tuple[str, list[Choice]]]
CAMPAIGN_SEP = "|"

KIND_LABELS = {
    "text": "text",
    "email": "email",
    "phone": "phone",
    "url": "web address",
    "date": "date",
    "integer": "whole number",
    "decimal": "decimal",
    "currency": "currency",
    "boolean": "yes/no",
    "choice": "dropdown",
}


def step_catalogue(step: Step | None) -> dict[str, Any]:
    account = step.account if step is not None and step.account_id else None
    return account.catalogue or {} if account is not None else {}


def step_spec(step: Step | None) -> RecipientSpec | None:
    return RECIPIENTS.get(step.recipient) if step is not None else None


def custom_field_kind(step: Step, entry: dict[str, Any]) -> str:
    """A catalogue custom field's value kind (FIELD_KINDS), "text" when unknown."""
    if step.account is None:
        return "text"
    kinds = crm_spec(step.account.crm).custom_field_kinds
    return kinds.get(str(entry.get("type", "")), "text")


def custom_fields(step: Step) -> list[tuple[str, dict[str, Any], str]]:
    """(mapping target, catalogue entry, value kind) for each custom field."""
    spec = step_spec(step)
    key = spec.custom_field_key if spec else "id"
    prefix = CUSTOM_PREFIX + (spec.custom_field_prefix if spec else "")
    return [
        (f"{prefix}{entry.get(key)}", entry, custom_field_kind(step, entry))
        for entry in entries(step_catalogue(step), "custom_fields")
        if entry.get(key) not in (None, "")
    ]


def standard_fields(step: Step | None) -> tuple[FieldSpec, ...]:
    if step is None or step.account is None:
        return ()
    return crm_spec(step.account.crm).standard_fields


def target_choices(step: Step | None) -> Grouped:
    """Mapping targets: custom fields by name, standard fields (to override one),
    and the recipient's manual fields."""
    groups: Grouped = []
    if step is None:
        return groups
    custom = [
        (target, f"{entry.get('name') or target} ({KIND_LABELS.get(kind, kind)})")
        for target, entry, kind in custom_fields(step)
    ]
    if custom:
        groups.append(("Custom fields", custom))
    standard = [
        (f.lead_field, f"{f.label} (instead of lead.{f.lead_field})") for f in standard_fields(step)
    ]
    if standard:
        groups.append(("Standard fields", standard))
    spec = step_spec(step)
    manual = [(f.name, f.label) for f in spec.manual_fields] if spec else []
    if manual:
        groups.append(("Manual data", manual))
    return groups


def known_targets(step: Step | None) -> set[str]:
    return {value for _, choices in target_choices(step) for value, _ in choices}


def catalogue_choices(step: Step | None, catalogue_name: str, *, by: str = "id") -> list[Choice]:
    """One catalogue list as (stored value, name) choices."""
    return [
        (str(entry.get(by)), str(entry.get("name") or entry.get(by)))
        for entry in entries(step_catalogue(step), catalogue_name)
        if entry.get(by) not in (None, "")
    ]


def tag_choices(step: Step | None) -> list[Choice]:
    spec = step_spec(step)
    tags = next((lst for lst in spec.lists if lst.kind == "tag"), None) if spec else None
    if tags is None:
        return []
    return catalogue_choices(step, tags.catalogue, by="name" if tags.by == "name" else "id")


def campaign_choices(step: Step | None) -> Grouped:
    """Every sequence / workflow / campaign / action set the recipient can start, as
    "kind|item id|sequence id" values grouped by kind."""
    spec = step_spec(step)
    groups: Grouped = []
    for lst in spec.lists if spec else ():
        if lst.kind == "tag":
            continue
        choices: list[Choice] = []
        for entry in entries(step_catalogue(step), lst.catalogue):
            if lst.item == "campaign_sequence":
                for sequence in entries(entry, "sequences"):
                    value = CAMPAIGN_SEP.join((lst.kind, str(entry["id"]), str(sequence["id"])))
                    choices.append((value, f"{entry.get('name')} › {sequence.get('name')}"))
            else:
                value = CAMPAIGN_SEP.join((lst.kind, str(entry["id"]), ""))
                choices.append((value, str(entry.get("name") or entry["id"])))
        groups.append((lst.label, choices))
    return groups


def manual_field_choices(step: Step | None, field: FieldSpec) -> list[Choice]:
    if field.choices:
        return list(field.choices)
    if field.catalogue:
        return catalogue_choices(step, field.catalogue)
    return []


def choice_ref(value: str, label: str) -> str:
    """The id a picker shows beside a name: the entry's id in the CRM ("103",
    "45 › 1" for a campaign's sequence, "_LeadScore" for an XML-RPC custom field), or
    "" when the stored value is the name itself (a contact type, a tag kept by name)."""
    if CAMPAIGN_SEP in value:
        _, item_id, sequence_id = (value.split(CAMPAIGN_SEP) + ["", ""])[:3]
        return f"{item_id} › {sequence_id}" if sequence_id else item_id
    ref = value.removeprefix(CUSTOM_PREFIX)
    return "" if ref == label else ref


def target_ref(value: str, label: str) -> str:
    """choice_ref for the mapping target picker: only custom fields have an id there
    (standard and manual fields are named by the CRM's spec)."""
    return choice_ref(value, label) if value.startswith(CUSTOM_PREFIX) else ""
