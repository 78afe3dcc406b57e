"""HighLevel's API rate limits (wire spec §6.4), per app per location.

Burst: `burst_max` requests per `burst_interval_ms` (100 per 10 s), counted in fixed
windows, which is simpler than HighLevel's (undocumented) window and close enough for a
client's back-off to be exercised. Daily: `daily_max` per UTC day.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache

from . import faults

_GENERATION = "sandbox_highlevel:rl:generation"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    headers: dict[str, str]


def check(*, app: str, location_id: str) -> Verdict:
    """Count one request and say whether it is within both limits."""
    conf = faults.config()
    interval_ms = max(1, int(conf["burst_interval_ms"]))
    now = time.time()
    generation = cache.get_or_set(_GENERATION, 0, faults.FOREVER)
    prefix = f"sandbox_highlevel:rl:{generation}:{app}:{location_id}"
    burst_key = f"{prefix}:burst:{int(now * 1000) // interval_ms}"
    daily_key = f"{prefix}:day:{time.strftime('%Y-%m-%d', time.gmtime(now))}"
    burst = _incr(burst_key, timeout=interval_ms // 1000 + 2)
    daily = _incr(daily_key, timeout=86_400 + 60)
    headers = {
        "X-RateLimit-Limit-Daily": str(conf["daily_max"]),
        "X-RateLimit-Daily-Remaining": str(max(0, conf["daily_max"] - daily)),
        "X-RateLimit-Interval-Milliseconds": str(interval_ms),
        "X-RateLimit-Max": str(conf["burst_max"]),
        "X-RateLimit-Remaining": str(max(0, conf["burst_max"] - burst)),
    }
    allowed = burst <= conf["burst_max"] and daily <= conf["daily_max"]
    return Verdict(allowed, headers)


def exhausted_headers(headers: dict[str, str]) -> dict[str, str]:
    """The same headers with the burst spent, for an injected 429."""
    return {**headers, "X-RateLimit-Remaining": "0"}


def _incr(key: str, *, timeout: int) -> int:
    cache.add(key, 0, timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout)
        return 1


def reset() -> None:
    """Start fresh windows for everyone (old keys simply expire)."""
    cache.set(_GENERATION, (cache.get(_GENERATION) or 0) + 1, faults.FOREVER)
