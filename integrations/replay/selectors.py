"""Reading replays: a delivery's replay history and each run's new attempts."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.models import Attempt, ReplayItem


@dataclass(frozen=True)
class RunAttempt:
    id: int
    number: int
    status_code: int | None
    error: str


def item_new_attempts(*, item: ReplayItem) -> list[RunAttempt]:
    """The attempts this replay item's run made: ids above its floor, up to the floor
    of the delivery's next replay (if any)."""
    if item.attempt_floor is None:
        return []
    later = (
        ReplayItem.objects.filter(
            delivery_id=item.delivery_id, pk__gt=item.pk, attempt_floor__isnull=False
        )
        .order_by("pk")
        .values_list("attempt_floor", flat=True)
        .first()
    )
    attempts = Attempt.objects.filter(delivery_id=item.delivery_id, pk__gt=item.attempt_floor)
    if later is not None:
        attempts = attempts.filter(pk__lte=later)
    return [
        RunAttempt(a.pk, a.number, a.status_code, a.error)
        for a in attempts.order_by("pk").only("pk", "number", "status_code", "error")
    ]
