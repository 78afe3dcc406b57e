"""Export a step's (or a whole flow's) configuration as a file, and import it into
another account or installation.

Every catalogue id in the file travels with its name (`{"$ref": "tags", "id": 103,
"name": "Hot Lead"}`); an import matches each by name against the target account's
catalogue and lists, before anything is saved, every one it could not match. Unmatched
entries are left out of the imported steps (a mapping to an unmatched custom field is
left out whole), so nothing points at an id the target account does not have.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from integrations.crm.registry import RECIPIENT_CRMS
from integrations.crm.spec import RecipientSpec
from integrations.models import Account, Flow, Step

from .refs import (
    CUSTOM_PREFIX,
    REF,
    Resolution,
    entries,
    entry_by,
    is_ref,
    list_spec,
    manual_field,
    ref_in,
    ref_out,
    step_recipient_spec,
)
from .versions import STEP_FOLLOW, step_version_save

FORMAT = "leadflow.configuration"
FORMAT_VERSION = 1
# Not exported: the row's identity, and the legacy id lists (moved into tag and
# campaign rules, no longer read).
_STEP_SKIP = {"id", "flow", "account", "tag_ids", "sequences"}
_PART_SKIP = {"id", "step"}
_DROP = object()


class TransferError(Exception):
    """The file is not a LeadFlow configuration this version can read."""


# --- export ---------------------------------------------------------------------------


def flow_export(*, flow: Flow) -> dict[str, Any]:
    """The flow's configuration (its steps, not its sources' keys) as portable data."""
    return _document(
        flow={"name": flow.name, "description": flow.description},
        steps=[step_export_data(step) for step in flow.steps.select_related("account")],
    )


def step_export(*, step: Step) -> dict[str, Any]:
    return _document(flow=None, steps=[step_export_data(step)])


def _document(*, flow: dict[str, Any] | None, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "exported_at": timezone.now().isoformat(timespec="seconds"),
        "flow": flow,
        "steps": steps,
    }


def step_export_data(step: Step) -> dict[str, Any]:
    catalogue = step.account.catalogue if step.account else {}
    data: dict[str, Any] = {
        f.name: _jsonable(getattr(step, f.attname))
        for f in Step._meta.concrete_fields
        if f.name not in _STEP_SKIP
    }
    data["crm"] = RECIPIENT_CRMS.get(step.recipient, "")
    data["account"] = step.account.name if step.account else ""
    spec = step_recipient_spec(step)
    for name in STEP_FOLLOW:
        rows = []
        for part in getattr(step, name).all():
            row = {
                f.name: _jsonable(getattr(part, f.attname))
                for f in part._meta.concrete_fields
                if f.name not in _PART_SKIP
            }
            rows.append(_refs_out(name, row, spec, catalogue))
        data[name] = rows
    return data


def _refs_out(
    part: str, row: dict[str, Any], spec: RecipientSpec | None, catalogue: dict[str, Any]
) -> dict[str, Any]:
    """Replace the catalogue ids in one configuration row by portable references."""
    if spec is None:
        return row
    if part == "mappings":
        target = str(row.get("target") or "")
        if target.startswith(CUSTOM_PREFIX):
            prefix = CUSTOM_PREFIX + spec.custom_field_prefix
            value = target.removeprefix(CUSTOM_PREFIX).removeprefix(spec.custom_field_prefix)
            key = spec.custom_field_key
            row["target"] = ref_out("custom_fields", value, catalogue, field=key, prefix=prefix)
        manual = manual_field(spec, target)
        if manual and manual.catalogue and row.get("value_kind") == "constant":
            row["source"] = ref_out(manual.catalogue, row.get("source"), catalogue)
    elif part == "tag_rules":
        tags = list_spec(spec, "tag")
        if tags is not None and tags.by != "name":
            row["tag_id"] = ref_out(tags.catalogue, row.get("tag_id"), catalogue)
    elif part == "campaign_rules":
        lst = list_spec(spec, str(row.get("kind")))
        if lst is not None:
            item_id = row.get("item_id")
            row["item_id"] = ref_out(lst.catalogue, item_id, catalogue)
            if lst.item == "campaign_sequence":
                campaign = entry_by(entries(catalogue, lst.catalogue), "id", item_id) or {}
                row["sequence_id"] = ref_out(
                    "sequences",
                    row.get("sequence_id"),
                    campaign,
                    parent=campaign.get("name", ""),
                )
                row["sequence_id"][REF] = f"{lst.catalogue}.sequences"
    return row


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# --- import ---------------------------------------------------------------------------


@dataclass
class ImportPlan:
    """An import, resolved against the target accounts, not yet saved."""

    flow: dict[str, Any] | None
    steps: list[dict[str, Any]]
    accounts: dict[str, Account]  # CRM kind -> the target account
    resolution: Resolution = field(default_factory=lambda: Resolution([], []))
    missing_accounts: list[str] = field(default_factory=list)  # CRMs with no account


def transfer_read(raw: bytes | str) -> dict[str, Any]:
    """Parse and check an exported file. Raises TransferError with a readable message."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise TransferError("The file is not JSON: choose a file exported by LeadFlow.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TransferError("The file is not a LeadFlow configuration export.")
    if data.get("version") != FORMAT_VERSION:
        raise TransferError(f"Export format version {data.get('version')!r} is not supported.")
    steps = data.get("steps")
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise TransferError("The file lists no steps.")
    return data


