"""Claiming a delivery with a lease, so that one delivery is worked by one worker.

The claim is a single conditional UPDATE: whoever changes the row owns it until the
lease runs out. A duplicate broker message, or a sweeper re-enqueue racing the
original, finds nothing to claim and does nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from integrations.models import Delivery, DeliveryStatus

from .rows import Statement, column, prep, rows_batch, update_statement


def new_lease_owner() -> str:
    return uuid.uuid4().hex


def claimable(now: datetime) -> Q:
    """Due pending work, or work whose worker died (its lease ran out)."""
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.IN_PROGRESS, lease_expires_at__lt=now
    )


def claim_statement(*, delivery_id: int, owner: str, now: datetime) -> Statement:
    """The claim's UPDATE and its arguments: `claimable(now)` in plain SQL (the engine's
    hot path, see .rows); the attempt is counted by the same UPDATE."""
    at = prep(Delivery, "next_attempt_at", now)
    return update_statement(
        Delivery,
        {
            "status": DeliveryStatus.IN_PROGRESS,
            "lease_owner": owner,
            "lease_expires_at": now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS),
        },
        where=_claimable_where(),
        params=[delivery_id, DeliveryStatus.PENDING, at, DeliveryStatus.IN_PROGRESS, at],
        increment=("attempt_count",),
    )


@cache
def _claimable_where() -> str:
    status = column(Delivery, "status")
    return (
        f"{column(Delivery, 'id')} = %s AND (({status} = %s AND"
        f" {column(Delivery, 'next_attempt_at')} <= %s) OR ({status} = %s AND"
        f" {column(Delivery, 'lease_expires_at')} < %s))"
    )


def delivery_claim(*, delivery_id: int, owner: str, now: datetime | None = None) -> bool:
    """Take the lease on one delivery. True when this caller now owns it. (The engine
    claims and loads in one round trip where it can: integrations.delivery.load.)"""
    claim = claim_statement(delivery_id=delivery_id, owner=owner, now=now or timezone.now())
    return rows_batch([claim])[0].rowcount == 1
