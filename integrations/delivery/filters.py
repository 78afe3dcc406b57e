"""Filter steps: rules on the lead and on earlier steps' results that stop the flow,
or stop it and send the lead on to another flow (as a new lead linked to this one).

Rules are the mapping studio's (integrations.mapping.rules), evaluated on the same
context templates see: `lead.*`, `system.*` and, for every earlier step that has an
outcome, `<step key>.outcome|contact_id|duplicate|reason` — so the seeds' "stop when
keap.outcome is not success" is `{"field": "keap.outcome", "operator": "ne", "value":
"success"}`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from integrations.mapping.context import (
    StepResult,
    SystemFields,
    lead_context,
    step_key,
)
from integrations.mapping.rules import RuleError, rules_evaluate, ruleset_from_data
from integrations.models import Delivery, FilterAction, Lead, LeadStatus, Step

log = logging.getLogger(__name__)

# A lead routed on from flow to flow more often than this is stopped: two filters
# sending leads to each other's flows must not loop for ever.
MAX_ROUTES = 5


@dataclass(frozen=True)
class FlowStop:
    """Where and why a lead's flow stopped; `route_flow_id`: the flow it goes on to."""

    step: Step
    reason: str
    route_flow_id: int | None = None


def filter_reason(step: Step) -> str:
    return (step.filter_reason or f"stopped by filter: {step.name}")[:200]


def filter_check(*, step: Step, context: dict[str, Any]) -> FlowStop | None:
    """The stop a filter step decides for this context, or None to let the lead on.
    A filter whose rules no longer validate stops the flow (a broken filter must
    not wave every lead through)."""
    try:
        holds = rules_evaluate(ruleset_from_data(step.rules or {}), context)
    except RuleError:
        log.warning("filter step %s has invalid rules; stopping the flow", step.pk)
        return FlowStop(step, "filter rules are invalid")
    if not holds:
        return None
    route = step.route_flow_id if step.filter_action == FilterAction.ROUTE else None
    return FlowStop(step, filter_reason(step), route)


def flow_context(*, lead: Lead, now: datetime) -> dict[str, Any]:
    """The rule context for a lead: its fields, system fields, and the results of
    the steps it has finished."""
    finished = (
        Delivery.objects.filter(lead=lead)
        .exclude(outcome="")
        .select_related("step")
        .order_by("step__position", "pk")
    )
    steps = {
        step_key(d.step.name): StepResult(
            outcome=d.outcome, contact_id=d.contact_id, duplicate=d.duplicate, reason=d.reason
        )
        for d in finished
    }
    system = SystemFields(
        lead_id=str(lead.pk),
        received_at=lead.received_at,
        flow=lead.flow.name,
        flow_id=lead.flow_id,
        source=lead.source.name,
        now=now,
    )
    return lead_context(fields=lead.fields or {}, system=system, steps=steps)


def lead_stop(*, lead: Lead, stop: FlowStop, now: datetime) -> Lead | None:
    """Record where the lead's flow stopped and why, and end it; when the stop routes
    the lead, create the routed lead (and its first delivery). Returns the routed
    lead. Runs inside the caller's transaction; safe to call twice for one lead."""
    Lead.objects.filter(pk=lead.pk).update(
        status=LeadStatus.DONE, finished_at=now, stopped_at=stop.step, stop_reason=stop.reason
    )
    if stop.route_flow_id is None or Lead.objects.filter(routed_from=lead).exists():
        return None
    if _route_depth(lead) >= MAX_ROUTES:
        Lead.objects.filter(pk=lead.pk).update(stop_reason="too many routes between flows")
        return None
    from .flow import flow_start  # flow imports this module

    routed = Lead.objects.create(
        flow_id=stop.route_flow_id,
        source_id=lead.source_id,  # where it first came from
        payload=lead.payload,
        fields=lead.fields,
        email=lead.email,
        routed_from=lead,
        received_at=now,
    )
    flow_start(lead=routed, now=now)
    return routed


def _route_depth(lead: Lead) -> int:
    depth, current = 0, lead.routed_from_id
    while current is not None and depth < MAX_ROUTES:
        depth += 1
        current = Lead.objects.filter(pk=current).values_list("routed_from_id", flat=True).first()
    return depth
