"""The outbox sweeper: re-enqueue deliveries that are due but nobody is working on.

A broker message can be lost (a crash between commit and publish, a flushed Redis);
a worker can die holding a lease. The database still says the delivery is due, so
the sweeper wakes a worker for it. Claiming is a conditional UPDATE, so an extra
message for a delivery that is already being worked does nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from integrations.models import Delivery

from .claim import claimable

# A freshly enqueued delivery gets this long to be picked up before the sweeper
# assumes its message was lost.
GRACE = timedelta(seconds=10)
BATCH = 500


def delivery_sweep(*, now: datetime | None = None, batch: int = BATCH) -> list[int]:
    """Enqueue up to `batch` overdue deliveries. Returns their ids."""
    from integrations.tasks import deliver

    now = now or timezone.now()
    ids = list(
        Delivery.objects.filter(claimable(now - GRACE))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:batch]
    )
    for delivery_id in ids:
        deliver.delay(delivery_id)
    return ids
