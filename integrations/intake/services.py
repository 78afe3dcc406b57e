"""Storing a lead: the lead row and its first delivery in one transaction (the outbox)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from integrations.delivery.enqueue import delivery_enqueue_on_commit
from integrations.models import Delivery, DeliveryStatus, Lead, LeadStatus, time_ordered_uuid

from .auth import IntakeTarget


@dataclass(frozen=True)
class Accepted:
    lead_id: str
    replayed: bool  # an Idempotency-Key repeat: the first lead, nothing new stored

    @property
    def api_path(self) -> str:
        return f"/api/v1/leads/{self.lead_id}"


def lead_accept(
    *,
    target: IntakeTarget,
    payload: dict[str, Any],
    fields: dict[str, Any],
    idempotency_key: str | None,
) -> Accepted:
    """Store the lead and its first delivery atomically, enqueue it after commit.

    With an idempotency key seen before (from the same source, within 24 h), returns
    the first lead and stores nothing. Raises DatabaseError when storing fails.
    """
    if idempotency_key:
        existing = _replay(target, idempotency_key)
        if existing:
            return existing
    raw_email = fields.get("email")
    email = raw_email if isinstance(raw_email, str) else ""
    row = {
        "id": time_ordered_uuid(),
        "flow_id": target.flow_id,
        "source_id": target.source_id,
        "payload": payload,
        "fields": fields,
        "email": email[:254],
        "idempotency_key": idempotency_key or None,
        "status": LeadStatus.QUEUED if target.first_step_id else LeadStatus.DONE,
        "received_at": timezone.now(),
    }
    try:
        if connection.vendor == "postgresql":
            delivery_id = _insert_in_one_statement(row, target.first_step_id)
        else:
            delivery_id = _insert_with_orm(row, target.first_step_id)
    except IntegrityError:
        # Two requests raced with the same idempotency key: the other one won.
        existing = _replay(target, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing
    if delivery_id is not None:
        delivery_enqueue_on_commit(delivery_id=delivery_id)
    return Accepted(str(row["id"]), replayed=False)


def _replay(target: IntakeTarget, key: str) -> Accepted | None:
    lead_id = (
        Lead.objects.filter(source_id=target.source_id, idempotency_key=key)
        .values_list("pk", flat=True)
        .first()
    )
    return Accepted(str(lead_id), replayed=True) if lead_id else None


def _insert_with_orm(row: dict[str, Any], step_id: int | None) -> int | None:
    with transaction.atomic():
        lead = Lead.objects.create(**row)
        if step_id is None:
            return None
        return Delivery.objects.create(lead=lead, step_id=step_id, created_at=row["received_at"]).pk


def _insert_in_one_statement(row: dict[str, Any], step_id: int | None) -> int | None:
    """PostgreSQL: the lead and its delivery in ONE statement (a data-modifying CTE).

    A single statement is atomic by itself, so this saves the BEGIN/COMMIT round trips
    and two ORM insert builds on the intake hot path (measured: about 4x less CPU
    per lead than the ORM path; see `make bench`). Same rows, same constraints.
    """
    lead_table, delivery_table = Lead._meta.db_table, Delivery._meta.db_table
    params = [
        row["id"],
        row["flow_id"],
        row["source_id"],
        json.dumps(row["payload"], cls=DjangoJSONEncoder),
        json.dumps(row["fields"], cls=DjangoJSONEncoder),
        row["email"],
        row["status"],
        row["idempotency_key"],
        row["received_at"],
    ]
    # Only table names (from the models) are formatted in; values are bound parameters.
    insert_lead = (
        f"INSERT INTO {lead_table} (id, flow_id, source_id, payload, fields, email, status,"  # noqa: S608
        " idempotency_key, received_at) VALUES (%s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s)"
    )
    with connection.cursor() as cursor:
        if step_id is None:
            cursor.execute(insert_lead, params)
            return None
        cursor.execute(
            f"WITH lead AS ({insert_lead} RETURNING id) "  # noqa: S608
            f"INSERT INTO {delivery_table} (lead_id, step_id, status, outcome, reason, contact_id,"
            " duplicate, response_ms, attempt_count, next_attempt_at, lease_owner,"
            " lease_expires_at, created_at, finished_at)"
            " SELECT id, %s, %s, '', '', '', NULL, NULL, 0, %s, '', NULL, %s, NULL FROM lead"
            " RETURNING id",
            [*params, step_id, DeliveryStatus.PENDING, row["received_at"], row["received_at"]],
        )
        return cursor.fetchone()[0]
