"""The outbox sweeper: wake workers for deliveries that are due and whose wake-up was
lost, never for one whose wake-up is merely queued.

A broker message can be lost (a crash between commit and publish, a flushed Redis); a
worker can die holding a lease; a retry due hours from now gets no broker countdown at
all. The database still says the delivery is due, so the sweeper wakes a worker for it.
A pending delivery is sent again only when its last wake-up (`woken_at`: when the
message was published, or when its countdown ended) is older than
DELIVERY_WAKEUP_LOST_AFTER_SECONDS, so a long queue in front of its message does not
make the sweeper pile duplicates on top. Claiming is a conditional UPDATE, so an
extra message for a delivery that is already being worked does nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from integrations.models import Delivery, DeliveryStatus

from .enqueue import deliveries_enqueue

log = logging.getLogger(__name__)

BATCH = 500


def lost_wake_ups(now: datetime) -> Q:
    """Due pending work whose wake-up is missing or old, or work whose worker died and
    that has not been woken since its lease ran out."""
    lost_before = now - timedelta(seconds=settings.DELIVERY_WAKEUP_LOST_AFTER_SECONDS)
    missing_or_old = Q(woken_at__isnull=True) | Q(woken_at__lt=lost_before)
    return Q(missing_or_old, status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        missing_or_old | Q(woken_at__lt=F("lease_expires_at")),
        status=DeliveryStatus.IN_PROGRESS,
        lease_expires_at__lt=now,
    )


def delivery_sweep(*, now: datetime | None = None, batch: int = BATCH) -> list[int]:
    """Wake workers for up to `batch` due deliveries whose wake-up was lost. Returns
    their ids (and records the new wake-up on each)."""
    now = now or timezone.now()
    ids = list(
        Delivery.objects.filter(lost_wake_ups(now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:batch]
    )
    if ids and deliveries_enqueue(delivery_ids=ids):
        Delivery.objects.filter(pk__in=ids).update(woken_at=now)
    if ids:
        log.warning("sweeper: woke %d deliveries whose wake-up was lost", len(ids))
    return ids
