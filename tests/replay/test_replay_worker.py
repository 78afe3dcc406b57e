"""Replaying deliveries from the admin, through a real worker and the Keap sandbox.

The failed deliveries are history written by the factory (a failure, with the attempt
that said so); the replay itself goes through the outbox, the worker and the sandbox.
"""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from integrations.models import (
    Attempt,
    Delivery,
    ItemState,
    LeadRevision,
    Replay,
    ReplayItem,
    Step,
)
from integrations.replay.selectors import item_new_attempts
from integrations.roles import SUPPORT
from tests.factories import (
    accept_lead,
    failed_delivery,
    flow_with_step,
    keap_account,
    replay_ended,
    staff_in_role,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture
def support(client):
    client.force_login(staff_in_role(SUPPORT))
    return client


def lead(n: int, **extra) -> dict:
    return {"first_name": "Rita", "last_name": f"Play{n}", "email": f"rita{n}@example.com", **extra}


def test_replay_one_delivery_keeps_the_failed_run_and_links_the_new_attempts(keap_worker, support):
    flow, step, _ = flow_with_step()
    delivery = failed_delivery(flow, lead(1))
    old_attempt = delivery.attempts.get()

    response = support.post(reverse("admin:delivery_replay", args=[delivery.pk]), {"confirm": "1"})

    replay = Replay.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:integrations_replay_change", args=[replay.pk])
    replay = replay_ended(replay.pk)
    assert (replay.state, replay.total, replay.outcomes) == ("finished", 1, {"success": 1})
    delivery.refresh_from_db()
    assert delivery.outcome == "success" and delivery.contact_id
    item = ReplayItem.objects.get(replay=replay)
    assert (item.previous_outcome, item.previous_reason) == ("failure", "rejected by the CRM")
    assert item.outcome == "success" and item.state == ItemState.DONE
    new = item_new_attempts(item=item)
    assert new and all(a.id > old_attempt.pk for a in new)
    assert new[-1].status_code in (200, 201)
    # History is never overwritten: the failed attempt is still there, unchanged.
    old_attempt.refresh_from_db()
    assert old_attempt.status_code == 400 and "rita1@example.com" in old_attempt.request_body
    assert keap_worker.contacts("rita1@example.com")


def test_replay_the_selected_deliveries_from_the_list_action(keap_worker, support):
    flow, _, _ = flow_with_step()
    chosen = [failed_delivery(flow, lead(n)) for n in range(3)]
    left_alone = failed_delivery(flow, lead(9))

    response = support.post(
        reverse("admin:integrations_delivery_changelist"),
        {
            "action": "replay_selected",
            ACTION_CHECKBOX_NAME: [d.pk for d in chosen],
            "confirm": "Replay",
        },
    )

    assert response.status_code == 302
    replay = replay_ended(Replay.objects.get().pk)
    assert replay.total == 3 and replay.outcomes == {"success": 3}
    assert {d.outcome for d in Delivery.objects.filter(pk__in=[d.pk for d in chosen])} == {
        "success"
    }
    left_alone.refresh_from_db()
    assert left_alone.outcome == "failure" and left_alone.attempts.count() == 1


def test_replay_every_failure_matching_the_lists_filters(keap_worker, support):
    flow, step, _ = flow_with_step()
    other_flow, other_step, _ = flow_with_step(flow_name="Other flow")
    matching = [failed_delivery(flow, lead(n), reason="duplicate email rejected") for n in range(3)]
    other_reason = failed_delivery(flow, lead(5), reason="invalid phone")
    other_step_failure = failed_delivery(other_flow, lead(6), reason="duplicate email rejected")
    success = failed_delivery(flow, lead(7), outcome="success")

    filters = f"step__id__exact={step.pk}&reason=duplicate+email+rejected"
    url = reverse("admin:delivery_replay_all") + "?" + filters
    page = support.get(url)
    assert page.status_code == 200
    assert b'class="replay-replayable">3<' in page.content

    support.post(url, {"confirm": "Replay"})

    replay = replay_ended(Replay.objects.get().pk)
    assert replay.kind == "filter" and replay.total == 3
    assert "reason=duplicate email rejected" in replay.description
    for d in matching:
        d.refresh_from_db()
        assert d.outcome == "success"
    for d in (other_reason, other_step_failure, success):
        before = d.attempt_count
        d.refresh_from_db()
        assert d.attempts.count() == 1 and d.attempt_count == before


def test_edit_then_replay_keeps_the_payload_and_records_a_revision(keap_worker, support):
    flow, _, _ = flow_with_step()
    delivery = failed_delivery(flow, lead(1, email="rita1@example"))  # a broken address
    payload = dict(delivery.lead.payload)

    support.post(
        reverse("admin:delivery_replay", args=[delivery.pk]),
        {"confirm": "1", "field:email": "rita1@example.com", "field:first_name": "Rita"},
    )

    replay = replay_ended(Replay.objects.get().pk)
    assert replay.outcomes == {"success": 1}
    delivery.refresh_from_db()
    delivery.lead.refresh_from_db()
    assert delivery.lead.payload == payload  # as received, never overwritten
    assert delivery.lead.fields["email"] == "rita1@example.com"
    revision = LeadRevision.objects.get(lead=delivery.lead)
    assert revision.before["email"] == "rita1@example"
    assert revision.after["email"] == "rita1@example.com"
    assert revision.changed_by.username == "support"
    item = ReplayItem.objects.get()
    new = Attempt.objects.filter(pk__in=[a.id for a in item_new_attempts(item=item)])
    assert any("rita1@example.com" in a.request_body for a in new)
    assert keap_worker.contacts("rita1@example.com")


def two_step_flow():
    flow, first, key = flow_with_step(name="First")
    second = Step.objects.create(
        flow=flow, name="Second", position=2, account=first.account, recipient=first.recipient
    )
    return flow, first, second


def second_delivery(first: Delivery, step: Step, *, outcome: str) -> Delivery:
    from django.utils import timezone

    delivery = Delivery.objects.create(
        lead=first.lead,
        step=step,
        status="done",
        outcome=outcome,
        reason="" if outcome == "success" else "rejected by the CRM",
        attempt_count=1,
        finished_at=timezone.now(),
    )
    Attempt.objects.create(delivery=delivery, number=1, method="POST", url="https://x.invalid/")
    return delivery


def test_a_step_that_succeeded_is_not_re_run(keap_worker, support):
    flow, first, second = two_step_flow()
    done = failed_delivery(flow, lead(1), outcome="success")
    failed = second_delivery(done, second, outcome="failure")

    support.post(reverse("admin:delivery_replay", args=[failed.pk]), {"confirm": "1"})

    replay_ended(Replay.objects.get().pk)
    failed.refresh_from_db()
    done.refresh_from_db()
    assert failed.outcome == "success" and failed.attempts.count() > 1
    assert done.attempts.count() == 1 and done.attempt_count == 1  # not sent again


def test_replaying_a_step_re_runs_the_failed_steps_after_it_in_order(keap_worker, support):
    flow, first, second = two_step_flow()
    head = failed_delivery(flow, lead(1))
    tail = second_delivery(head, second, outcome="failure")

    support.post(reverse("admin:delivery_replay", args=[head.pk]), {"confirm": "1"})

    replay = replay_ended(Replay.objects.get().pk)
    assert replay.total == 2 and replay.outcomes == {"success": 2}
    head.refresh_from_db()
    tail.refresh_from_db()
    assert head.outcome == tail.outcome == "success"
    follow_up = ReplayItem.objects.get(delivery=tail)
    assert follow_up.parent.delivery_id == head.pk
    first_new = item_new_attempts(item=ReplayItem.objects.get(delivery=head))
    assert min(a.id for a in item_new_attempts(item=follow_up)) > max(a.id for a in first_new)


def test_replaying_a_success_asks_for_confirmation(keap_worker, support):
    flow, _, _ = flow_with_step()
    done = failed_delivery(flow, lead(1), outcome="success")
    url = reverse("admin:delivery_replay", args=[done.pk])

    page = support.get(url)
    assert b"Yes, send the successful deliveries again" in page.content
    unconfirmed = support.post(url, {"confirm": "1"})
    assert unconfirmed.status_code == 200
    assert b"This delivery succeeded: confirm to send it again." in unconfirmed.content
    assert not Replay.objects.exists()

    support.post(url, {"confirm": "1", "include_succeeded": "on"})

    replay = replay_ended(Replay.objects.get().pk)
    assert replay.include_succeeded and replay.outcomes == {"success": 1}
    assert done.attempts.count() > 1


def test_selected_successes_are_left_out_unless_confirmed(keap_worker, support):
    flow, _, _ = flow_with_step()
    failed = failed_delivery(flow, lead(1))
    done = failed_delivery(flow, lead(2), outcome="success")
    data = {"action": "replay_selected", ACTION_CHECKBOX_NAME: [failed.pk, done.pk]}

    page = support.post(reverse("admin:integrations_delivery_changelist"), data)
    assert b'class="replay-succeeded">1<' in page.content
    support.post(reverse("admin:integrations_delivery_changelist"), {**data, "confirm": "Replay"})

    replay = replay_ended(Replay.objects.get().pk)
    assert replay.total == 1
    assert done.attempts.count() == 1


def new_attempt_times(replay: Replay) -> list[float]:
    times = []
    for item in replay.items.all():
        ids = [a.id for a in item_new_attempts(item=item)]
        times += [a.started_at.timestamp() for a in Attempt.objects.filter(pk__in=ids)]
    return sorted(times)


def busiest_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


def test_bulk_replay_never_goes_above_the_accounts_rate(keap_worker, support):
    """The account's rate counts CRM calls (a delivery makes one or more); the replay
    keeps every one-second window within it, releasing at 80 % of it on average."""
    account = keap_account(rate_limit_per_second=10, rate_limit_per_minute=600)
    flow, step, _ = flow_with_step(account=account)
    for n in range(40):
        failed_delivery(flow, lead(n))

    support.post(
        reverse("admin:delivery_replay_all") + f"?step__id__exact={step.pk}", {"confirm": "1"}
    )

    replay = replay_ended(Replay.objects.get().pk, timeout=90)
    assert replay.outcomes == {"success": 40}
    calls = new_attempt_times(replay)
    assert len(calls) >= 40
    assert busiest_second(calls) <= 10
    # At 0.8 × 10 calls/s, less the first tick's burst (one delivery or a tick's worth).
    assert calls[-1] - calls[0] >= (len(calls) - 4) / 8.0 - 0.5


def test_cancel_stops_what_has_not_started(keap_worker, support):
    account = keap_account(rate_limit_per_second=1)
    flow, step, _ = flow_with_step(account=account)
    deliveries = [failed_delivery(flow, lead(n)) for n in range(12)]
    support.post(
        reverse("admin:delivery_replay_all") + f"?step__id__exact={step.pk}", {"confirm": "1"}
    )
    replay = Replay.objects.get()

    from tests.factories import wait_until

    wait_until(lambda: Replay.objects.get(pk=replay.pk).finished >= 1, timeout=30)
    page = support.post(reverse("admin:integrations_replay_cancel", args=[replay.pk]))
    assert page.status_code == 302

    replay = replay_ended(replay.pk)
    assert replay.state == "cancelled" and replay.cancelled >= 6
    assert replay.finished + replay.cancelled + replay.skipped == 12
    untouched = [d for d in deliveries if d.attempts.count() == 1]
    assert len(untouched) == replay.cancelled
    assert all(Delivery.objects.get(pk=d.pk).outcome == "failure" for d in untouched)
    progress = support.get(reverse("admin:integrations_replay_change", args=[replay.pk]))
    assert b"replay-summary" in progress.content and b"cancelled" in progress.content


def test_a_replay_resumes_at_the_failed_part_and_creates_no_second_contact(keap_worker, support):
    from integrations.delivery.engine import delivery_attempt
    from integrations.models import DailyCounter, TagRule

    flow, step, _ = flow_with_step(tags=[99999])  # a tag id the sandbox does not have
    delivery = accept_lead(flow, lead(7), enqueue=False).deliveries.get()
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.reason) == ("failure", "tags: tag id not found")
    contact_id = delivery.contact_id
    TagRule.objects.filter(step=step).update(tag_id="100")  # the marketer fixes the tag
    before = keap_worker.stats()

    support.post(reverse("admin:delivery_replay", args=[delivery.pk]), {"confirm": "1"})

    replay = replay_ended(Replay.objects.get().pk)
    assert replay.outcomes == {"success": 1}
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.contact_id) == ("success", contact_id)
    assert len(keap_worker.contacts("rita7@example.com")) == 1
    after = keap_worker.stats()
    made = {
        call: n - before["api_calls"].get(call, 0)
        for call, n in after["api_calls"].items()
        if n != before["api_calls"].get(call, 0)
    }
    assert all("tags" in call for call in made), made  # only the part that failed
    # The health counters hold the replayed run's outcome, not both runs'.
    counts = dict(DailyCounter.objects.filter(step=step).values_list("outcome", "deliveries"))
    assert counts == {"success": 1}
