"""Threshold alerts: crossing one mails the admins once; nothing more until the step
recovers and crosses again. Thresholds apply per step, else per account, else global."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from integrations.health.alerts import alerts_active, alerts_check
from integrations.health.thresholds import thresholds_load
from integrations.models import AlertState, Metric, Outcome, Threshold
from tests.factories import finished_delivery, flow_with_step

pytestmark = pytest.mark.django_db


@pytest.fixture
def step(settings):
    settings.HEALTH_ALERT_MIN_DELIVERIES = 5
    get_user_model().objects.create_superuser("boss", "boss@example.com", "x-long-password-1")
    return flow_with_step()[1]


def deliver(step, *, successes: int, failures: int, at=None):
    for outcome, n in ((Outcome.SUCCESS, successes), (Outcome.FAILURE, failures)):
        for _ in range(n):
            finished_delivery(step, outcome=outcome, reason="invalid email", response_ms=200,
                              finished_at=at or timezone.now())  # fmt: skip


def test_crossing_sends_one_email_then_none_until_recovery_and_a_new_crossing(step):
    deliver(step, successes=8, failures=2)  # 80 % < 90 %
    crossings = alerts_check()
    assert [(c.step_id, c.metric) for c in crossings] == [(step.pk, Metric.SUCCESS_RATE)]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["boss@example.com"]
    assert "Success rate 80.0 %, below 90 %" in mail.outbox[0].body
    assert [a.step_id for a in alerts_active()] == [step.pk]  # the banner

    assert alerts_check() == []  # still under: no repeat
    assert len(mail.outbox) == 1

    deliver(step, successes=90, failures=0)  # 98 %: recovered
    assert alerts_check() == []
    assert len(mail.outbox) == 1
    assert alerts_active() == []

    deliver(step, successes=0, failures=40)  # 65 %: crosses again
    assert len(alerts_check()) == 1
    assert len(mail.outbox) == 2


def test_too_few_deliveries_are_not_judged(step):
    deliver(step, successes=1, failures=3)
    assert alerts_check() == []
    assert not AlertState.objects.filter(alerting=True).exists()


def test_old_deliveries_are_outside_the_window(step):
    deliver(step, successes=0, failures=10, at=timezone.now() - timedelta(hours=30))
    assert alerts_check() == []


def test_a_step_threshold_overrides_the_account_and_the_global_one(step):
    Threshold.objects.create(min_success_pct=70)
    Threshold.objects.create(account=step.account, max_response_ms=150)
    Threshold.objects.create(step=step, min_success_pct=85)
    book = thresholds_load()
    limits = book.for_step(step.pk, step.account_id)
    assert (limits.min_success_pct, limits.max_response_ms, limits.max_duplicate_pct) == (
        85,
        150,
        50,
    )
    assert book.overall().min_success_pct == 70

    deliver(step, successes=8, failures=2)  # 80 % < 85 %; 200 ms > 150 ms
    assert {c.metric for c in alerts_check()} == {Metric.SUCCESS_RATE, Metric.RESPONSE_MS}
    assert len(mail.outbox) == 1  # one email for the crossings of one check


def test_thresholds_are_edited_in_the_admin_one_row_per_scope(client, step):
    client.force_login(get_user_model().objects.get(username="boss"))
    assert client.get("/admin/integrations/threshold/add/").status_code == 200
    form = {"account": "", "step": "", "min_success_pct": "92", "max_response_ms": "",
            "max_duplicate_pct": ""}  # fmt: skip
    assert client.post("/admin/integrations/threshold/add/", form).status_code == 302
    assert thresholds_load().overall().min_success_pct == 92
    again = client.post("/admin/integrations/threshold/add/", form)
    assert again.status_code == 200 and "edit those" in again.content.decode()
    both = {**form, "account": step.account_id, "step": step.pk}
    assert "not both" in client.post("/admin/integrations/threshold/add/", both).content.decode()
