"""HighLevelRecipient against the HighLevel sandbox over a real socket."""

from __future__ import annotations

import json
from datetime import date

import pytest
import requests
from django.conf import settings

from integrations.crm.base import ContactData, Credentials, CrmError, StepPlan
from integrations.crm.highlevel import HighLevelRecipient
from integrations.crm.http import CrmSession
from integrations.sandbox.highlevel import faults, schema, seed

pytestmark = pytest.mark.django_db(transaction=True)

# Which official request schema each call's body must satisfy: first match by URL wins.
DTO_BY_PATH = (
    ("/tags", "TagsDTO"),
    ("/workflow/", "CreateWorkflowDto"),
    ("/campaigns/", "AddContactToCampaignDto"),
    ("/contacts/upsert", "UpsertContactDto"),
    ("/contacts/", "CreateContactDto"),
)


class Sandbox:
    def __init__(self, base: str):
        self.base = base

    def control(self, name: str, body: dict) -> None:
        requests.post(f"{self.base}/_control/{name}", json=body, timeout=5).raise_for_status()

    def contacts(self, email: str = "") -> list[dict]:
        params = {"email": email} if email else {}
        response = requests.get(f"{self.base}/_control/contacts", params=params, timeout=5)
        return response.json()["contacts"]

    def deliver(self, contact, *, action="create_or_update", http=None, token=None, **plan):
        return HighLevelRecipient().deliver(
            contact=contact,
            plan=StepPlan(action=action, duplicate_match="Email", **plan),
            credentials=Credentials(
                base_url=self.base,
                api_key=token or settings.SANDBOX_HIGHLEVEL_TOKEN,
                location_id=settings.SANDBOX_HIGHLEVEL_LOCATION_ID,
            ),
            http=http or CrmSession(),
        )


@pytest.fixture
def sandbox(live_server):
    faults.reset()
    yield Sandbox(f"{live_server.url}/sandbox/highlevel")
    faults.reset()


def lead(**overrides) -> ContactData:
    fields = {
        "first_name": "Jane",
        "middle_name": "Q",
        "last_name": "Smith",
        "suffix": "Jr",
        "job_title": "CTO",
        "notes": "call after 5pm",
        "email": "jane@example.com",
        "phones": ["+15125550100", "+15125550199"],
        "address_line1": "456 Oak Ave",
        "address_line2": "Apt 4",
        "city": "Austin",
        "region_code": "US-TX",
        "region_name": "Texas",
        "postal_code": "78702",
        "country_alpha2": "US",
        "country_alpha3": "USA",
        "website": "https://smith.example",
        "birthday": date(1990, 9, 25),
        "company": "Smith Co",
        "custom_fields": {
            seed.CUSTOM_FIELD_LEAD_SCORE: 85,
            seed.CUSTOM_FIELD_UTM_CAMPAIGN: "spring",
        },
        "extra": {"source": "LeadFlow", "timezone": "America/Chicago"},
    }
    return ContactData(**{**fields, **overrides})


def test_create_sends_the_contact_and_returns_its_id(sandbox):
    result = sandbox.deliver(lead(), action="create")
    assert (result.outcome, result.duplicate) == ("success", False)
    [stored] = sandbox.contacts()
    assert stored["id"] == result.contact_id
    assert stored["name"] == "Jane Smith"
    assert stored["phone"] == "+15125550100"
    assert stored["address1"] == "456 Oak Ave, Apt 4"
    assert (stored["state"], stored["country"], stored["postalCode"]) == ("TX", "US", "78702")
    assert stored["dateOfBirth"] == "1990-09-25"
    assert stored["companyName"] == "Smith Co"
    assert stored["source"] == "LeadFlow"
    assert stored["customFields"] == [
        {"id": seed.CUSTOM_FIELD_LEAD_SCORE, "value": 85},
        {"id": seed.CUSTOM_FIELD_UTM_CAMPAIGN, "value": "spring"},
    ]


def test_create_of_an_existing_email_is_a_rejected_duplicate(sandbox):
    first = sandbox.deliver(lead(), action="create")
    again = sandbox.deliver(lead(phones=[]), action="create")
    assert again.outcome == "failure"
    assert again.reason == "duplicate contact rejected"
    assert again.duplicate is True
    assert again.contact_id == first.contact_id
    assert len(sandbox.contacts()) == 1


def test_create_in_a_location_allowing_duplicates_makes_a_second_contact(sandbox):
    sandbox.control("location", {"allow_duplicates": True})
    first = sandbox.deliver(lead(), action="create")
    second = sandbox.deliver(lead(), action="create")
    assert second.outcome == "success"
    assert second.contact_id != first.contact_id
    assert len(sandbox.contacts()) == 2


def test_create_or_update_updates_the_existing_contact_as_a_duplicate(sandbox):
    first = sandbox.deliver(lead())
    assert first.duplicate is False
    second = sandbox.deliver(lead(city="Dallas"))
    assert (second.outcome, second.duplicate) == ("success", True)
    assert second.contact_id == first.contact_id
    [stored] = sandbox.contacts()
    assert stored["city"] == "Dallas"


def test_allow_duplicates_option_creates_when_the_location_allows_it(sandbox):
    first = sandbox.deliver(lead())
    sandbox.control("location", {"allow_duplicates": True})
    second = sandbox.deliver(lead(), options={"allow_duplicates": True})
    assert (second.outcome, second.duplicate) == ("success", False)
    assert second.contact_id != first.contact_id


