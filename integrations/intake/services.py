"""Storing a lead: the lead row and its first delivery in one transaction (the outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from integrations.delivery.enqueue import delivery_enqueue_on_commit
from integrations.delivery.flow import next_recipient_step
from integrations.models import Delivery, Lead, LeadStatus, Source


@dataclass(frozen=True)
class Accepted:
    lead: Lead
    replayed: bool  # an Idempotency-Key repeat: the first lead, nothing new stored


def lead_accept(
    *, source: Source, payload: dict[str, Any], fields: dict[str, Any], idempotency_key: str | None
) -> Accepted:
    """Store the lead and its first delivery, enqueue it after commit.

    With an idempotency key seen before (from the same source, within 24 h), returns
    the first lead and stores nothing. Raises DatabaseError when storing fails.
    """
    if idempotency_key:
        existing = Lead.objects.filter(source=source, idempotency_key=idempotency_key).first()
        if existing is not None:
            return Accepted(existing, replayed=True)
    first_step = next_recipient_step(flow_id=source.flow_id, after_position=None)
    email = fields.get("email") if isinstance(fields.get("email"), str) else ""
    try:
        with transaction.atomic():
            lead = Lead.objects.create(
                flow_id=source.flow_id,
                source=source,
                payload=payload,
                fields=fields,
                email=email[:254],
                idempotency_key=idempotency_key or None,
                status=LeadStatus.QUEUED if first_step else LeadStatus.DONE,
            )
            if first_step is not None:
                delivery = Delivery.objects.create(lead=lead, step=first_step)
                delivery_enqueue_on_commit(delivery_id=delivery.pk)
    except IntegrityError:
        # Two requests raced with the same idempotency key: the other one won.
        if not idempotency_key:
            raise
        existing = Lead.objects.filter(source=source, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return Accepted(existing, replayed=True)
    return Accepted(lead, replayed=False)
