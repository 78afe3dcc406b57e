"""Reading a step's mapping configuration and a lead's context from the database.

The one module of integrations.mapping that queries: everything else is pure. The
delivery engine calls delivery_map; a preview calls step_config_load and
lead_context_load and then step_map itself (with explain=True).

The engine keeps each step's StepConfig for the life of the worker process and reuses
the same object while the configuration is unchanged (step_map may keep compiled work
on it). "Unchanged" is decided on content, never on time or on a version someone must
remember to bump: every delivery reads the step's configuration rows (its mappings,
tag and campaign rules: one small query) and the columns of the step, flow and
account that the configuration is built from (STEP_CONFIG_COLUMNS..., which the engine
reads with the delivery), raw as the database returns them, and rebuilds the
StepConfig when any of them differs from what the cached one was built from. An edit
is thus picked up by the next delivery, whoever made it and however.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection
from django.utils import timezone

from integrations.models import CampaignRule, Delivery, FieldMapping, Lead, Step, TagRule

from .context import StepResult, SystemFields, lead_context, step_key
from .step_config import StepConfig, action_config, mapping_config, step_config
from .step_map import MappedStep, step_map

# What a StepConfig is built from besides the step's rows below: these columns (model
# attnames) of the step, its flow and its account. Keep in step with _config_build.
STEP_CONFIG_COLUMNS = (
    "id",
    "name",
    "recipient",
    "rules",
    "standard_fields_off",
    "options",
    "action",
    "duplicate_match",
    "address_type",
    "account_id",
    "flow_id",
)
FLOW_CONFIG_COLUMNS = ("phone_region",)
ACCOUNT_CONFIG_COLUMNS = ("phone_region", "catalogue")

# One row per configuration row of a step: (part, id, position, a, b, c, d, e, rules),
# part "m" (mapping: value_kind, source, target, on_existing, on_invalid), "t" (tag
# rule: action, tag_id, name) or "c" (campaign rule: kind, item_id, action,
# sequence_id, name); in the order step_config_load reads them.
PartRow = tuple[Any, ...]


def step_config_load(*, step: Step) -> StepConfig:
    """The step's configuration with its mappings, tag and campaign rules (3 queries)."""
    rows: list[PartRow] = [
        ("m", m.pk, m.position, m.value_kind, m.source, m.target, m.on_existing, m.on_invalid)
        + (m.rules,)
        for m in step.mappings.all()
    ]
    rows += [
        ("t", t.pk, t.position, t.action, t.tag_id, t.name, "", "", t.rules)
        for t in step.tag_rules.all()
    ]
    rows += [
        ("c", c.pk, c.position, c.kind, c.item_id, c.action, c.sequence_id, c.name, c.rules)
        for c in step.campaign_rules.all()
    ]
    return _config_build(step, rows)


def _config_build(step: Step, rows: Sequence[PartRow]) -> StepConfig:
    account = step.account
    region = step.flow.phone_region or (account.phone_region if account else "") or "US"
    mappings = [
        mapping_config(
            kind=kind, source=source, target=target, rules=rules, on_existing=oe, on_invalid=oi
        )
        for part, _, _, kind, source, target, oe, oi, rules in rows
        if part == "m"
    ]
    actions = [
        action_config(kind="tag", item_id=tag_id, action=action, name=name, rules=rules)
        for part, _, _, action, tag_id, name, _, _, rules in rows
        if part == "t"
    ] + [
        action_config(
            kind=kind,
            item_id=item_id,
            action=action,
            sequence_id=sequence_id,
            name=name,
            rules=rules,
        )
        for part, _, _, kind, item_id, action, sequence_id, name, rules in rows
        if part == "c"
    ]
    return step_config(
        name=step.name,
        recipient=step.recipient,
        mappings=mappings,
        actions=actions,
        criteria=step.rules,
        standard_off=step.standard_fields_off if isinstance(step.standard_fields_off, list) else (),
        options=step.options if isinstance(step.options, dict) else {},
        catalogue=account.catalogue if account else {},
        phone_region=region,
        action=step.action,
        duplicate_match=step.duplicate_match,
        address_type=step.address_type,
    )


@cache
def step_parts_sql(vendor: str, step: str = "%s") -> str:
    """The query of step_parts_raw; `step`: the SQL of the step's id (three times)."""
    q = connection.ops.quote_name

    def part(model: Any, tag: str, columns: Sequence[str]) -> str:
        meta = model._meta
        cols = ", ".join(q(meta.get_field(c).column) if c else "''" for c in columns)
        position, rules = q(meta.get_field("position").column), q(meta.get_field("rules").column)
        step_id = q(meta.get_field("step").column)
        sql = f"SELECT '{tag}', {q(meta.pk.column)}, {position}, {cols}, {rules}"
        return f"{sql} FROM {q(meta.db_table)} WHERE {step_id} = {step}"

    mapping = ("value_kind", "source", "target", "on_existing", "on_invalid")
    tag = ("action", "tag_id", "name", "", "")
    campaign = ("kind", "item_id", "action", "sequence_id", "name")
    parts = [part(FieldMapping, "m", mapping), part(TagRule, "t", tag)]
    parts.append(part(CampaignRule, "c", campaign))
    return " UNION ALL ".join(parts) + " ORDER BY 1, 3, 2"