def transfer_plan(*, data: dict[str, Any], accounts: Mapping[str, Account]) -> ImportPlan:
    """Match every id in `data` by name against the catalogue of the target account of
    its CRM. Reads only: nothing is saved."""
    plan = ImportPlan(flow=data.get("flow"), steps=[], accounts=dict(accounts))
    for raw in data["steps"]:
        crm = str(raw.get("crm") or "")
        account = accounts.get(crm)
        if crm and account is None:
            if crm not in plan.missing_accounts:
                plan.missing_accounts.append(crm)
            continue
        catalogue = account.catalogue if account else {}
        step = {k: _resolve(v, catalogue, plan.resolution) for k, v in raw.items()}
        plan.steps.append(step)
    return plan


def _resolve(value: Any, catalogue: dict[str, Any], resolution: Resolution) -> Any:
    if is_ref(value):
        new = ref_in(value, catalogue, resolution)
        if new is None:
            return None
        return f"{value.get('prefix', '')}{new}"
    if isinstance(value, list):
        items = [_resolve(v, catalogue, resolution) for v in value]
        return [i for i in items if i is not _DROP]
    if isinstance(value, dict):
        out = {k: _resolve(v, catalogue, resolution) for k, v in value.items()}
        if any(is_ref(v) and out[k] is None for k, v in value.items()):
            return _DROP  # a row naming an entry the target account does not have
        return out
    return value


def transfer_apply(*, plan: ImportPlan, flow: Flow | None = None, user: Any = None) -> Flow:
    """Save the planned steps: into `flow` (appended), or into a new flow named as the
    exported one. Each step starts with a version saying it was imported."""
    columns = {f.name for f in Step._meta.concrete_fields} - _STEP_SKIP
    with transaction.atomic():
        if flow is None:
            name = str((plan.flow or {}).get("name") or "Imported flow")
            if Flow.objects.filter(name=name).exists():
                name = f"{name} (imported)"
            flow = Flow.objects.create(
                name=name[:120], description=str((plan.flow or {}).get("description") or "")
            )
        offset = (flow.steps.order_by("-position").values_list("position", flat=True).first()) or 0
        for data in plan.steps:
            step = Step(flow=flow, **{k: v for k, v in data.items() if k in columns})
            step.account = plan.accounts.get(str(data.get("crm") or ""))
            if offset:
                step.position = offset + int(data.get("position") or 0)
            step.save()
            for name in STEP_FOLLOW:
                part_model = getattr(Step, name).rel.related_model
                part_columns = {f.name for f in part_model._meta.concrete_fields} - _PART_SKIP
                part_model.objects.bulk_create(
                    part_model(step=step, **{k: v for k, v in row.items() if k in part_columns})
                    for row in data.get(name) or []
                )
            step_version_save(step=step, user=user, comment="Imported from a configuration file")
    return flow
