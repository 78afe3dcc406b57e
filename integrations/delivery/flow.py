"""Moving a lead through its flow: the next step's delivery, or the lead's end.

Runs inside the transaction that records an outcome, so the next delivery row and
the outcome commit together (the outbox never loses a step).
"""

from __future__ import annotations

from datetime import datetime

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


def next_recipient_step(*, flow_id: int, after_position: int | None) -> Step | None:
    """The first enabled recipient step after `after_position` (None: the first one).

    Filter steps are evaluated by the delivery engine as they are reached; until
    filters exist, the flow goes straight to the next recipient.
    """
    steps = Step.objects.filter(flow_id=flow_id, enabled=True, kind=StepKind.RECIPIENT)
    if after_position is not None:
        steps = steps.filter(position__gt=after_position)
    return steps.order_by("position", "pk").first()


def flow_advance(*, delivery: Delivery, now: datetime) -> Delivery | None:
    """After `delivery` has its outcome: create and enqueue the next step's delivery,
    or mark the lead done. Returns the new delivery, if any."""
    step = delivery.step
    stop = step.on_error == OnError.STOP and delivery.outcome != Outcome.SUCCESS
    next_step = (
        None if stop else next_recipient_step(flow_id=step.flow_id, after_position=step.position)
    )
    if next_step is None:
        Lead.objects.filter(pk=delivery.lead_id).update(status=LeadStatus.DONE, finished_at=now)
        return None
    created, _ = Delivery.objects.get_or_create(lead_id=delivery.lead_id, step=next_step)
    delivery_enqueue_on_commit(delivery_id=created.pk)
    return created
