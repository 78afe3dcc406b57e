"""When to try a delivery again after a transient error."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings


def retry_delay_seconds(*, attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with ±20 % jitter: base·2^(attempt-1), capped.

    A CRM's Retry-After wins when it asks for longer.
    """
    base = settings.DELIVERY_BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1)
    delay = min(settings.DELIVERY_BACKOFF_MAX_SECONDS, base) * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return float(delay)


def may_retry(*, attempt: int) -> bool:
    max_attempts: int = settings.DELIVERY_MAX_ATTEMPTS
    return attempt < max_attempts


def next_attempt_at(*, now: datetime, delay: float) -> datetime:
    return now + timedelta(seconds=delay)
