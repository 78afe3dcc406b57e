"""Rate limits, retries and auto-pause with a real worker against the Keap sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.contrib.auth import get_user_model

from integrations.delivery.autopause import account_resume
from integrations.models import Account, Attempt, Delivery
from tests.delivery.test_worker_end_to_end import faults, post_lead, sandbox  # noqa: F401
from tests.factories import flow_with_step, keap_account, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def done(delivery_ids, timeout=60):
    def check():
        rows = list(Delivery.objects.filter(pk__in=delivery_ids, status="done"))
        return rows if len(rows) == len(delivery_ids) else None

    return wait_until(check, timeout=timeout)


def delivery_of(lead_id) -> Delivery:
    return wait_until(lambda: Delivery.objects.filter(lead_id=lead_id).first())


def test_deliveries_over_the_quota_wait_their_turn_at_no_attempt_cost(live_server):
    # One call per second (plus the guard): a second call would wait over the 1 s bound,
    # so its delivery is rescheduled instead of sleeping in the worker.
    account = keap_account(rate_limit_per_second=1)
    flow, _, key = flow_with_step(account=account)
    leads = [
        post_lead(live_server, flow, key, {"email": f"q{i}@example.com"}).json()["id"]
        for i in range(3)
    ]
    deliveries = done([delivery_of(lead).pk for lead in leads])
    assert {(d.outcome, d.attempt_count) for d in deliveries} == {("success", 1)}
    calls = list(
        Attempt.objects.filter(delivery__in=deliveries)
        .order_by("started_at")
        .values_list("started_at", "status_code")
    )
    assert all(status < 400 for _, status in calls)  # no 429 from the sandbox
    gaps = [(b - a).total_seconds() for (a, _), (b, _) in zip(calls, calls[1:], strict=False)]
    assert min(gaps) >= 0.9


def test_errors_retry_on_the_steps_schedule_then_end_as_error(live_server):
    flow, _, key = flow_with_step(retry_schedule="0.4s, 0.8s")
    faults(live_server, status=503, count=20)
    lead_id = post_lead(live_server, flow, key, {"email": "sched@example.com"}).json()["id"]
    [delivery] = done([delivery_of(lead_id).pk])
    assert (delivery.outcome, delivery.reason, delivery.attempt_count) == (
        "error",
        "CRM server error (503)",
        3,
    )
    firsts = {}
    for number, started in Attempt.objects.filter(delivery=delivery).values_list(
        "number", "started_at"
    ):
        firsts.setdefault(number, started)
    assert sorted(firsts) == [1, 2, 3]
    assert firsts[2] - firsts[1] >= timedelta(seconds=0.4 * 0.8)
    assert firsts[3] - firsts[2] >= timedelta(seconds=0.8 * 0.8)


def test_an_account_that_only_fails_is_paused_held_and_resumed(live_server, worker_mail):
    get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-not-used-0")
    account = keap_account(autopause_after_seconds=1)
    flow, _, key = flow_with_step(account=account, retry_schedule=", ".join(["0.3s"] * 12))
    faults(live_server, status=503, count=100)
    first = delivery_of(post_lead(live_server, flow, key, {"email": "p1@example.com"}).json()["id"])
    wait_until(lambda: Delivery.objects.get(pk=first.pk).status == "held", timeout=30)
    account.refresh_from_db()
    assert account.paused_at is not None
    assert account.pause_reason.startswith("every delivery failed for")
    held = Delivery.objects.get(pk=first.pk)
    assert held.reason.startswith("account paused: every delivery failed")
    mail = wait_until(worker_mail, timeout=10)
    assert "boss@example.com" in mail[0] and "paused" in mail[0]

    # While paused, new leads are held too, without a call to the CRM.
    second = delivery_of(
        post_lead(live_server, flow, key, {"email": "p2@example.com"}).json()["id"]
    )
    wait_until(lambda: Delivery.objects.get(pk=second.pk).status == "held", timeout=20)
    assert not Attempt.objects.filter(delivery=second).exists()

    requests.post(
        f"{live_server.url}/sandbox/keap/_control/faults", json={"reset": True}, timeout=5
    ).raise_for_status()
    assert account_resume(account_id=account.pk) == 2
    finished = {d.pk: d for d in done([first.pk, second.pk])}
    assert {d.outcome for d in finished.values()} == {"success"}
    assert finished[second.pk].attempt_count == 1  # holds cost no attempt
    account = Account.objects.get(pk=account.pk)
    assert (account.paused_at, account.failing_since) == (None, None)
