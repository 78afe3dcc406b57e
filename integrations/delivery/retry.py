"""When to try a delivery again after an error: a schedule of waits kept in the database
(the delivery's `next_attempt_at`), never a long Celery countdown.

A schedule is a list of waits, one before each retry, written like
"1m, 5m, 15m, 1h, 3h, 6h, 12h" (the default: 8 attempts over about a day). Each wait is
jittered by ±20 % so deliveries that failed together do not retry together. A step may
have its own schedule (`Step.retry_schedule`). Only errors use it: holds and the CRM's
rate limits (Throttled, 429) cost no attempt.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError

_WAIT = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_retry_schedule(text: str) -> tuple[float, ...]:
    """ "1m, 5m, 1h" -> (60.0, 300.0, 3600.0). A bare number is seconds. Raises
    ValueError on anything else."""
    waits = []
    for part in (p.strip() for p in text.split(",")):
        match = _WAIT.match(part)
        if not match:
            raise ValueError(f"{part!r} is not a wait such as 30s, 5m, 1h or 1d")
        waits.append(float(match.group(1)) * _UNIT[match.group(2)])
    return tuple(waits)


def validate_retry_schedule(value: str) -> None:
    if not value.strip():
        return
    try:
        parse_retry_schedule(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def retry_schedule(step_schedule: str = "") -> tuple[float, ...]:
    """The step's own schedule when it has one, else the default."""
    return parse_retry_schedule(step_schedule.strip() or settings.DELIVERY_RETRY_SCHEDULE)


def may_retry(*, attempt: int, schedule: tuple[float, ...] | None = None) -> bool:
    """Whether a delivery that has made `attempt` attempts may make another."""
    return attempt <= len(schedule if schedule is not None else retry_schedule())


def retry_delay_seconds(
    *, attempt: int, retry_after: float | None = None, schedule: tuple[float, ...] | None = None
) -> float:
    """The wait after the `attempt`-th attempt failed, jittered ±20 %. A CRM's
    Retry-After wins when it asks for longer."""
    waits = schedule if schedule is not None else retry_schedule()
    delay = waits[min(max(attempt, 1), len(waits)) - 1] * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def next_attempt_at(*, now: datetime, delay: float) -> datetime:
    return now + timedelta(seconds=delay)