def step_parts_raw(*, step_id: int) -> tuple[PartRow, ...]:
    """The step's configuration rows as the database returns them (rules as JSON text),
    in one query: what the cache compares. (Plain SQL: the engine's hot path.)"""
    with connection.cursor() as cursor:
        cursor.execute(step_parts_sql(connection.vendor), [step_id] * 3)
        return tuple(tuple(row) for row in cursor.fetchall())


_cache_lock = threading.Lock()
_cached: dict[int, tuple[tuple[Any, ...], StepConfig]] = {}
_CACHE_MAX = 1000


def step_config_cached(
    *, step: Step, stamp: tuple[Any, ...], parts: tuple[PartRow, ...] | None = None
) -> StepConfig:
    """The step's configuration, the same object as last time while it is unchanged.

    `stamp`: the raw values of STEP_CONFIG_COLUMNS, FLOW_CONFIG_COLUMNS and
    ACCOUNT_CONFIG_COLUMNS as read with `step` (its flow and account attached). One
    query (the step's rows, unless the caller read them already: `parts`, as
    step_parts_raw returns them); the StepConfig is rebuilt only when something differs.
    """
    if parts is None:
        parts = step_parts_raw(step_id=step.pk)
    key = (stamp, parts)
    found = _cached.get(step.pk)
    if found is not None and found[0] == key:
        return found[1]
    rows = [(*row[:-1], _json(row[-1])) for row in parts]
    config = _config_build(step, rows)
    with _cache_lock:
        if len(_cached) >= _CACHE_MAX:
            _cached.clear()
        _cached[step.pk] = (key, config)
    return config


def _json(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str | bytes) else raw


def lead_context_load(
    *,
    lead: Lead,
    before_step: Step | None = None,
    now: datetime | None = None,
    earlier_outcomes: bool = True,
) -> dict[str, Any]:
    """The lead's context: its fields, system fields, and the outcomes of its earlier
    deliveries (all those with an outcome, other than `before_step`'s).
    `earlier_outcomes=False`: the caller knows there are none (no query for them); a
    lead whose flow and source are attached costs no query for their names."""
    steps: dict[str, StepResult] = {}
    if earlier_outcomes:
        done = (
            Delivery.objects.filter(lead_id=lead.pk)
            .exclude(outcome="")
            .order_by("created_at")
            .values_list("step_id", "step__name", "outcome", "contact_id", "duplicate", "reason")
        )
        steps = {
            step_key(name): StepResult(outcome, contact_id, duplicate, reason)
            for step_id, name, outcome, contact_id, duplicate, reason in done
            if before_step is None or step_id != before_step.pk
        }
    if Lead.flow.is_cached(lead) and Lead.source.is_cached(lead):
        flow_name, source_name = lead.flow.name, lead.source.name
    else:
        names = Lead.objects.filter(pk=lead.pk).values_list("flow__name", "source__name").first()
        flow_name, source_name = names or ("", "")
    system = SystemFields(
        lead_id=str(lead.pk),
        received_at=lead.received_at,
        flow=flow_name or "",
        flow_id=lead.flow_id,
        source=source_name or "",
        now=now or timezone.now(),
    )
    fields = lead.fields if isinstance(lead.fields, dict) else {}
    return lead_context(fields=fields, system=system, steps=steps)


def delivery_map(
    *,
    delivery: Delivery,
    config_stamp: tuple[Any, ...] | None = None,
    config_parts: tuple[PartRow, ...] | None = None,
    earlier_outcomes: bool = True,
) -> MappedStep:
    """Map a delivery's lead for its step (the engine's one call into mapping).
    With `config_stamp` (see step_config_cached) the step's configuration comes from
    the per-process cache (`config_parts`: its rows, when the caller read them with the
    delivery); `earlier_outcomes=False` skips that query (see lead_context_load)."""
    step = delivery.step
    if config_stamp is not None:
        config = step_config_cached(step=step, stamp=config_stamp, parts=config_parts)
    else:
        config = step_config_load(step=step)
    context = lead_context_load(
        lead=delivery.lead, before_step=step, earlier_outcomes=earlier_outcomes
    )
    return step_map(config=config, context=context)
