"""Thin Celery tasks: take ids, call one service."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from integrations.accounts.services import accounts_release_held
from integrations.accounts.tokens import accounts_refresh_expiring
from integrations.delivery.engine import delivery_attempt
from integrations.delivery.enqueue import deliveries_enqueue
from integrations.delivery.sweeper import delivery_sweep
from integrations.health.alerts import alerts_check
from integrations.health.reconcile import counters_reconcile
from integrations.models import Lead


@shared_task(name="integrations.tasks.deliver", acks_late=True, ignore_result=True)
def deliver(delivery_id: int) -> None:
    delivery_attempt(delivery_id=delivery_id)


@shared_task(name="integrations.tasks.deliver_batch", acks_late=True, ignore_result=True)
def deliver_batch(delivery_ids: list[int]) -> None:
    """A batched wake-up (see integrations.delivery.enqueue): fan the batch out again so
    its deliveries run in parallel across workers, and work the first one here."""
    first, *rest = delivery_ids
    deliveries_enqueue(delivery_ids=rest)
    delivery_attempt(delivery_id=first)


@shared_task(name="integrations.tasks.sweep_deliveries", ignore_result=True)
def sweep_deliveries() -> int:
    return len(delivery_sweep())


@shared_task(name="integrations.tasks.expire_idempotency_keys", ignore_result=True)
def expire_idempotency_keys() -> int:
    """Idempotency keys are honoured for 24 h; after that a key may be used again."""
    cutoff = timezone.now() - timedelta(hours=24)
    return Lead.objects.filter(idempotency_key__isnull=False, received_at__lt=cutoff).update(
        idempotency_key=None
    )


@shared_task(name="integrations.tasks.refresh_expiring_tokens", ignore_result=True)
def refresh_expiring_tokens() -> int:
    """Refresh OAuth tokens expiring within the hour, so deliveries rarely meet a 401;
    and release deliveries still held for accounts that work again."""
    accounts_release_held()
    return accounts_refresh_expiring()


@shared_task(name="integrations.tasks.check_health_alerts", ignore_result=True)
def check_health_alerts() -> int:
    """Mail the admins about thresholds newly crossed (once per crossing)."""
    return len(alerts_check())


@shared_task(name="integrations.tasks.reconcile_health_counters", ignore_result=True)
def reconcile_health_counters() -> int:
    """Check yesterday's health counters against the deliveries and repair them.
    Returns how many counter keys differed (logged as a warning when any did)."""
    yesterday = timezone.now().date() - timedelta(days=1)
    return len(counters_reconcile(first_day=yesterday, last_day=yesterday, repair=True).differences)


@shared_task(name="integrations.tasks.replay_drive", ignore_result=True)
def replay_drive(replay_id: int) -> None:
    """Tick a replay for up to REPLAY_DRIVE_SECONDS, then hand over to a fresh task
    (so a long replay never pins one worker process, and a cancel is seen quickly)."""
    from django.conf import settings

    from integrations.replay.tick import replay_drive as drive

    if drive(replay_id=replay_id, seconds=settings.REPLAY_DRIVE_SECONDS):
        replay_drive.delay(replay_id)


@shared_task(name="integrations.tasks.resume_replays", ignore_result=True)
def resume_replays() -> int:
    from integrations.replay.tick import replays_resume

    return replays_resume()


@shared_task(name="integrations.tasks.purge_expired_data", ignore_result=True)
def purge_expired_data() -> int:
    """Retention: lead payloads, fields and attempt bodies older than RETENTION_DAYS."""
    from integrations.retention.purge import retention_purge

    return retention_purge(dry_run=False).total
