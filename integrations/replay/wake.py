"""Waking workers for released replay deliveries, behind live work.

A replay's deliveries are published one message each, after commit, at the lowest
priority the broker offers, so a live lead's wake-up (published at the default
priority by integrations.delivery.enqueue) is taken first even when a replay has
work queued. On Redis, kombu keeps one list per priority step and a worker pops
them in order (0 first, 9 last). Other brokers publish without a priority: there
the replay's pacing alone keeps its queue short (integrations.replay.pacing).

Nothing depends on the message: the delivery row is committed as due with its
`woken_at`, and a wake-up that could not be published is marked lost for the
sweeper, as integrations.delivery.enqueue does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction

from integrations.delivery.enqueue import DELIVER
from integrations.models import Delivery
from leadflow.celery import app

log = logging.getLogger(__name__)

# kombu's Redis transport: priority steps 0, 3, 6, 9, popped in that order.
LOWEST_REDIS_PRIORITY = 9


def replay_priority() -> int | None:
    """The message priority of replayed deliveries: the last list on Redis, none on
    brokers where a priority would need queue arguments (or mean the opposite)."""
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return LOWEST_REDIS_PRIORITY
    return None


def replay_wake_on_commit(*, delivery_ids: Sequence[int]) -> None:
    """After commit, wake a worker for each released delivery, behind live work."""
    ids = list(delivery_ids)
    if ids:
        transaction.on_commit(lambda: replay_wake(delivery_ids=ids))


def replay_wake(*, delivery_ids: Sequence[int]) -> bool:
    """Publish one low-priority `deliver` per delivery. Returns False when the broker
    refused (those deliveries are then left to the sweeper, at once)."""
    priority = replay_priority()
    options = {} if priority is None else {"priority": priority}
    try:
        with app.producer_or_acquire() as producer:
            for delivery_id in delivery_ids:
                app.send_task(DELIVER, args=[delivery_id], producer=producer, **options)
    except Exception:  # noqa: BLE001 - any broker failure: the sweeper sends them
        log.warning("could not wake %d replayed deliveries; the sweeper will", len(delivery_ids))
        Delivery.objects.filter(pk__in=list(delivery_ids)).update(woken_at=None)
        return False
    return True
