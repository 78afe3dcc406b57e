"""Per-source intake rate limit: a fixed one-minute window counted in the cache."""

from __future__ import annotations

import time

from django.core.cache import cache


def source_over_limit(*, source_id: int, per_minute: int | None) -> bool:
    if not per_minute:
        return False
    window = int(time.time() // 60)
    key = f"intake-rate:{source_id}:{window}"
    if cache.add(key, 1, timeout=90):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=90)
            count = 1
    return count > per_minute
