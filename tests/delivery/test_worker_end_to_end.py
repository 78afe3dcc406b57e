"""Leads posted over HTTP reach the Keap sandbox through a real Celery worker process.

Real sockets all the way: the intake API on the live server, the broker, a separate
`celery worker` process on the test database, and the sandbox CRM it calls.
"""

from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.delivery.sweeper import delivery_sweep
from integrations.models import Attempt, Delivery, Lead
from integrations.sandbox.keap.models import Contact as SandboxKeapContact
from integrations.tasks import deliver
from tests.conftest import wait_until
from tests.factories import FULL_LEAD, accept_lead, flow_with_step, keap_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(autouse=True)
def sandbox(live_server, sandbox_urls, celery_worker):
    requests.post(
        f"{live_server.url}/sandbox/keap/_control/faults", json={"reset": True}, timeout=5
    )
    return live_server.url


def post_lead(live_server, flow, key, lead, *, wait=0):
    url = f"{live_server.url}/api/v1/flows/{flow.pk}/leads" + (f"?wait={wait}" if wait else "")
    return requests.post(url, json=lead, headers={"X-Api-Key": key}, timeout=40)


def sandbox_contacts(live_server, email):
    url = f"{live_server.url}/sandbox/keap/_control/contacts"
    return requests.get(url, params={"email": email}, timeout=5).json()["contacts"]


def finished(lead_id):
    def check():
        delivery = Delivery.objects.filter(lead_id=lead_id, status="done").first()
        return delivery

    return wait_until(check, timeout=30)


def faults(live_server, **fault):
    requests.post(
        f"{live_server.url}/sandbox/keap/_control/faults", json=fault, timeout=5
    ).raise_for_status()


def test_a_lead_with_all_17_standard_fields_arrives_with_every_one(live_server):
    flow, _, key = flow_with_step(
        tags=[100, 101],
        campaigns=[{"kind": "keap_sequence", "item_id": "45", "sequence_id": "1"}],
    )
    response = post_lead(live_server, flow, key, FULL_LEAD, wait=20)
    assert response.status_code == 200, response.text
    step = response.json()["steps"][0]
    assert step["outcome"] == "success", step
    [contact] = sandbox_contacts(live_server, FULL_LEAD["email"])
    assert step["contact_id"] == str(contact["id"]) and step["duplicate"] is False
    assert (
        contact["given_name"],
        contact["middle_name"],
        contact["family_name"],
        contact["suffix"],
    ) == ("Ann", "Q", "Lee", "Jr")
    assert contact["email_addresses"][0]["email"] == "ann.lee@example.com"
    assert [p["number"] for p in contact["phone_numbers"]] == [
        "+16025550101",
        "+14805550102",
        "+16235550103",
    ]
    [address] = contact["addresses"]
    assert (address["field"], address["line1"], address["line2"], address["locality"]) == (
        "BILLING",
        "1 Main St",
        "Suite 5",
        "Phoenix",
    )
    assert (address["region"], address["country_code"], address["postal_code"]) == (
        "Arizona",
        "USA",
        "85001",
    )
    assert contact["website"] == "https://ann.example.com"
    assert contact["job_title"] == "CTO"
    assert contact["birthday"].startswith("1990-09-25")
    assert [n["body"] for n in contact["note_records"]] == ["Wants a call after 5pm"]
    assert sorted(t["id"] for t in contact["tags"]) == [100, 101]
    assert [(s["campaign_id"], s["sequence_id"]) for s in contact["sequences"]] == [(45, 1)]
    lead = Lead.objects.get(pk=response.json()["id"])
    attempts = Attempt.objects.filter(delivery__lead=lead)
    assert {a.status_code for a in attempts} <= {200, 201, 204}
    assert all("KeapAK" not in a.request_body + str(a.request_headers) for a in attempts)


@pytest.mark.parametrize(
    "match, second, same_contact",
    [
        ("Email", {"first_name": "Someone", "last_name": "Else"}, True),
        ("EmailAndName", {"first_name": "Ann", "last_name": "Lee"}, True),
        ("EmailAndName", {"first_name": "Bea", "last_name": "Lee"}, False),
        (
            "EmailAndNameAndCompany",
            {"first_name": "Ann", "last_name": "Lee", "company": "Acme"},
            True,
        ),
        (
            "EmailAndNameAndCompany",
            {"first_name": "Ann", "last_name": "Lee", "company": "Other"},
            False,
        ),
    ],
)
def test_duplicates_are_matched_by_the_steps_rule_and_updated(
    live_server, match, second, same_contact
):
    flow, _, key = flow_with_step(action="create_or_update", duplicate_match=match)
    base = {"email": "dup@example.com", "first_name": "Ann", "last_name": "Lee", "company": "Acme"}
    first = post_lead(live_server, flow, key, base, wait=20).json()["steps"][0]
    # Keap's timestamps are to the second, and the upsert's answer tells a match by
    # them (a contact matched in the second it was made reads as new): the repeat of
    # a real lead comes later than that.
    SandboxKeapContact.objects.update(date_created=timezone.now() - timedelta(minutes=5))
    again = post_lead(
        live_server, flow, key, {"email": "dup@example.com", "city": "Mesa", **second}, wait=20
    ).json()["steps"][0]
    assert first["outcome"] == again["outcome"] == "success"
    assert first["duplicate"] is False
    assert again["duplicate"] is same_contact
    assert (again["contact_id"] == first["contact_id"]) is same_contact
    assert len(sandbox_contacts(live_server, "dup@example.com")) == (1 if same_contact else 2)


