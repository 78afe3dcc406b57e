"""`make run`'s demo seeds three weeks of labelled history once, counted, with one step
under its success threshold."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from integrations.health.reconcile import counters_reconcile
from integrations.health.reports import Scope, report_build, window_parse
from integrations.health.thresholds import Badge
from integrations.models import Delivery, Lead, Metric

pytestmark = pytest.mark.django_db


def test_the_demo_history_is_seeded_once_labelled_and_counted():
    call_command("demo_seed", stdout=StringIO())
    leads = Lead.objects.filter(source__name="Demo history (generated)")
    created = leads.count()
    assert created > 1000
    assert all(lead.payload["demo_history"] for lead in leads[:50])
    assert not leads.exclude(email__startswith="demo-history-").exists()

    call_command("demo_seed", stdout=StringIO())
    assert leads.count() == created  # idempotent

    days = sorted({d.finished_at.date() for d in Delivery.objects.all()})
    assert (days[-1] - days[0]).days >= 20
    check = counters_reconcile(first_day=days[0], last_day=days[-1], repair=False)
    assert check.differences == []

    report = report_build(
        window=window_parse(key="30d", since=None, until=None, now=timezone.now()),
        scope=Scope(),
        group="step",
    )
    badges = [row.badge(Metric.SUCCESS_RATE) for row in report.rows]
    assert badges.count(Badge.ALERT) == 1, badges
