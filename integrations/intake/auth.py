"""Inbound API keys: `X-Api-Key: <key>` or `Authorization: Bearer <key>`."""

from __future__ import annotations

import time
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


# Per-process memo of recent look-ups: a busy source posts many leads a second, and
# the look-up is a third of intake's database work. Only hits are kept, for a few
# seconds, so a deactivated source, a rotated key or a changed first step applies
# within TARGET_TTL_SECONDS; a wrong key always goes to the database.
TARGET_TTL_SECONDS = 3.0
_targets: dict[tuple[str, int], tuple[float, IntakeTarget]] = {}


def intake_target(key: str, *, flow_id: int) -> IntakeTarget | None:
    """The active source of an active flow owning `key`, with the flow's first
    recipient step (memoised for TARGET_TTL_SECONDS)."""
    if not key:
        return None
    memo_key = (digest(key), flow_id)
    now = time.monotonic()
    hit = _targets.get(memo_key)
    if hit is not None and hit[0] > now:
        return hit[1]
    target = _lookup_target(memo_key[0], flow_id)
    if target is None:
        _targets.pop(memo_key, None)
        return None
    if len(_targets) > 10_000:
        _targets.clear()
    _targets[memo_key] = (now + TARGET_TTL_SECONDS, target)
    return target


def _lookup_target(key_digest: str, flow_id: int) -> IntakeTarget | None:
    """One indexed query. Written in SQL because it is the intake hot path: building
    the equivalent ORM query (a join and a correlated subquery) cost more CPU than
    running it."""
    with connection.cursor() as cursor:
        cursor.execute(_TARGET_SQL, [StepKind.RECIPIENT, key_digest, flow_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return IntakeTarget(
        source_id=row[0], flow_id=flow_id, rate_limit_per_minute=row[1], first_step_id=row[2]
    )


# Only table names (from the models) are formatted in; every value is a bound parameter.
_TARGET_SQL = f"""
SELECT s.id, s.rate_limit_per_minute,
       (SELECT st.id FROM {Step._meta.db_table} st
         WHERE st.flow_id = s.flow_id AND st.enabled AND st.kind = %s
         ORDER BY st.position, st.id LIMIT 1)
  FROM {Source._meta.db_table} s JOIN {Flow._meta.db_table} f ON f.id = s.flow_id
 WHERE s.key_digest = %s AND s.flow_id = %s AND s.active AND f.active
"""  # noqa: S608


def flow_ids_for_key(key: str) -> list[int]:
    """Every flow the key may read leads of."""
    if not key:
        return []
    return list(
        Source.objects.filter(key_digest=digest(key), active=True).values_list("flow_id", flat=True)
    )


def target_for_source(source: Source) -> IntakeTarget:
    """The intake target of a known source (the studio's test lead, replays; not the hot
    path)."""
    from integrations.delivery.flow import next_recipient_step

    step = next_recipient_step(flow_id=source.flow_id, after_position=None)
    return IntakeTarget(
        source_id=source.pk,
        flow_id=source.flow_id,
        rate_limit_per_minute=source.rate_limit_per_minute,
        first_step_id=step.pk if step else None,
    )
