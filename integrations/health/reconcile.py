"""Check the daily counters against the raw delivery rows, and repair them.

Used nightly for yesterday (`integrations.tasks.reconcile_health_counters`) and by
`manage.py counters_rebuild` for any range of days.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection, transaction

from integrations.models import DailyCounter

from .counters import (
    Counted,
    CounterKey,
    Tally,
    day_start,
    tallies_from_counters,
    tallies_from_deliveries,
)

log = logging.getLogger(__name__)

# More differing keys than this (a rebuild, a first run): replace the range's rows in
# bulk rather than key by key.
REBUILD_ABOVE = 50


@dataclass(frozen=True)
class Difference:
    key: CounterKey
    stored: Tally | None  # None: no counter row where there should be one
    actual: Tally | None  # None: a counter row for deliveries that do not exist


@dataclass
class Reconciliation:
    first_day: date
    last_day: date
    keys_checked: int = 0
    differences: list[Difference] = field(default_factory=list)
    repaired: bool = False

    @property
    def deliveries_off(self) -> int:
        """How many deliveries the stored counters miss or invent, in total."""
        return sum(
            abs((d.actual.deliveries if d.actual else 0) - (d.stored.deliveries if d.stored else 0))
            for d in self.differences
        )


def counters_reconcile(
    *, first_day: date, last_day: date, repair: bool, quiet: bool = False
) -> Reconciliation:
    """Compare the counters of days first_day..last_day (UTC, inclusive) with the
    deliveries finished on those days; with `repair`, make the counters equal to them.

    Safe to run while workers record outcomes: on PostgreSQL the counter table is
    locked against writes (SHARE ROW EXCLUSIVE) for the comparison, so a delivery is
    either in both sides or, committed after, added to the repaired rows by its upsert.
    Differences are logged as a warning (unless `quiet`).
    """
    result = Reconciliation(first_day, last_day)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            table = connection.ops.quote_name(DailyCounter._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        actual = {
            row.key: row
            for row in tallies_from_deliveries(
                start=day_start(first_day), end=day_start(last_day + timedelta(days=1))
            )
        }
        stored = {
            row.key: row for row in tallies_from_counters(first_day=first_day, last_day=last_day)
        }
        result.keys_checked = len(actual.keys() | stored.keys())
        for key in sorted(actual.keys() | stored.keys()):
            have, want = stored.get(key), actual.get(key)
            if have is None or want is None or have.tally != want.tally:
                result.differences.append(
                    Difference(key, have.tally if have else None, want.tally if want else None)
                )
        if repair and result.differences:
            if len(result.differences) > REBUILD_ABOVE:
                _replace_all(first_day, last_day, actual)
            else:
                _repair(result.differences, actual)
            result.repaired = True
    if result.differences and not quiet:
        log.warning(
            "health counters %s..%s: %d keys differ (%d deliveries)%s",
            first_day,
            last_day,
            len(result.differences),
            result.deliveries_off,
            ", repaired" if result.repaired else "",
        )
    return result


def _repair(differences: list[Difference], actual: dict[CounterKey, Counted]) -> None:
    for difference in differences:
        key = difference.key
        rows = DailyCounter.objects.filter(
            day=key.day, step_id=key.step_id, outcome=key.outcome, reason=key.reason
        )
        if difference.actual is None:
            rows.delete()
            continue
        counted = actual[key]
        fields = {
            "flow_id": counted.flow_id,
            "account_id": counted.account_id,
            **counted.tally.as_fields(),
        }
        if not rows.update(**fields):
            DailyCounter.objects.create(
                day=key.day, step_id=key.step_id, outcome=key.outcome, reason=key.reason, **fields
            )


def _replace_all(first_day: date, last_day: date, actual: dict[CounterKey, Counted]) -> None:
    DailyCounter.objects.filter(day__gte=first_day, day__lte=last_day).delete()
    DailyCounter.objects.bulk_create(
        [
            DailyCounter(
                day=key.day,
                step_id=key.step_id,
                outcome=key.outcome,
                reason=key.reason,
                flow_id=counted.flow_id,
                account_id=counted.account_id,
                **counted.tally.as_fields(),
            )
            for key, counted in actual.items()
        ],
        batch_size=1000,
    )
