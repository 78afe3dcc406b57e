"""Alert thresholds (editable: global, per account, per step) and the targets the
badges compare against.

Defaults and targets are the integration guide's "Key Metrics to Track": success
target > 95 %, alert < 90 %; response time target < 500 ms, alert > 1,000 ms;
duplicates expected 10–30 %, review > 50 %.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from integrations.models import Metric, Threshold


@dataclass(frozen=True)
class Limits:
    min_success_pct: float
    max_response_ms: float
    max_duplicate_pct: float

    def limit_for(self, metric: str) -> float:
        return {
            Metric.SUCCESS_RATE: self.min_success_pct,
            Metric.RESPONSE_MS: self.max_response_ms,
            Metric.DUPLICATE_RATE: self.max_duplicate_pct,
        }[Metric(metric)]


DEFAULT_LIMITS = Limits(min_success_pct=90.0, max_response_ms=1000.0, max_duplicate_pct=50.0)
TARGETS = Limits(min_success_pct=95.0, max_response_ms=500.0, max_duplicate_pct=30.0)


class Badge(StrEnum):
    OK = "ok"  # meets the target
    WARN = "warn"  # misses the target, within the alert threshold
    ALERT = "alert"  # over the alert threshold
    NONE = "none"  # no data


def breaches(metric: str, value: float | None, limits: Limits) -> bool:
    if value is None:
        return False
    limit = limits.limit_for(metric)
    return value < limit if metric == Metric.SUCCESS_RATE else value > limit


def badge(metric: str, value: float | None, limits: Limits) -> Badge:
    if value is None:
        return Badge.NONE
    if breaches(metric, value, limits):
        return Badge.ALERT
    return Badge.WARN if breaches(metric, value, TARGETS) else Badge.OK


def _overlay(limits: Limits, row: Threshold | None) -> Limits:
    if row is None:
        return limits
    return replace(
        limits,
        **{
            name: float(getattr(row, name))
            for name in ("min_success_pct", "max_response_ms", "max_duplicate_pct")
            if getattr(row, name) is not None
        },
    )


@dataclass(frozen=True)
class ThresholdBook:
    """All thresholds, read once: the limits that apply at each scope."""

    global_row: Threshold | None
    by_account: dict[int, Threshold]
    by_step: dict[int, Threshold]

    def overall(self) -> Limits:
        return _overlay(DEFAULT_LIMITS, self.global_row)

    def for_account(self, account_id: int | None) -> Limits:
        return _overlay(self.overall(), self.by_account.get(account_id or 0))

    def for_step(self, step_id: int, account_id: int | None) -> Limits:
        return _overlay(self.for_account(account_id), self.by_step.get(step_id))


def thresholds_load() -> ThresholdBook:
    rows = list(Threshold.objects.all())
    return ThresholdBook(
        global_row=next((r for r in rows if not r.account_id and not r.step_id), None),
        by_account={r.account_id: r for r in rows if r.account_id},
        by_step={r.step_id: r for r in rows if r.step_id},
    )
