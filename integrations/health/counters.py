"""Daily delivery counters: one upsert per finished delivery, and the same figures
computed from the raw rows (for reconciliation and for ranges finer than a day).

A counter row is keyed by (UTC day of `finished_at`, step, outcome, reason) and holds
the number of deliveries, duplicates, timed deliveries, the response-time sum and a
latency histogram (`integrations.models.LATENCY_BOUNDS_MS`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate

from integrations.delivery.rows import Statement, rows_batch
from integrations.models import (
    LATENCY_BOUNDS_MS,
    LATENCY_FIELDS,
    DailyCounter,
    Delivery,
    DeliveryStatus,
)

from .latency import BUCKETS, latency_bucket


@dataclass(frozen=True, order=True)
class CounterKey:
    day: date
    step_id: int
    outcome: str
    reason: str


@dataclass
class Tally:
    """What a counter row counts. Adds up: tallies of two rows give the pair's."""

    deliveries: int = 0
    duplicates: int = 0
    timed: int = 0
    response_ms_sum: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def add(self, other: Tally) -> None:
        self.deliveries += other.deliveries
        self.duplicates += other.duplicates
        self.timed += other.timed
        self.response_ms_sum += other.response_ms_sum
        self.latency = [a + b for a, b in zip(self.latency, other.latency, strict=True)]

    def as_fields(self) -> dict[str, int]:
        return {
            "deliveries": self.deliveries,
            "duplicates": self.duplicates,
            "timed": self.timed,
            "response_ms_sum": self.response_ms_sum,
            **dict(zip(LATENCY_FIELDS, self.latency, strict=True)),
        }

    @classmethod
    def of_row(cls, row: dict | DailyCounter) -> Tally:
        get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
        return cls(
            deliveries=get("deliveries") or 0,
            duplicates=get("duplicates") or 0,
            timed=get("timed") or 0,
            response_ms_sum=get("response_ms_sum") or 0,
            latency=[get(name) or 0 for name in LATENCY_FIELDS],
        )


@dataclass(frozen=True)
class Counted:
    """One key's tally, with the step's flow and account at the time."""

    key: CounterKey
    flow_id: int
    account_id: int | None
    tally: Tally


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def counters_record(*, delivery: Delivery) -> None:
    """Add a delivery that has just got its final outcome to its day's counter.

    Call inside the transaction that records the outcome, once per delivery: the
    counter then commits or rolls back with it (the engine sends `counters_statement`
    with its other writes instead). The upsert is atomic on PostgreSQL and SQLite, so
    concurrent workers never lose a count.
    """
    statement = counters_statement(delivery=delivery)
    if statement is not None:
        rows_batch([statement])


def counters_statement(*, delivery: Delivery) -> Statement | None:
    """The upsert of `counters_record` (None: the delivery has no final outcome)."""
    counted = _counted(delivery)
    return (
        None
        if counted is None
        else Statement(_upsert_sql(connection.vendor), _upsert_params(counted))
    )


def counters_forget(*, delivery: Delivery) -> None:
    """Take a delivery's current outcome back out of its counter: call in the
    transaction that clears the outcome (a replay), before clearing it, so the
    outcome it gets next is not counted twice."""
    counters_forget_many(deliveries=[delivery])


def counters_forget_many(*, deliveries: Iterable[Delivery]) -> None:
    """`counters_forget` for many deliveries at once: one subtraction per counter key
    (a replay releasing a batch of one step's failures touches one or two rows)."""
    by_key: dict[CounterKey, Tally] = {}
    for delivery in deliveries:
        counted = _counted(delivery)
        if counted is not None:
            by_key.setdefault(counted.key, Tally()).add(counted.tally)
    for key, tally in sorted(by_key.items()):  # a fixed order: no deadlock between ticks
        rows = DailyCounter.objects.filter(
            day=key.day, step_id=key.step_id, outcome=key.outcome, reason=key.reason
        )
        # A plain UPDATE: an upsert's INSERT half would trip the columns' >= 0 checks.
        rows.filter(deliveries__gte=tally.deliveries).update(
            **{name: F(name) - value for name, value in tally.as_fields().items() if value}
        )
        rows.filter(deliveries=0).delete()


