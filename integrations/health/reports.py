"""The health report: a window of time, optionally narrowed to an account, flow or
step, read from the daily counters (or, for the last 24 h, from the raw rows by hour),
as overall figures, a series per day (or hour), top failure reasons, and a table
grouped by account, flow or step.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Sum

from integrations.models import (
    LATENCY_FIELDS,
    Account,
    DailyCounter,
    Flow,
    Metric,
    Outcome,
    Step,
)

from .counters import Counted, CounterKey, Tally, day_start, tallies_from_deliveries
from .figures import Figures
from .thresholds import Badge, Limits, ThresholdBook, badge, thresholds_load

RANGES = {"24h": "Last 24 hours", "7d": "7 days", "30d": "30 days", "90d": "90 days"}
GROUPS = {"step": "Step", "account": "Account", "flow": "Flow"}
FAILING = (Outcome.FAILURE, Outcome.ERROR)


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC. Hourly for the last 24 h; otherwise whole UTC days."""

    key: str
    start: datetime
    end: datetime
    hourly: bool

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).date()

    @property
    def periods(self) -> list[datetime | date]:
        if self.hourly:
            first = self.start.replace(minute=0, second=0, microsecond=0)
            return [
                first + timedelta(hours=n)
                for n in range(25)
                if first + timedelta(hours=n) < self.end
            ]
        days = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(days)]


def window_parse(*, key: str | None, since: str | None, until: str | None, now: datetime) -> Window:
    """The window a request asks for: a named range ("24h", "7d", "30d", "90d"; default
    7d) or `since`..`until`, inclusive UTC dates (YYYY-MM-DD)."""
    now = now.astimezone(UTC)
    today = now.date()
    if since or until:
        try:
            first = date.fromisoformat(since) if since else today - timedelta(days=6)
            last = date.fromisoformat(until) if until else today
        except ValueError:
            first, last = today - timedelta(days=6), today
        first, last = min(first, last), max(first, last)
        first = max(first, last - timedelta(days=366))
        return Window("custom", day_start(first), day_start(last + timedelta(days=1)), False)
    if key == "24h":
        return Window(key, now - timedelta(hours=24), now, True)
    days = {"7d": 7, "30d": 30, "90d": 90}.get(key or "", 7)
    first = today - timedelta(days=days - 1)
    return Window(f"{days}d", day_start(first), day_start(today + timedelta(days=1)), False)


@dataclass(frozen=True)
class Scope:
    """Narrows the report to one account, flow or step (ids; None: everything)."""

    account_id: int | None = None
    flow_id: int | None = None
    step_id: int | None = None

    def counter_filters(self) -> dict[str, int]:
        names = {"account_id": self.account_id, "flow_id": self.flow_id, "step_id": self.step_id}
        return {name: value for name, value in names.items() if value}

    def delivery_filters(self) -> dict[str, int]:
        names = {
            "step__account_id": self.account_id,
            "step__flow_id": self.flow_id,
            "step_id": self.step_id,
        }
        return {name: value for name, value in names.items() if value}


@dataclass
class Row:
    """One line of the table: a step, account or flow (or the total) over the window."""

    group: str  # "step", "account", "flow" or "total"
    object_id: int | None
    name: str
    figures: Figures
    limits: Limits

    def badge(self, metric: str) -> Badge:
        value = {
            Metric.SUCCESS_RATE: self.figures.success_rate,
            Metric.RESPONSE_MS: self.figures.avg_ms,
            Metric.DUPLICATE_RATE: self.figures.duplicate_rate,
        }[Metric(metric)]
        return badge(metric, value, self.limits)


@dataclass
class Report:
    window: Window
    scope: Scope
    group: str
    total: Row
    rows: list[Row]
    series: list[tuple[datetime | date, Figures]]
    reasons: list[tuple[str, str, int]]  # (outcome, reason, deliveries), most first
    names: dict[str, dict[int, str]] = field(default_factory=dict)


_SUMMED = ("deliveries", "duplicates", "timed", "response_ms_sum", *LATENCY_FIELDS)


