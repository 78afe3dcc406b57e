"""Small factories: the rows a test needs, with sensible defaults."""

from __future__ import annotations

import json

from django.conf import settings

from integrations.intake.keys import source_create
from integrations.models import (
    Account,
    AccountStatus,
    AuthType,
    CampaignRule,
    CrmKind,
    FieldMapping,
    Flow,
    Recipient,
    Step,
    TagRule,
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
    *,
    account: Account | None = None,
    recipient: str = Recipient.KEAP_REST,
    mappings=(),
    tags=(),
    campaigns=(),
    **step,
) -> tuple[Flow, Step, str]:
    """A flow with one recipient step and one source. Returns (flow, step, api key).

    `mappings`: (source, target) pairs (a source with "{{" is a template); `tags`: tag
    ids (or, for HighLevel, names) applied always; `campaigns`: CampaignRule fields,
    e.g. {"kind": "keap_sequence", "item_id": "45", "sequence_id": "1"}."""
    flow = Flow.objects.create(name=step.pop("flow_name", "Test flow"))
    account = account or keap_account()
    step_fields = {"name": "Deliver", "position": 1, "account": account, "recipient": recipient}
    step_fields.update(step)
    created = Step.objects.create(flow=flow, **step_fields)
    for position, (source, target) in enumerate(mappings):
        kind = "template" if "{{" in source or "{%" in source else "field"
        FieldMapping.objects.create(
            step=created, value_kind=kind, source=source, target=target, position=position
        )
    for position, tag in enumerate(tags):
        TagRule.objects.create(step=created, tag_id=str(tag), position=position)
    for position, campaign in enumerate(campaigns):
        CampaignRule.objects.create(step=created, position=position, **campaign)
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


def post_lead(client, flow, key, body, *, content_type="application/json", headers=None, query=""):
    """POST `body` to the flow's intake as a source would: a dict or list is sent as
    JSON, a str or bytes as it is."""
    data = (
        json.dumps(body)
        if content_type == "application/json" and not isinstance(body, (str, bytes))
        else body
    )
    return client.post(
        f"/api/v1/flows/{flow.pk}/leads{query}",
        data=data,
        content_type=content_type,
        headers={"X-Api-Key": key, **(headers or {})},
    )


def keap_catalogue(**overrides) -> dict:
    """A Keap account's catalogue as Test connection stores it (the sandbox's ids)."""
    catalogue = {
        "crm": "keap",
        "custom_fields": [
            {"id": 7, "name": "Lead Score", "field_name": "LeadScore", "type": "WholeNumber"},
            {"id": 8, "name": "UTM Campaign", "field_name": "UtmCampaign", "type": "Text"},
            {
                "id": 10,
                "name": "Preferred Contact Date",
                "field_name": "PreferredContactDate",
                "type": "Date",
            },
        ],
        "tags": [
            {"id": 100, "name": "New Lead"},
            {"id": 101, "name": "Website Inquiry"},
            {"id": 103, "name": "Hot Lead"},
        ],
        "campaigns": [
            {
                "id": 45,
                "name": "Lead Nurture",
                "sequences": [{"id": 1, "name": "Welcome"}, {"id": 3, "name": "Follow-up Calls"}],
            }
        ],
        "followup_sequences": [{"id": 200, "name": "Welcome Series"}],
        "action_sets": [{"id": 300, "name": "Hot lead"}],
        "contact_types": ["Lead", "Prospect", "Customer"],
        "lead_sources": [{"id": 1, "name": "Website"}, {"id": 2, "name": "Google Ads"}],
        "owners": [{"id": 1, "name": "Sandbox Admin"}, {"id": 2, "name": "Sam Sales"}],
    }
    catalogue.update(overrides)
    return catalogue


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


def failed_delivery(flow: Flow, fields: dict, *, outcome: str = "failure", reason: str = ""):
    """A lead whose first delivery already ended in `outcome`, with the attempt that
    said so (its request body holds the lead's fields, as a CRM call's does) and its
    health counter. No broker message: the worker never sees it unless something
    enqueues it."""
    import json

    from django.utils import timezone

    from integrations.health.counters import counters_record
    from integrations.models import Attempt, Delivery

    lead = accept_lead(flow, fields, enqueue=False)
    delivery = lead.deliveries.get()
    Attempt.objects.create(
        delivery=delivery,
        number=1,
        method="POST",
        url="https://crm.invalid/contacts",
        request_body=json.dumps(fields),
        request_headers={"Content-Type": "application/json"},
        status_code=400 if outcome == "failure" else 200,
        response_body='{"message": "Invalid"}' if outcome == "failure" else '{"id": 1}',
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        status="done",
        outcome=outcome,
        reason=reason or ("rejected by the CRM" if outcome != "success" else ""),
        contact_id="1" if outcome == "success" else "",
        attempt_count=1,
        finished_at=timezone.now(),
    )
    delivery.refresh_from_db()
    counters_record(delivery=delivery)  # as the engine does with a final outcome
    return delivery


def staff_in_role(role: str, username: str | None = None, password: str = "pw-role-8361"):
    """A staff user (not a superuser) in one of the groups of integrations/roles.py."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(
        username or role.lower(), f"{(username or role).lower()}@example.com", password
    )
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name=role))
    return user