def _counted(delivery: Delivery) -> Counted | None:
    if not delivery.outcome or delivery.finished_at is None:
        return None
    tally = Tally(deliveries=1, duplicates=1 if delivery.duplicate else 0)
    if delivery.response_ms is not None:
        tally.timed, tally.response_ms_sum = 1, delivery.response_ms
        tally.latency[latency_bucket(delivery.response_ms)] = 1
    step = delivery.step
    key = CounterKey(utc_day(delivery.finished_at), step.pk, delivery.outcome, delivery.reason)
    return Counted(key, step.flow_id, step.account_id, tally)


_COUNTED = ("deliveries", "duplicates", "timed", "response_ms_sum", *LATENCY_FIELDS)


def counters_add(*, rows: Iterable[Counted]) -> None:
    """Add tallies to their counter rows, creating missing rows (INSERT … ON CONFLICT
    DO UPDATE: one statement, safe under concurrency on PostgreSQL and SQLite ≥ 3.24)."""
    params = [_upsert_params(row) for row in rows]
    if params:
        with connection.cursor() as cursor:
            cursor.executemany(_upsert_sql(connection.vendor), params)


@cache
def _upsert_sql(vendor: str) -> str:
    table = connection.ops.quote_name(DailyCounter._meta.db_table)
    q = connection.ops.quote_name
    columns = ["day", "step_id", "flow_id", "account_id", "outcome", "reason", *_COUNTED]
    updates = ", ".join(f"{q(c)} = {table}.{q(c)} + excluded.{q(c)}" for c in _COUNTED)
    return (
        f"INSERT INTO {table} ({', '.join(q(c) for c in columns)})"  # noqa: S608 - model names
        f" VALUES ({', '.join(['%s'] * len(columns))})"
        f" ON CONFLICT (day, step_id, outcome, reason) DO UPDATE SET {updates}"
    )


def _upsert_params(row: Counted) -> list[Any]:
    return [
        row.key.day,
        row.key.step_id,
        row.flow_id,
        row.account_id,
        row.key.outcome,
        row.key.reason,
        *row.tally.as_fields().values(),
    ]


def _bucket_case(index: int) -> Sum:
    upper = Q(response_ms__lte=LATENCY_BOUNDS_MS[index]) if index < len(LATENCY_BOUNDS_MS) else Q()
    lower = Q(response_ms__gt=LATENCY_BOUNDS_MS[index - 1]) if index else Q()
    when = When(upper & lower & Q(response_ms__isnull=False), then=Value(1))
    return Sum(Case(when, default=Value(0), output_field=IntegerField()))


def tallies_from_deliveries(
    *, start: datetime, end: datetime, period: str = "day", **filters: object
) -> list[Counted]:
    """The counters' figures computed from the raw delivery rows finished in
    [start, end), grouped by UTC day (or `period="hour"`: the key's day is then the
    hour's start). `filters` narrow the deliveries (e.g. `step__account_id=3`)."""
    from django.db.models.functions import TruncHour

    trunc = TruncHour if period == "hour" else TruncDate
    rows = (
        Delivery.objects.filter(
            status=DeliveryStatus.DONE, finished_at__gte=start, finished_at__lt=end, **filters
        )
        .annotate(period=trunc("finished_at", tzinfo=UTC))
        .values("period", "step_id", "step__flow_id", "step__account_id", "outcome", "reason")
        .annotate(
            deliveries=Count("id"),
            duplicates=Coalesce(
                Sum(Case(When(duplicate=True, then=Value(1)), default=Value(0))), Value(0)
            ),
            timed=Count("response_ms"),
            response_ms_sum=Coalesce(Sum("response_ms"), Value(0)),
            **{name: _bucket_case(i) for i, name in enumerate(LATENCY_FIELDS)},
        )
        .order_by()
    )
    return [
        Counted(
            CounterKey(row["period"], row["step_id"], row["outcome"], row["reason"]),
            row["step__flow_id"],
            row["step__account_id"],
            Tally.of_row(row),
        )
        for row in rows
    ]


def tallies_from_counters(*, first_day: date, last_day: date) -> list[Counted]:
    """The stored counter rows of days first_day..last_day (inclusive)."""
    rows = DailyCounter.objects.filter(day__gte=first_day, day__lte=last_day)
    return [
        Counted(
            CounterKey(row.day, row.step_id, row.outcome, row.reason),
            row.flow_id,
            row.account_id,
            Tally.of_row(row),
        )
        for row in rows
    ]


def days_between(first_day: date, last_day: date) -> list[date]:
    return [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
