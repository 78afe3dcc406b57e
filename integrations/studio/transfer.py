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
from integrations.models import Account, FieldMapping, Flow, Step

from .refs import (
    CUSTOM_PREFIX,
    REF,
    Resolution,
    entries,
    entry_by,
    is_ref,
    list_store,
    list_values,
    ref_in,
    ref_out,
    step_recipient_spec,
)
from .versions import STEP_FOLLOW, step_version_save

FORMAT = "leadflow.configuration"
FORMAT_VERSION = 1
_STEP_SKIP = {"id", "flow", "account"}
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
    for lst in spec.lists if spec else ():
        if lst.by == "name":
            continue
        values = list_values(step, lst)
        exported = [_list_item_out(lst.catalogue, lst.item, v, catalogue) for v in values]
        if lst.key in ("tag_ids", "sequences"):
            data[lst.key] = exported
        elif values:
            data["options"] = {**data.get("options", {}), lst.key: exported}
    key = spec.custom_field_key if spec else "id"
    for name in STEP_FOLLOW:
        rows = []
        for part in getattr(step, name).all():
            row = {
                f.name: _jsonable(getattr(part, f.attname))
                for f in part._meta.concrete_fields
                if f.name not in _PART_SKIP
            }
            target = str(row.get("target") or "")
            if target.startswith(CUSTOM_PREFIX):
                value = target.removeprefix(CUSTOM_PREFIX)
                row["target"] = ref_out(
                    "custom_fields", value, catalogue, field=key, prefix=CUSTOM_PREFIX
                )
            rows.append(row)
        data[name] = rows
    return data


def _list_item_out(catalogue_name: str, item: str, value: Any, catalogue: dict[str, Any]) -> Any:
    if item == "value":
        return ref_out(catalogue_name, value, catalogue)
    if not isinstance(value, dict):
        return value
    campaign_id = value.get("campaign_id")
    out = {**value, "campaign_id": ref_out(catalogue_name, campaign_id, catalogue)}
    if item == "campaign_sequence":
        campaign = entry_by(entries(catalogue, catalogue_name), "id", campaign_id) or {}
        out["sequence_id"] = ref_out(
            "sequences", value.get("sequence_id"), campaign, parent=campaign.get("name", "")
        )
        out["sequence_id"][REF] = f"{catalogue_name}.sequences"
    return out


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
        for name in STEP_FOLLOW:
            step[name] = [r for r in step.get(name) or [] if r is not _DROP and r.get("target")]
        plan.steps.append(step)
    return plan


def _resolve(value: Any, catalogue: dict[str, Any], resolution: Resolution) -> Any:
    if is_ref(value):
        new = ref_in(value, catalogue, resolution)
        if new is None:
            return None
        return f"{value.get('prefix', '')}{new}" if value.get("prefix") else new
    if isinstance(value, list):
        items = [_resolve(v, catalogue, resolution) for v in value]
        return [i for i in items if i is not None and i is not _DROP]
    if isinstance(value, dict):
        out = {k: _resolve(v, catalogue, resolution) for k, v in value.items()}
        refs = [k for k, v in value.items() if is_ref(v)]
        if any(out[k] is None for k in refs) and "target" not in value:
            return _DROP  # a campaign / sequence pair with an unmatched half
        if "target" in value and out.get("target") is None:
            return _DROP  # a mapping to an unmatched custom field
        return out
    return value


def transfer_apply(*, plan: ImportPlan, flow: Flow | None = None, user: Any = None) -> Flow:
    """Save the planned steps: into `flow` (appended), or into a new flow named as the
    exported one. Each step starts with a version saying it was imported."""
    columns = {f.name for f in Step._meta.concrete_fields} - {"id", "flow", "account"}
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
            spec = step_recipient_spec(step)
            for lst in spec.lists if spec else ():
                list_store(step, lst, list_values(step, lst))
            step.save()
            for row in data.get("mappings") or []:
                part_columns = {f.name for f in FieldMapping._meta.concrete_fields} - {"id", "step"}
                FieldMapping.objects.create(
                    step=step, **{k: v for k, v in row.items() if k in part_columns}
                )
            step_version_save(step=step, user=user, comment="Imported from a configuration file")
    return flow