def test_tags_are_added_without_overwriting_existing_ones(sandbox):
    http = CrmSession()
    sandbox.deliver(lead(), tag_ids=("First",))
    sandbox.deliver(lead(), tag_ids=("second",), http=http)
    [stored] = sandbox.contacts()
    assert sorted(stored["tags"]) == ["first", "second"]
    upsert_call = next(c for c in http.calls if c.url.endswith("/contacts/upsert"))
    assert "tags" not in json.loads(upsert_call.request_body)


def test_workflows_and_campaigns_are_enrolled(sandbox):
    result = sandbox.deliver(
        lead(),
        options={"workflow_ids": [seed.WORKFLOW_NEW_LEAD]},
        sequences=({"campaign_id": seed.CAMPAIGN_WELCOME},),
    )
    assert result.outcome == "success"
    [stored] = sandbox.contacts()
    assert [w["id"] for w in stored["workflows"]] == [seed.WORKFLOW_NEW_LEAD]
    assert [c["id"] for c in stored["campaigns"]] == [seed.CAMPAIGN_WELCOME]


def test_an_unknown_workflow_fails_and_names_the_contact(sandbox):
    with pytest.raises(CrmError) as caught:
        sandbox.deliver(lead(), options={"workflow_ids": ["no-such-workflow"]})
    assert (caught.value.reason, caught.value.outcome) == ("workflow not found", "failure")
    assert caught.value.contact_id == sandbox.contacts()[0]["id"]


def test_a_retried_create_adopts_the_contact_instead_of_creating_a_twin(sandbox):
    sandbox.control("location", {"allow_duplicates": True})  # a twin would be accepted
    first = sandbox.deliver(lead(), action="create")
    http = CrmSession()
    retry = sandbox.deliver(lead(), action="create", may_have_been_sent=True, http=http)
    assert (retry.outcome, retry.contact_id) == ("success", first.contact_id)
    assert len(sandbox.contacts()) == 1
    assert [c.method for c in http.calls] == ["GET"]


def test_a_rejected_token_is_an_auth_error(sandbox):
    with pytest.raises(CrmError) as caught:
        sandbox.deliver(lead(), token="pit-wrong")
    error = caught.value
    assert (error.reason, error.status, error.auth, error.retryable) == (
        "authentication rejected",
        401,
        True,
        False,
    )


def test_a_422_is_a_failure_with_a_reason_free_of_lead_data(sandbox):
    with pytest.raises(CrmError) as caught:
        sandbox.deliver(lead(email="jane-at-example", phones=["not a phone"]))
    error = caught.value
    assert (error.status, error.retryable, error.outcome) == (422, False, "failure")
    assert error.reason == "validation failed: email, phone"
    assert "jane" not in error.reason


def test_a_429_is_retryable_after_the_burst_window(sandbox):
    sandbox.control("faults", {"status": 429, "count": 1})
    with pytest.raises(CrmError) as caught:
        sandbox.deliver(lead())
    assert (caught.value.retryable, caught.value.status) == (True, 429)
    assert caught.value.retry_after == 10.0  # X-RateLimit-Interval-Milliseconds


def test_a_429_retry_after_header_wins(sandbox):
    sandbox.control("faults", {"status": 429, "count": 1, "retry_after": 3})
    with pytest.raises(CrmError) as caught:
        sandbox.deliver(lead())
    assert caught.value.retry_after == 3.0


def test_a_5xx_is_retryable(sandbox):
    sandbox.control("faults", {"status": 503, "count": 1})
    with pytest.raises(CrmError) as caught:
        sandbox.deliver(lead())
    assert (caught.value.retryable, caught.value.status, caught.value.outcome) == (
        True,
        503,
        "error",
    )


def test_a_timeout_is_retryable(sandbox):
    sandbox.control("faults", {"latency_ms": 600, "count": 1})
    with pytest.raises(CrmError) as caught:
        sandbox.deliver(lead(), http=CrmSession(timeout=(2.0, 0.2)))
    assert caught.value.retryable is True


def test_a_failed_tag_call_names_the_contact_that_already_exists(sandbox):
    sandbox.control("faults", {"status": 502, "count": 1, "path": "/tags"})
    with pytest.raises(CrmError) as caught:
        sandbox.deliver(lead(), tag_ids=("vip",))
    assert caught.value.retryable is True
    # The contact saved for this lead (the sandbox may hold others the suite made).
    saved = {c["id"] for c in sandbox.contacts(email="jane@example.com")}
    assert caught.value.contact_id in saved


def _dto_for(url: str) -> str:
    return next(dto for suffix, dto in DTO_BY_PATH if suffix in url)


def test_every_request_body_validates_against_the_official_schema(sandbox):
    http = CrmSession()
    extra = {
        "source": "LeadFlow",
        "timezone": "America/Chicago",
        "assignedTo": seed.USER_AGENT_ID,
        "dnd": False,
        "dndSettings": {"SMS": {"status": "inactive"}},
        "gender": "female",
    }
    full = lead(extra=extra)
    plan = {
        "tag_ids": ("vip", "web"),
        "options": {"workflow_ids": [seed.WORKFLOW_NEW_LEAD], "allow_duplicates": True},
        "sequences": ({"campaign_id": seed.CAMPAIGN_WELCOME},),
    }
    sandbox.deliver(full, action="create", http=http, **plan)
    sandbox.deliver(full, http=http, **plan)
    sandbox.deliver(lead(email="other@example.com", phones=[]), action="create", http=http)
    bodies = [(c.url, json.loads(c.request_body)) for c in http.calls if c.method == "POST"]
    assert {_dto_for(url) for url, _ in bodies} == {dto for _, dto in DTO_BY_PATH}
    for url, body in bodies:
        dto = _dto_for(url)
        assert list(schema.validator(dto).iter_errors(body)) == [], url
        assert set(body) <= schema.properties(dto), url
    assert all(c.status_code in (200, 201) for c in http.calls)
