"""Reading a step's mapping configuration and a lead's context from the database.

The one module of integrations.mapping that queries: everything else is pure. The
delivery engine calls delivery_map; a preview calls step_config_load and
lead_context_load and then step_map itself (with explain=True).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from integrations.models import Delivery, Lead, Step

from .context import StepResult, SystemFields, lead_context, step_key
from .step_config import StepConfig, action_config, mapping_config, step_config
from .step_map import MappedStep, step_map


def step_config_load(*, step: Step) -> StepConfig:
    """The step's configuration with its mappings, tag and campaign rules (3 queries)."""
    account = step.account
    region = step.flow.phone_region or (account.phone_region if account else "") or "US"
    mappings = [
        mapping_config(
            kind=m.value_kind,
            source=m.source,
            target=m.target,
            rules=m.rules,
            on_existing=m.on_existing,
            on_invalid=m.on_invalid,
        )
        for m in step.mappings.all()
    ]
    actions = [
        action_config(kind="tag", item_id=t.tag_id, action=t.action, name=t.name, rules=t.rules)
        for t in step.tag_rules.all()
    ] + [
        action_config(
            kind=c.kind,
            item_id=c.item_id,
            action=c.action,
            sequence_id=c.sequence_id,
            name=c.name,
            rules=c.rules,
        )
        for c in step.campaign_rules.all()
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


def lead_context_load(
    *, lead: Lead, before_step: Step | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The lead's context: its fields, system fields, and the outcomes of its earlier
    deliveries (all those with an outcome, other than `before_step`'s)."""
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


def delivery_map(*, delivery: Delivery) -> MappedStep:
    """Map a delivery's lead for its step (the engine's one call into mapping)."""
    config = step_config_load(step=delivery.step)
    context = lead_context_load(lead=delivery.lead, before_step=delivery.step)
    return step_map(config=config, context=context)
