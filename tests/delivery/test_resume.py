"""Resume, don't repeat: a delivery is a plan of CRM operations whose results are saved
as each completes, so a retry runs only what is left, and a follow-up that fails after
the contact exists keeps the contact and names the part that failed.

The engine runs in-process against the sandboxes over a real socket; the sandbox
counts every call it receives.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.delivery.engine import delivery_attempt
from integrations.models import Delivery, DeliveryStatus
from integrations.sandbox.keap.models import Contact as KeapContact
from tests.factories import accept_lead, flow_with_step, highlevel_account

pytestmark = pytest.mark.django_db(transaction=True)

LEAD = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "comments": "Hi"}
DEMO_KEAP_REST = {
    "tags": [100, 101],
    "campaigns": [{"kind": "keap_sequence", "item_id": "45", "sequence_id": "1"}],
}


def attempt_until_done(delivery: Delivery, *, tries: int = 5) -> Delivery:
    """Run the delivery's tries back to back, as the worker would after each backoff."""
    for _ in range(tries):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        delivery_attempt(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        if delivery.status == DeliveryStatus.DONE:
            break
    return delivery


def new_delivery(flow, fields=LEAD) -> Delivery:
    return accept_lead(flow, fields, enqueue=False).deliveries.get()


def test_a_retry_after_a_failed_tags_call_makes_no_call_twice(keap_sandbox):
    flow, _, _ = flow_with_step(**DEMO_KEAP_REST)
    keap_sandbox.fault(status=503, path="tags", method="POST")
    delivery = attempt_until_done(new_delivery(flow))

    assert (delivery.outcome, delivery.attempt_count) == ("success", 2)
    assert keap_sandbox.calls() == {
        "PUT crm/rest/v1/contacts": 1,
        "POST crm/rest/v1/notes": 1,
        "POST crm/rest/v1/contacts/{contact_id}/tags": 2,  # the 503, then the retry
        "POST crm/rest/v1/campaigns/{campaign_id}/sequences/{sequence_id}/contacts/{contact_id}": 1,
    }
    [contact] = keap_sandbox.contacts("ann@example.com")
    assert str(contact["id"]) == delivery.contact_id
    assert sorted(contact["tag_ids"]) == [100, 101]
    assert len(contact["note_records"]) == 1


def test_the_demo_keap_rest_lead_costs_one_call_per_operation_and_no_lookup(keap_sandbox):
    flow, _, _ = flow_with_step(**DEMO_KEAP_REST)
    first = attempt_until_done(new_delivery(flow))
    # Keap's timestamps are to the second: a contact matched a moment after it was
    # made reads as new, so let this one be older.
    KeapContact.objects.update(date_created=timezone.now() - timedelta(hours=1))
    again = attempt_until_done(new_delivery(flow))
    assert (first.duplicate, again.duplicate) == (False, True)  # told by PUT's timestamps
    assert first.contact_id == again.contact_id
    calls = keap_sandbox.calls()
    assert "GET crm/rest/v1/contacts" not in calls
    assert sum(calls.values()) == 2 * 4


def test_a_follow_up_that_fails_keeps_the_contact_and_names_the_part(keap_sandbox):
    flow, _, _ = flow_with_step(tags=[100, 99999])
    delivery = attempt_until_done(new_delivery(flow))
    [contact] = keap_sandbox.contacts("ann@example.com")
    assert (delivery.outcome, delivery.reason) == ("failure", "tags: tag id not found")
    assert (delivery.contact_id, delivery.duplicate) == (str(contact["id"]), False)


def test_a_note_that_is_not_found_is_named_and_the_contact_kept(keap_sandbox):
    flow, _, _ = flow_with_step()
    keap_sandbox.fault(status=404, path="notes")
    delivery = attempt_until_done(new_delivery(flow))
    [contact] = keap_sandbox.contacts("ann@example.com")
    assert (delivery.outcome, delivery.reason) == ("failure", "note: not found")
    assert delivery.contact_id == str(contact["id"])


def test_exhausted_retries_keep_the_contact_and_the_part_that_failed(keap_sandbox):
    flow, _, _ = flow_with_step(tags=[100], retry_schedule="0.1s")  # two attempts
    keap_sandbox.fault(status=503, path="tags", count=5)
    delivery = attempt_until_done(new_delivery(flow))
    assert (delivery.outcome, delivery.reason) == ("error", "tags: CRM server error (503)")
    assert delivery.contact_id and delivery.duplicate is False
    assert keap_sandbox.calls()["PUT crm/rest/v1/contacts"] == 1


def test_a_note_that_may_have_been_added_is_looked_up_not_added_twice(keap_sandbox):
    flow, _, _ = flow_with_step()
    keap_sandbox.fault(status=503, path="notes", method="POST", created=True)
    delivery = attempt_until_done(new_delivery(flow))
    [contact] = keap_sandbox.contacts("ann@example.com")
    assert delivery.outcome == "success"
    assert len(contact["note_records"]) == 1
    assert keap_sandbox.calls()["GET crm/rest/v1/notes"] == 1


@pytest.mark.parametrize("fault", [{"status": 503}, {"malformed": True}, {"drop": True}])
def test_a_keap_rest_create_answered_badly_is_adopted_on_retry(keap_sandbox, fault):
    flow, _, _ = flow_with_step(action="create")
    keap_sandbox.fault(created=True, path="contacts", method="POST", **fault)
    delivery = attempt_until_done(new_delivery(flow))
    [contact] = keap_sandbox.contacts("ann@example.com")
    assert (delivery.outcome, delivery.contact_id) == ("success", str(contact["id"]))


def test_a_plain_create_pays_for_no_lookup_when_nothing_may_have_been_sent(keap_sandbox):
    flow, _, _ = flow_with_step(action="create")
    keap_sandbox.fault(status=429, path="contacts", method="POST")  # a gateway no: not processed
    delivery = attempt_until_done(new_delivery(flow), tries=1)
    # The create was marked as sent before the call, and unmarked by the 429: the
    # retry (after the account's pause) will not look the contact up first.
    assert delivery.progress == {"done": {}, "sent": []}
    assert "GET crm/rest/v1/contacts" not in keap_sandbox.calls()


def test_an_xmlrpc_add_answered_by_a_timeout_is_adopted_on_retry(keap_sandbox, settings):
    settings.CRM_READ_TIMEOUT = 0.5
    flow, _, _ = flow_with_step(recipient="keap_xmlrpc", action="create", tags=[100])
    keap_sandbox.fault(created=True, latency_ms=1500, path="ContactService.add")
    delivery = attempt_until_done(new_delivery(flow))
    [contact] = keap_sandbox.contacts("ann@example.com")
    assert (delivery.outcome, delivery.contact_id) == ("success", str(contact["id"]))


def test_an_xmlrpc_retry_saves_the_contact_once_and_resumes_at_the_tags(keap_sandbox):
    flow, _, _ = flow_with_step(recipient="keap_xmlrpc", tags=[100, 101])
    keap_sandbox.fault(status=503, path="addToGroup")
    first = attempt_until_done(new_delivery(flow), tries=1)
    assert first.status == DeliveryStatus.PENDING and first.reason == "tags: CRM server error"
    # The faulted addToGroup never reached ContactService.
    assert keap_sandbox.calls("xmlrpc_calls") == {
        "ContactService.findByEmail": 1,
        "ContactService.addWithDupCheck": 1,
    }
    keap_sandbox.fault(reset=True)  # zeroes the counters
    delivery = attempt_until_done(first)
    assert delivery.outcome == "success"
    assert keap_sandbox.calls("xmlrpc_calls") == {"ContactService.addToGroup": 2}
    [contact] = keap_sandbox.contacts("ann@example.com")
    assert sorted(contact["tag_ids"]) == [100, 101]


@pytest.mark.parametrize("fault", [{"status": 422}, {"status": 503}, {"latency_ms": 1500}])
def test_a_highlevel_create_that_still_made_the_contact_is_adopted(
    highlevel_sandbox, settings, fault
):
    settings.CRM_READ_TIMEOUT = 0.5
    flow, _, _ = flow_with_step(
        account=highlevel_account(), recipient="highlevel", action="create", tags=["vip"]
    )
    highlevel_sandbox.fault(created=True, path="contacts", method="POST", **fault)
    delivery = attempt_until_done(new_delivery(flow))
    contacts = highlevel_sandbox.contacts("ann@example.com")
    assert len(contacts) == 1
    if fault.get("status") == 422:  # a validation answer is final: no retry to adopt it
        assert delivery.outcome == "failure"
    else:
        assert (delivery.outcome, delivery.contact_id) == ("success", contacts[0]["id"])
        assert contacts[0]["tags"] == ["vip"]