def test_create_always_makes_a_new_contact(live_server):
    flow, _, key = flow_with_step(action="create")
    ids = {
        post_lead(live_server, flow, key, {"email": "twice@example.com"}, wait=20).json()["steps"][
            0
        ]["contact_id"]
        for _ in range(2)
    }
    assert len(ids) == 2


def test_5xx_then_success_is_retried_to_success(live_server):
    flow, _, key = flow_with_step()
    faults(live_server, status=503, count=2)
    lead_id = post_lead(live_server, flow, key, {"email": "retry@example.com"}).json()["id"]
    delivery = finished(lead_id)
    assert (delivery.outcome, delivery.attempt_count) == ("success", 3)
    assert len(sandbox_contacts(live_server, "retry@example.com")) == 1


def test_a_429_pauses_the_account_and_costs_no_attempt(live_server):
    flow, _, key = flow_with_step()
    faults(live_server, status=429, count=1)
    delivery = finished(post_lead(live_server, flow, key, {"email": "rl@example.com"}).json()["id"])
    assert (delivery.outcome, delivery.attempt_count) == ("success", 1)
    [limited] = Attempt.objects.filter(delivery=delivery, status_code=429)
    # The retry waited out the account's pause (no Retry-After: a backoff of seconds).
    first_after = Attempt.objects.filter(delivery=delivery, started_at__gt=limited.started_at)
    assert first_after.earliest("started_at").started_at >= limited.started_at + timedelta(
        seconds=1.5
    )


def test_a_timeout_is_retried_without_creating_a_second_contact(live_server):
    flow, _, key = flow_with_step(action="create")
    # Saved, then answered after the worker's 2 s read timeout. (A CRM that saves only
    # after the client gave up, and after its retry looked, is beyond any look-up.)
    faults(live_server, latency_ms=2500, count=1, created=True)
    delivery = finished(
        post_lead(live_server, flow, key, {"email": "slow@example.com"}).json()["id"]
    )
    assert delivery.outcome == "success" and delivery.attempt_count == 2
    assert Attempt.objects.filter(delivery=delivery, error="timeout").exists()
    assert len(sandbox_contacts(live_server, "slow@example.com")) == 1


def test_errors_that_retrying_cannot_fix_are_final_at_once(live_server):
    bad_key = keap_account(name="Bad key", api_key="KeapAK-wrong")
    flow, _, key = flow_with_step(account=bad_key)
    delivery = finished(post_lead(live_server, flow, key, {"email": "a@example.com"}).json()["id"])
    assert (delivery.outcome, delivery.reason, delivery.attempt_count) == (
        "error",
        "authentication rejected",
        1,
    )

    flow2, _, key2 = flow_with_step(flow_name="Bad field", mappings=[("score", "custom:424242")])
    delivery = finished(
        post_lead(live_server, flow2, key2, {"email": "b@example.com", "score": 3}).json()["id"]
    )
    assert (delivery.outcome, delivery.attempt_count) == ("failure", 1)


def test_a_duplicate_message_does_not_make_a_second_crm_call(live_server):
    flow, _, _ = flow_with_step(action="create")
    lead = accept_lead(flow, {"email": "once@example.com"}, enqueue=False)
    delivery = lead.deliveries.get()
    for _ in range(3):
        deliver.delay(delivery.pk)
    finished(lead.pk)
    assert len(sandbox_contacts(live_server, "once@example.com")) == 1
    assert Attempt.objects.filter(delivery=delivery).count() == 1


def test_the_sweeper_delivers_a_lead_whose_message_was_lost(live_server):
    flow, _, _ = flow_with_step()
    lead = accept_lead(flow, {"email": "lost@example.com"}, enqueue=False)  # message lost
    # Once its wake-up is older than the bound, the sweeper takes it as lost.
    later = timedelta(seconds=settings.DELIVERY_WAKEUP_LOST_AFTER_SECONDS + 1)
    swept = delivery_sweep(now=timezone.now() + later)
    assert lead.deliveries.get().pk in swept
    assert finished(lead.pk).outcome == "success"
    assert len(sandbox_contacts(live_server, "lost@example.com")) == 1


def test_an_idempotent_repeat_delivers_once(live_server):
    flow, _, key = flow_with_step(action="create")
    url = f"{live_server.url}/api/v1/flows/{flow.pk}/leads"
    headers = {"X-Api-Key": key, "Idempotency-Key": "order-991"}
    ids = {
        requests.post(url, json={"email": "idem@example.com"}, headers=headers, timeout=10).json()[
            "id"
        ]
        for _ in range(3)
    }
    assert len(ids) == 1
    finished(ids.pop())
    with transaction.atomic():
        assert Delivery.objects.count() == 1
    assert len(sandbox_contacts(live_server, "idem@example.com")) == 1
