"""Moving a lead through its flow: the next step's delivery, a filter's stop (or its
route to another flow), or the lead's end.

Runs inside the transaction that records an outcome, so the next delivery row and
the outcome commit together (the outbox never loses a step).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from django.db import transaction

from integrations.models import (
    Delivery,
    Lead,
    LeadStatus,
    OnError,
    Outcome,
    Step,
    StepKind,
)

from .enqueue import delivery_enqueue_on_commit
from .filters import FlowStop, filter_check, flow_context, lead_stop
from .rows import Statement, column, prep, rows_batch, update_statement


def next_recipient_step(*, flow_id: int, after_position: int | None) -> Step | None:
    """The first enabled recipient step after `after_position` (None: the first one),
    as intake picks a lead's first delivery; filters before it run in flow_gate."""
    steps = Step.objects.filter(flow_id=flow_id, enabled=True, kind=StepKind.RECIPIENT)
    if after_position is not None:
        steps = steps.filter(position__gt=after_position)
    return steps.order_by("position", "pk").first()


def flow_next(*, lead: Lead, after_position: int | None, now: datetime) -> Step | FlowStop | None:
    """Walk the enabled steps after `after_position` (None: from the start): each
    filter on the way is evaluated. Returns the next recipient step, the stop a filter
    decided, or None when the flow has no more steps."""
    steps = Step.objects.filter(flow_id=lead.flow_id, enabled=True)
    if after_position is not None:
        steps = steps.filter(position__gt=after_position)
    context = None
    for step in steps.order_by("position", "pk"):
        if step.kind == StepKind.RECIPIENT:
            return step
        context = context if context is not None else flow_context(lead=lead, now=now)
        stop = filter_check(step=step, context=context)
        if stop is not None:
            return stop
    return None


def flow_advance(
    *, delivery: Delivery, now: datetime, later_steps: bool | None = None
) -> Delivery | None:
    """After `delivery` has its outcome: create and enqueue the next step's delivery,
    or stop the lead (a filter, or a step that stops unless it succeeds), or mark it
    done. Returns the new delivery, if any. `later_steps=False`: the caller read that
    no enabled step follows this one (the lead is then done in one UPDATE)."""
    if flow_ends_after(delivery=delivery, later_steps=later_steps):
        lead_finish(lead_id=delivery.lead_id, now=now)
        return None
    step = delivery.step
    lead = Lead.objects.select_related("flow", "source").get(pk=delivery.lead_id)
    if lead.stopped_at_id is not None:  # stopped before this step ran (flow_gate)
        return None
    if _stops_flow(delivery):
        reason = f"{step.name}: {delivery.outcome}"
        lead_stop(lead=lead, stop=FlowStop(step, reason[:200]), now=now)
        return None
    return _go(lead, flow_next(lead=lead, after_position=step.position, now=now), now)


def flow_ends_after(*, delivery: Delivery, later_steps: bool | None) -> bool:
    """Whether flow_advance only marks the lead done (one UPDATE, no read): no enabled
    step follows (`later_steps=False`, as the caller read it) and the step does not stop
    the flow on this outcome."""
    return later_steps is False and not _stops_flow(delivery)


def _stops_flow(delivery: Delivery) -> bool:
    """The step stops the flow unless it succeeds, and it did not."""
    return delivery.step.on_error == OnError.STOP and delivery.outcome != Outcome.SUCCESS


def flow_start(*, lead: Lead, now: datetime) -> Delivery | None:
    """Start a lead that did not come through intake (one a filter routed here)."""
    return _go(lead, flow_next(lead=lead, after_position=None, now=now), now)


def flow_gate(*, delivery: Delivery, now: datetime, filters_before: bool | None = None) -> bool:
    """Whether the delivery may run. Intake creates a lead's first delivery without
    evaluating the filters placed before it (the hot path stays in SQL): they are
    evaluated here, when it is first worked. False: the lead was stopped (now, or
    before), and the delivery should be recorded without a CRM call.
    `filters_before`: whether enabled filter steps precede the step, when the caller
    has read it already (None: look)."""
    lead = delivery.lead
    if lead.stopped_at_id is not None:
        return False
    step = delivery.step
    if filters_before is None:
        filters_before = Step.objects.filter(
            flow_id=step.flow_id, enabled=True, kind=StepKind.FILTER, position__lt=step.position
        ).exists()
    if not filters_before:
        return True
    found = flow_next(lead=lead, after_position=None, now=now)
    if not isinstance(found, FlowStop):
        return True
    with transaction.atomic():
        lead_stop(lead=lead, stop=found, now=now)
    return False


def _go(lead: Lead, found: Step | FlowStop | None, now: datetime) -> Delivery | None:
    if isinstance(found, Step):
        created, _ = Delivery.objects.get_or_create(lead_id=lead.pk, step=found)
        delivery_enqueue_on_commit(delivery_id=created.pk)
        return created
    if isinstance(found, FlowStop):
        lead_stop(lead=lead, stop=found, now=now)
        return None
    lead_finish(lead_id=lead.pk, now=now)
    return None


def lead_finish(*, lead_id: Any, now: datetime) -> None:
    """The lead went through its whole flow (unless a filter stopped it meanwhile)."""
    rows_batch([lead_finish_statement(lead_id=lead_id, now=now)])


def lead_finish_statement(*, lead_id: Any, now: datetime) -> Statement:
    """The UPDATE of `lead_finish`, in plain SQL: the engine sends it with the outcome
    (see .rows)."""
    return update_statement(
        Lead,
        {"status": LeadStatus.DONE, "finished_at": now},
        where=_unstopped_lead(),
        params=[prep(Lead, "id", lead_id)],
    )


@cache
def _unstopped_lead() -> str:
    return f"{column(Lead, 'id')} = %s AND {column(Lead, 'stopped_at')} IS NULL"
