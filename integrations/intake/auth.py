"""Inbound API keys: `X-Api-Key: <key>` or `Authorization: Bearer <key>`."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.http import HttpRequest

from integrations.models import Flow, Source, Step, StepKind
from integrations.secrets import digest


@dataclass(frozen=True)
class IntakeTarget:
    """What intake needs to store a lead: who sent it and where it goes first."""

    source_id: int
    flow_id: int
    rate_limit_per_minute: int | None
    first_step_id: int | None


def presented_key(request: HttpRequest) -> str:
    key = request.headers.get("X-Api-Key", "")
    if not key:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            key = value
    return key.strip()


def intake_target(key: str, *, flow_id: int) -> IntakeTarget | None:
    """The active source of an active flow owning `key`, with the flow's first
    recipient step: one indexed query.

    Written in SQL because it is the intake hot path: building the equivalent ORM
    query (a join and a correlated subquery) cost more CPU than running it.
    """
    if not key:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_TARGET_SQL, [StepKind.RECIPIENT, digest(key), flow_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return IntakeTarget(
        source_id=row[0], flow_id=flow_id, rate_limit_per_minute=row[1], first_step_id=row[2]
    )


_TARGET_SQL = f"""
SELECT s.id, s.rate_limit_per_minute,
       (SELECT st.id FROM {Step._meta.db_table} st
         WHERE st.flow_id = s.flow_id AND st.enabled AND st.kind = %s
         ORDER BY st.position, st.id LIMIT 1)
  FROM {Source._meta.db_table} s JOIN {Flow._meta.db_table} f ON f.id = s.flow_id
 WHERE s.key_digest = %s AND s.flow_id = %s AND s.active AND f.active
"""


def flow_ids_for_key(key: str) -> list[int]:
    """Every flow the key may read leads of."""
    if not key:
        return []
    return list(
        Source.objects.filter(key_digest=digest(key), active=True).values_list("flow_id", flat=True)
    )


def target_for_source(source: Source) -> IntakeTarget:
    """The intake target of a known source (for replays and tests, not the hot path)."""
    from integrations.delivery.flow import next_recipient_step

    step = next_recipient_step(flow_id=source.flow_id, after_position=None)
    return IntakeTarget(
        source_id=source.pk,
        flow_id=source.flow_id,
        rate_limit_per_minute=source.rate_limit_per_minute,
        first_step_id=step.pk if step else None,
    )
