"""Reconciliation: the nightly check finds counters that disagree with the deliveries
and repairs them; counters_rebuild does the same for any range of days."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from integrations.health.counters import counters_record, utc_day
from integrations.health.reconcile import counters_reconcile
from integrations.models import DailyCounter, Outcome
from integrations.tasks import reconcile_health_counters
from tests.factories import finished_delivery, flow_with_step

pytestmark = pytest.mark.django_db


@pytest.fixture
def yesterday_counted():
    """Yesterday: 3 successes, 2 failures, all counted by the engine's hook."""
    step = flow_with_step()[1]
    moment = timezone.now() - timedelta(days=1)
    for outcome, n in ((Outcome.SUCCESS, 3), (Outcome.FAILURE, 2)):
        for _ in range(n):
            delivery = finished_delivery(
                step, outcome=outcome, reason="invalid email" if n == 2 else "",
                response_ms=150, finished_at=moment,
            )  # fmt: skip
            counters_record(delivery=delivery)
    return step, utc_day(moment)


def test_counters_kept_by_the_hook_need_no_repair(yesterday_counted):
    _, day = yesterday_counted
    result = counters_reconcile(first_day=day, last_day=day, repair=True)
    assert (result.keys_checked, result.differences, result.repaired) == (2, [], False)


def test_a_planted_difference_is_found_and_repaired(yesterday_counted):
    step, day = yesterday_counted
    DailyCounter.objects.filter(outcome=Outcome.SUCCESS).update(deliveries=5, lat_02=0)
    DailyCounter.objects.filter(outcome=Outcome.FAILURE).delete()
    DailyCounter.objects.create(
        day=day, step=step, flow=step.flow, outcome=Outcome.ERROR, reason="ghost", deliveries=4
    )

    result = counters_reconcile(first_day=day, last_day=day, repair=True)

    assert {d.key.outcome for d in result.differences} == {"success", "failure", "error"}
    assert result.deliveries_off == 2 + 2 + 4
    assert result.repaired
    again = counters_reconcile(first_day=day, last_day=day, repair=False)
    assert again.differences == []
    rows = {c.outcome: c.deliveries for c in DailyCounter.objects.all()}
    assert rows == {Outcome.SUCCESS: 3, Outcome.FAILURE: 2}


def test_the_nightly_task_checks_yesterday(yesterday_counted):
    DailyCounter.objects.filter(outcome=Outcome.SUCCESS).update(deliveries=1)
    assert reconcile_health_counters() == 1
    assert reconcile_health_counters() == 0


def test_counters_rebuild_dry_run_reports_and_changes_nothing(yesterday_counted):
    _, day = yesterday_counted
    DailyCounter.objects.all().delete()
    out = StringIO()
    call_command("counters_rebuild", "--from", str(day), "--to", str(day), "--dry-run", stdout=out)
    assert "2 differed (5 deliveries), would repair 2." in out.getvalue()
    assert not DailyCounter.objects.exists()

    call_command("counters_rebuild", "--from", str(day), "--to", str(day), stdout=StringIO())
    assert sum(DailyCounter.objects.values_list("deliveries", flat=True)) == 5


def test_a_lost_range_of_many_counters_is_rebuilt_in_bulk():
    step = flow_with_step()[1]
    moment = timezone.now() - timedelta(days=2)
    for n in range(60):
        counters_record(
            delivery=finished_delivery(
                step, outcome=Outcome.FAILURE, reason=f"reason {n}", finished_at=moment
            )
        )
    day = utc_day(moment)
    DailyCounter.objects.all().delete()
    assert len(counters_reconcile(first_day=day, last_day=day, repair=True).differences) == 60
    assert counters_reconcile(first_day=day, last_day=day, repair=False).differences == []
    assert DailyCounter.objects.count() == 60
