"""Small factories: the rows a test needs, with sensible defaults."""

from __future__ import annotations

from django.conf import settings

from integrations.intake.keys import source_create
from integrations.models import (
    Account,
    AccountStatus,
    AuthType,
    CrmKind,
    FieldMapping,
    Flow,
    Recipient,
    Step,
)


def keap_account(**overrides) -> Account:
    fields = {
        "name": "Keap test",
        "crm": CrmKind.KEAP,
        "auth_type": AuthType.API_KEY,
        "api_key": settings.SANDBOX_KEAP_API_KEY,
        "status": AccountStatus.CONNECTED,
    }
    fields.update(overrides)
    return Account.objects.create(**fields)


def flow_with_step(
    *, account: Account | None = None, recipient: str = Recipient.KEAP_REST, mappings=(), **step
) -> tuple[Flow, Step, str]:
    """A flow with one recipient step and one source. Returns (flow, step, api key)."""
    flow = Flow.objects.create(name=step.pop("flow_name", "Test flow"))
    account = account or keap_account()
    step_fields = {"name": "Deliver", "position": 1, "account": account, "recipient": recipient}
    step_fields.update(step)
    created = Step.objects.create(flow=flow, **step_fields)
    for source, target in mappings:
        FieldMapping.objects.create(step=created, source=source, target=target)
    _, key = source_create(flow=flow, name="Test source")
    return flow, created, key


FULL_LEAD = {
    "first_name": "Ann",
    "middle_name": "Q",
    "last_name": "Lee",
    "suffix": "Jr",
    "email": "ann.lee@example.com",
    "phone_1": "(602) 555-0101",
    "phone_2": "+1 480 555 0102",
    "phone_3": "623-555-0103",
    "address_1": "1 Main St",
    "address_2": "Suite 5",
    "city": "Phoenix",
    "state": "AZ",
    "postal_code": "85001",
    "website": "https://ann.example.com",
    "comments": "Wants a call after 5pm",
    "title": "CTO",
    "dob": "1990-09-25",
}


def accept_lead(flow: Flow, fields: dict, *, enqueue: bool = True):
    """Store a lead as intake does (returns the Lead). enqueue=False loses the broker
    message, as a crash between commit and publish would."""
    from unittest import mock

    from integrations.intake.auth import target_for_source
    from integrations.intake.services import lead_accept
    from integrations.models import Lead

    target = target_for_source(flow.sources.get())
    if enqueue:
        accepted = lead_accept(target=target, payload=fields, fields=fields, idempotency_key=None)
    else:
        with mock.patch("integrations.delivery.enqueue.transaction.on_commit"):
            accepted = lead_accept(
                target=target, payload=fields, fields=fields, idempotency_key=None
            )
    return Lead.objects.get(pk=accepted.lead_id)


def highlevel_account(**overrides) -> Account:
    fields = {
        "name": "HighLevel test",
        "crm": CrmKind.HIGHLEVEL,
        "auth_type": AuthType.API_KEY,
        "api_key": settings.SANDBOX_HIGHLEVEL_TOKEN,
        "external_id": settings.SANDBOX_HIGHLEVEL_LOCATION_ID,
        "status": AccountStatus.CONNECTED,
    }
    fields.update(overrides)
    return Account.objects.create(**fields)


def finished_delivery(
    step: Step,
    *,
    outcome: str,
    reason: str = "",
    duplicate: bool | None = None,
    response_ms: int | None = None,
    finished_at=None,
    email: str = "",
    contact_id: str = "",
):
    """A lead with one delivery that already has its final outcome (no CRM involved).
    Returns the Delivery. Counters are not touched: record them as the engine would
    with `integrations.health.counters.counters_record`."""
    from django.utils import timezone

    from integrations.models import Delivery, DeliveryStatus, Lead, LeadStatus

    finished_at = finished_at or timezone.now()
    source = step.flow.sources.first()
    lead = Lead.objects.create(
        flow=step.flow,
        source=source,
        payload={"email": email},
        fields={"email": email},
        email=email,
        status=LeadStatus.DONE,
        received_at=finished_at,
        finished_at=finished_at,
    )
    return Delivery.objects.create(
        lead=lead,
        step=step,
        status=DeliveryStatus.DONE,
        outcome=outcome,
        reason=reason,
        duplicate=duplicate,
        response_ms=response_ms,
        contact_id=contact_id,
        attempt_count=1,
        created_at=finished_at,
        finished_at=finished_at,
    )
