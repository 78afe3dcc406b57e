"""Keap's per-credential limits (wire spec §4): a per-second spike arrest, a per-minute
throttle and a per-day quota, counted in django.core.cache.

Windows are fixed (this second, this minute, this UTC day). Keap's minute window is
rolling and Apigee's spike arrest smooths within the second; fixed windows are close
enough to exercise a client's back-off, and stay predictable in tests. Rejected calls
count too, as they do at a gateway.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.core.cache import cache
from django.http import HttpResponse

from . import faults


@dataclass
class Verdict:
    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)
    response: HttpResponse | None = None


def _hit(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout)
        return 1


def check(*, kind: str, identifier: str, epoch: str, conf: dict) -> Verdict:
    """Count one call for the credential and say whether it may proceed."""
    limits = conf["rate_limits"][kind]
    now = time.time()
    prefix = f"sandbox_keap:rl:{epoch}:{identifier}"
    day = int(now // 86_400)
    spike = _hit(f"{prefix}:s:{int(now)}", 3)
    minute = _hit(f"{prefix}:m:{int(now // 60)}", 120)
    daily = _hit(f"{prefix}:d:{day}", 86_400 + 120)
    if spike > limits["spike"] or minute > limits["minute"] or daily > limits["day"]:
        return Verdict(False, response=faults.rate_limited(identifier, conf["retry_after"]))
    # §4 headers (lower-case since 2022): quota = day, throttle = minute. There are no
    # headers for the spike policy. expiry-time is epoch milliseconds (K12).
    headers = {
        "x-keap-product-quota-limit": str(limits["day"]),
        "x-keap-product-quota-time-unit": "day",
        "x-keap-product-quota-interval": "1",
        "x-keap-product-quota-used": str(daily),
        "x-keap-product-quota-available": str(max(0, limits["day"] - daily)),
        "x-keap-product-quota-expiry-time": str((day + 1) * 86_400_000),
        "x-keap-product-throttle-limit": str(limits["minute"]),
        "x-keap-product-throttle-time-unit": "minute",
        "x-keap-product-throttle-interval": "1",
        "x-keap-product-throttle-used": str(minute),
        "x-keap-product-throttle-available": str(max(0, limits["minute"] - minute)),
    }
    return Verdict(True, headers=headers)
