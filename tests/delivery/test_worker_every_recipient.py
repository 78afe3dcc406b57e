"""The same demo lead, end to end through a real worker, into each of the three CRMs:
every standard field lands where that CRM keeps it."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from integrations.sandbox.keap.models import Contact as SandboxKeapContact
from tests.factories import FULL_LEAD, flow_with_step, highlevel_account, keap_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(autouse=True)
def sandboxes(live_server, sandbox_urls, celery_worker):
    for crm in ("keap", "highlevel"):
        requests.post(
            f"{live_server.url}/sandbox/{crm}/_control/faults", json={"reset": True}, timeout=5
        )


def deliver(live_server, flow, key):
    response = requests.post(
        f"{live_server.url}/api/v1/flows/{flow.pk}/leads?wait=20",
        json=FULL_LEAD,
        headers={"X-Api-Key": key},
        timeout=40,
    )
    assert response.status_code == 200, response.text
    [step] = response.json()["steps"]
    assert step["outcome"] == "success", step
    assert step["duplicate"] is False and step["contact_id"]
    return step


def sandbox_contact(live_server, crm):
    url = f"{live_server.url}/sandbox/{crm}/_control/contacts"
    [contact] = requests.get(url, params={"email": FULL_LEAD["email"]}, timeout=5).json()[
        "contacts"
    ]
    return contact


def test_keap_xmlrpc_gets_every_standard_field_under_its_legacy_names(live_server):
    flow, _, key = flow_with_step(
        recipient="keap_xmlrpc",
        tags=[100],
        campaigns=[{"kind": "followup_sequence", "item_id": "200"}],
    )
    step = deliver(live_server, flow, key)
    contact = sandbox_contact(live_server, "keap")
    assert str(contact["id"]) == step["contact_id"]
    assert (
        contact["given_name"],
        contact["middle_name"],
        contact["family_name"],
        contact["suffix"],
    ) == ("Ann", "Q", "Lee", "Jr")
    assert len(contact["phone_numbers"]) == 3
    assert contact["addresses"][0]["line1"] == "1 Main St"
    assert contact["addresses"][0]["line2"] == "Suite 5"
    assert contact["addresses"][0]["locality"] == "Phoenix"
    assert contact["addresses"][0]["postal_code"] == "85001"
    assert contact["website"] == "https://ann.example.com"
    assert contact["job_title"] == "CTO"
    assert contact["birthday"].startswith("1990-09-25")
    assert contact["notes"] == "Wants a call after 5pm"  # ContactNotes: the person notes
    assert [t["id"] for t in contact["tags"]] == [100]
    assert [s["sequence_id"] for s in contact["sequences"]] == [200]


def test_highlevel_gets_every_field_it_keeps(live_server):
    flow, _, key = flow_with_step(
        account=highlevel_account(), recipient="highlevel", tags=["new-lead"]
    )
    step = deliver(live_server, flow, key)
    contact = sandbox_contact(live_server, "highlevel")
    assert contact["id"] == step["contact_id"]
    assert (contact["firstName"], contact["lastName"]) == ("Ann", "Lee")
    assert contact["email"] == "ann.lee@example.com"
    assert contact["phone"] == "+16025550101"
    assert contact["address1"] == "1 Main St, Suite 5"
    assert (contact["city"], contact["state"], contact["postalCode"], contact["country"]) == (
        "Phoenix",
        "AZ",
        "85001",
        "US",
    )
    assert contact["website"] == "https://ann.example.com"
    assert contact["dateOfBirth"].startswith("1990-09-25")
    assert contact["tags"] == ["new-lead"]


def test_a_second_lead_is_a_duplicate_in_every_crm(live_server):
    keap = keap_account()
    flows = [
        flow_with_step(account=keap, flow_name="rest", recipient="keap_rest"),
        flow_with_step(account=keap, flow_name="xmlrpc", recipient="keap_xmlrpc"),
        flow_with_step(account=highlevel_account(), flow_name="hl", recipient="highlevel"),
    ]
    for flow, _, key in flows:
        first = deliver(live_server, flow, key)
        # Keap's upsert tells a match by its timestamps, which are to the second: the
        # repeat of a real lead comes later than the second its contact was made in.
        SandboxKeapContact.objects.update(date_created=timezone.now() - timedelta(minutes=5))
        response = requests.post(
            f"{live_server.url}/api/v1/flows/{flow.pk}/leads?wait=20",
            json=FULL_LEAD,
            headers={"X-Api-Key": key},
            timeout=40,
        )
        [again] = response.json()["steps"]
        assert (again["outcome"], again["duplicate"], again["contact_id"]) == (
            "success",
            True,
            first["contact_id"],
        ), flow.name
        # REST and XML-RPC share one Keap store: the next flow starts from an empty one.
        requests.post(
            f"{live_server.url}/sandbox/keap/_control/faults", json={"wipe_data": True}, timeout=5
        )