def _counter_sums(window: Window, scope: Scope, keys: list[str], **filters: Any) -> list[Counted]:
    """Counter rows of the window summed in SQL by `keys` (the rest of each key left
    empty): a few hundred rows for the dashboard however many counters there are.
    Read as plain tuples: the ORM's per-value conversion of ~400 rows of 16 sums cost
    more than the query."""
    queryset = (
        DailyCounter.objects.filter(
            day__gte=window.first_day,
            day__lte=window.last_day,
            **scope.counter_filters(),
            **filters,
        )
        .values(*keys)
        .annotate(**{f"sum_{name}": Sum(name) for name in _SUMMED})
        .order_by()
    )
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column[0] for column in cursor.description]
        fetched = cursor.fetchall()
    at = {name: i for i, name in enumerate(columns)}
    sums = [at[f"sum_{name}"] for name in _SUMMED]
    counted = []
    for values in fetched:
        r: dict[str, Any] = {key: values[at[key]] for key in keys}
        # Sums of big integers come back as Decimal on PostgreSQL; days as text on SQLite.
        tally = [0 if values[i] is None else int(values[i]) for i in sums]
        day: Any = r.get("day")  # (None when the sums are not by day, as before)
        if isinstance(day, str):
            day = date.fromisoformat(day)
        counted.append(
            Counted(
                CounterKey(
                    day,
                    r.get("step_id", 0),
                    r["outcome"],
                    r.get("reason", ""),
                ),
                r.get("flow_id", 0),
                r.get("account_id"),
                Tally(
                    deliveries=tally[0],
                    duplicates=tally[1],
                    timed=tally[2],
                    response_ms_sum=tally[3],
                    latency=tally[4:],
                ),
            )
        )
    return counted


def report_build(
    *,
    window: Window,
    scope: Scope,
    group: str,
    book: ThresholdBook | None = None,
    names: Names | None = None,
) -> Report:
    """Everything the dashboard and the CSV export show, for one window and scope.
    `names`: object_names(), when the caller has them already."""
    group = group if group in GROUPS else "step"
    book = book or thresholds_load()
    if window.hourly:  # the last 24 h: from the raw rows, by hour
        per_period = per_step = per_reason = tallies_from_deliveries(
            start=window.start, end=window.end, period="hour", **scope.delivery_filters()
        )
    else:
        per_period = _counter_sums(window, scope, ["day", "outcome"])
        per_step = _counter_sums(window, scope, ["step_id", "flow_id", "account_id", "outcome"])
        per_reason = _counter_sums(window, scope, ["outcome", "reason"], outcome__in=FAILING)
    names = names or object_names()
    step_account = {row.key.step_id: row.account_id for row in per_step}

    by_period: dict[datetime | date, Figures] = defaultdict(Figures)
    by_group: dict[int | None, Figures] = defaultdict(Figures)
    reasons: dict[tuple[str, str], int] = defaultdict(int)
    total = Figures()
    for row in per_period:
        total.add(row)
        by_period[row.key.day].add(row)
    for row in per_step:
        by_group[_group_id(row, group)].add(row)
    for row in per_reason:
        if row.key.outcome in FAILING:
            reasons[(row.key.outcome, row.key.reason or "(no reason)")] += row.tally.deliveries

    def limits_of(object_id: int | None) -> Limits:
        if group == "step" and object_id:
            return book.for_step(object_id, step_account.get(object_id))
        if group == "account":
            return book.for_account(object_id)
        return book.overall()

    rows = [
        Row(
            group,
            object_id,
            names[group].get(object_id or 0, "(none)"),
            figures,
            limits_of(object_id),
        )
        for object_id, figures in by_group.items()
    ]
    rows.sort(key=lambda r: (-(r.figures.total), r.name))
    scope_limits = (
        book.for_step(scope.step_id, step_account.get(scope.step_id))
        if scope.step_id
        else book.for_account(scope.account_id)
        if scope.account_id
        else book.overall()
    )
    return Report(
        window=window,
        scope=scope,
        group=group,
        total=Row("total", None, "All deliveries", total, scope_limits),
        rows=rows,
        series=[(period, by_period.get(period, Figures())) for period in window.periods],
        reasons=sorted(((o, r, n) for (o, r), n in reasons.items()), key=lambda t: -t[2])[:10],
        names=names,
    )


def _group_id(row: Counted, group: str) -> int | None:
    if group == "account":
        return row.account_id
    if group == "flow":
        return row.flow_id
    return row.key.step_id


Names = dict[str, dict[int, str]]


def object_names() -> Names:
    """The name of every account, flow and step (a few hundred rows, three small
    queries), each in the order the dashboard's choices list them."""
    return {
        "account": dict(Account.objects.order_by("name").values_list("pk", "name")),
        "flow": dict(Flow.objects.order_by("name").values_list("pk", "name")),
        "step": {
            pk: f"{flow_name} › {name}"
            for pk, name, flow_name in Step.objects.order_by("flow__name", "position").values_list(
                "pk", "name", "flow__name"
            )
        },
    }


def scope_choices(names: Names | None = None) -> dict[str, list[tuple[int, str]]]:
    """Accounts, flows and steps to narrow the report to (all of them: a few hundred)."""
    names = names or object_names()
    return {group: list(named.items()) for group, named in names.items()}
