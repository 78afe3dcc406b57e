"""What a CRM's answer says about the quota left: Keap's and HighLevel's rate headers.

Parsed into `QuotaLeft` values (a window, its limit and what remains), which the rate
limiter keeps per credential so the account's admin page can show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class QuotaLeft:
    window: str  # "minute", "day", "10s", ...
    limit: int
    remaining: int


def _int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def _keap(headers: Mapping[str, str], policy: str) -> list[QuotaLeft]:
    # Reference: https://developer.infusionsoft.com/api-token-quota-and-usage-measurements
    # (x-keap-product-quota-* is the daily bucket, x-keap-product-throttle-* the minute
    # throttle; the tenant-* headers describe the same for the Keap app being called).
    # Header names are lower case since the 2022 gateway upgrade:
    # https://integration.keap.com/t/updates-to-returned-throttle-quota-headers/88994
    found = []
    for kind in ("quota", "throttle"):
        prefix = f"x-keap-{policy}-{kind}-"
        limit = _int(headers, prefix + "limit")
        remaining = _int(headers, prefix + "available")
        if limit is None or remaining is None:
            continue
        unit = headers.get(prefix + "time-unit", "day" if kind == "quota" else "minute")
        interval = headers.get(prefix + "interval", "1")
        window = unit if interval in ("", "1") else f"{interval} {unit}"
        label = window if policy == "product" else f"{window} (tenant)"
        found.append(QuotaLeft(label, limit, remaining))
    return found


def _highlevel(headers: Mapping[str, str]) -> list[QuotaLeft]:
    # Reference: https://marketplace.gohighlevel.com/docs/other/rate-limits
    found = []
    burst, burst_left = _int(headers, "X-RateLimit-Max"), _int(headers, "X-RateLimit-Remaining")
    interval_ms = _int(headers, "X-RateLimit-Interval-Milliseconds")
    if burst is not None and burst_left is not None:
        seconds = (interval_ms or 10_000) / 1000
        found.append(QuotaLeft(f"{seconds:g}s", burst, burst_left))
    daily = _int(headers, "X-RateLimit-Limit-Daily")
    daily_left = _int(headers, "X-RateLimit-Daily-Remaining")
    if daily is not None and daily_left is not None:
        found.append(QuotaLeft("day", daily, daily_left))
    return found


def quota_left(headers: Mapping[str, str]) -> list[QuotaLeft]:
    """Every quota window the answer's headers describe (none when it has no such
    headers). `headers` must look names up case-insensitively, as requests' do."""
    return [*_keap(headers, "product"), *_keap(headers, "tenant"), *_highlevel(headers)]


__all__ = ["QuotaLeft", "quota_left"]
