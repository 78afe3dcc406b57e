"""The latency histogram: which bucket a response time falls in, and percentiles read
back from bucket counts."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from integrations.models import LATENCY_BOUNDS_MS

BUCKETS = len(LATENCY_BOUNDS_MS) + 1


def latency_bucket(ms: int) -> int:
    """Index of the bucket holding `ms` (bounds are inclusive upper limits)."""
    return bisect_left(LATENCY_BOUNDS_MS, ms)


def bucket_range(index: int) -> tuple[int, int]:
    """(lower, upper) ms of a bucket; the open last bucket is given twice its lower bound."""
    lower = LATENCY_BOUNDS_MS[index - 1] if index else 0
    upper = LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else lower * 2
    return lower, upper


def latency_percentile(buckets: Sequence[int], quantile: float) -> float | None:
    """The `quantile` (0..1) response time estimated from bucket counts: the bucket
    holding that rank, interpolated linearly inside it. None without data."""
    total = sum(buckets)
    if not total:
        return None
    rank = quantile * total
    seen = 0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            lower, upper = bucket_range(index)
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
    return float(bucket_range(BUCKETS - 1)[1])
