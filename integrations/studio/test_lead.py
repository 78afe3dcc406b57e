"""Send test lead: a real lead through the step's flow, as a source would post it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from integrations.delivery.engine import delivery_attempt
from integrations.intake.auth import target_for_source
from integrations.intake.services import lead_accept
from integrations.models import Delivery, DeliveryStatus, Lead, Step

WAIT_SECONDS = 20.0


class TestLeadError(Exception):
    """The test lead could not be sent (the message says why)."""

    __test__ = False  # not a pytest class


@dataclass(frozen=True)
class TestLeadResult:
    __test__ = False  # not a pytest class

    lead: Lead
    delivery: Delivery | None  # this step's delivery, when the lead has reached it


def step_test_lead_send(*, step: Step, fields: dict[str, Any]) -> TestLeadResult:
    """Store `fields` as a lead of the step's flow (from its first active source) and,
    when this step is where the lead starts, deliver it now rather than waiting for a
    worker (whoever claims the delivery first sends it; it is sent once). Then wait up
    to WAIT_SECONDS for this step's outcome."""
    source = step.flow.sources.filter(active=True).order_by("pk").first()
    if source is None:
        raise TestLeadError("The flow has no active source to send a test lead from.")
    accepted = lead_accept(
        target=target_for_source(source), payload=fields, fields=fields, idempotency_key=None
    )
    lead = Lead.objects.get(pk=accepted.lead_id)
    delivery = Delivery.objects.filter(lead=lead, step=step).first()
    if delivery is not None:
        delivery_attempt(delivery_id=delivery.pk)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        delivery = Delivery.objects.filter(lead=lead, step=step).first()
        if delivery is not None and delivery.status == DeliveryStatus.DONE:
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.25)
    lead.refresh_from_db()
    return TestLeadResult(lead=lead, delivery=delivery)
