"""The Keap REST v1 client: request bodies obey the official schema and Keap's rules,
and every answer becomes an outcome or a CrmError that says whether to retry."""

from datetime import date

import pytest
import responses

from integrations.crm.base import ContactData, Credentials, CrmError, StepPlan
from integrations.crm.http import CrmSession
from integrations.crm.keap_rest import KeapRestRecipient, contact_body
from integrations.mapping.normalise import lead_fields
from integrations.mapping.standard_fields import contact_from_lead
from tests.factories import FULL_LEAD
from tests.openapi import assert_valid

BASE = "https://keap.test/crm"
CREDS = Credentials(base_url=BASE, api_key="KeapAK-secret-123")
SPEC = "keap-rest-v1.openapi.json"


def create_contact():
    """One plain create of a contact with only an email."""
    return KeapRestRecipient().deliver(
        contact=ContactData(email="a@b.co"),
        plan=StepPlan(action="create", duplicate_match="Email"),
        credentials=CREDS,
        http=CrmSession(),
    )


def full_contact() -> ContactData:
    return contact_from_lead(lead_fields(FULL_LEAD, max_field_chars=10_000))


def test_the_full_lead_body_follows_keaps_rules():
    body = contact_body(full_contact())
    assert body["given_name"] == "Ann" and body["middle_name"] == "Q"
    assert body["family_name"] == "Lee" and body["suffix"] == "Jr"
    assert body["email_addresses"] == [{"email": "ann.lee@example.com", "field": "EMAIL1"}]
    assert [p["field"] for p in body["phone_numbers"]] == ["PHONE1", "PHONE2", "PHONE3"]
    assert body["addresses"] == [
        {
            "field": "BILLING",
            "line1": "1 Main St",
            "line2": "Suite 5",
            "locality": "Phoenix",
            "postal_code": "85001",
            "country_code": "USA",
            "region": "US-AZ",
        }
    ]
    assert body["birthday"] == "1990-09-25T00:00:00.000Z"
    assert body["job_title"] == "CTO" and body["website"] == "https://ann.example.com"
    assert "notes" not in body  # comments go to a note record (wire spec §2.4)


def test_a_region_is_never_sent_without_a_country_code():
    contact = ContactData(email="a@b.co", region_name="Atlantis", city="X")
    assert "region" not in contact_body(contact)["addresses"][0]


def test_the_address_type_follows_the_step():
    assert (
        contact_body(full_contact(), address_type="SHIPPING")["addresses"][0]["field"] == "SHIPPING"
    )


def test_manual_fields_are_typed_as_keap_expects():
    contact = ContactData(
        email="a@b.co",
        custom_fields={"7": 87},
        extra={
            "lead_source_id": "12",
            "owner_id": 3,
            "contact_type": "Lead",
            "source_type": "API",
            "preferred_locale": "en_US",
        },
    )
    body = contact_body(contact)
    assert body["custom_fields"] == [{"id": 7, "content": 87}]
    assert (body["lead_source_id"], body["owner_id"]) == (12, 3)
    assert_valid(SPEC, "/v1/contacts", "post", body)


def test_an_unknown_keap_field_in_a_mapping_is_a_failure_naming_the_field():
    with pytest.raises(CrmError) as err:
        contact_body(ContactData(email="a@b.co", extra={"favourite_colour": "red"}))
    assert (err.value.retryable, err.value.reason) == (
        False,
        "unknown Keap field in mapping: favourite_colour",
    )


@responses.activate
@pytest.mark.parametrize(
    "action, match",
    [
        ("create", "Email"),
        ("create_or_update", "Email"),
        ("create_or_update", "EmailAndName"),
        ("create_or_update", "EmailAndNameAndCompany"),
    ],
)
def test_every_request_body_validates_against_the_official_v1_schema(action, match):
    contact = full_contact()
    contact.company = "Acme"
    responses.get(
        f"{BASE}/rest/v1/contacts",
        json={
            "contacts": [
                {
                    "id": 5,
                    "given_name": "Ann",
                    "family_name": "Lee",
                    "company": {"id": 1, "company_name": "Acme"},
                }
            ]
        },
    )
    saved = {"id": 5, "given_name": "Ann", "family_name": "Lee"}
    responses.post(f"{BASE}/rest/v1/contacts", json=saved, status=201)
    responses.put(f"{BASE}/rest/v1/contacts", json=saved)
    responses.get(f"{BASE}/rest/v1/companies", json={"companies": []})
    responses.post(f"{BASE}/rest/v1/companies", json={"id": 1, "company_name": "Acme"}, status=201)
    responses.patch(f"{BASE}/rest/v1/contacts/5", json=saved)
    responses.post(f"{BASE}/rest/v1/notes", json={"id": 1}, status=200)
    responses.post(f"{BASE}/rest/v1/contacts/5/tags", json={"100": "SUCCESS"})
    responses.post(f"{BASE}/rest/v1/campaigns/45/sequences/1/contacts/5", status=204)
    http = CrmSession()
    plan = StepPlan(
        action=action,
        duplicate_match=match,
        tag_ids=(100,),
        sequences=({"campaign_id": 45, "sequence_id": 1},),
    )
    result = KeapRestRecipient().deliver(contact=contact, plan=plan, credentials=CREDS, http=http)
    assert result.outcome == "success" and result.contact_id == "5"
    import json

    paths = {
        "/rest/v1/contacts": "/v1/contacts",
        "/rest/v1/notes": "/v1/notes",
        "/rest/v1/contacts/5": "/v1/contacts/{contactId}",
        "/rest/v1/companies": "/v1/companies",
        "/rest/v1/contacts/5/tags": "/v1/contacts/{contactId}/tags",
    }
    checked = 0
    for call in http.calls:
        if call.request_body:
            path = call.url.split("/crm", 1)[1].split("?")[0]
            assert_valid(SPEC, paths[path], call.method, json.loads(call.request_body))
            checked += 1
    assert checked >= 4


@responses.activate
@pytest.mark.parametrize(
    "status, body, reason, retryable, auth",
    [
        (
            400,
            {"message": "Input could not be converted to a valid request"},
            "invalid request",
            False,
            False,
        ),
        (400, {"message": "BILLING Region is invalid"}, "region invalid", False, False),
        (
            401,
            {
                "fault": {
                    "faultstring": "Invalid Access Token",
                    "detail": {"errorcode": "keymanagement.service.invalid_access_token"},
                }
            },
            "authentication rejected",
            False,
            True,
        ),
        (
            401,
            {
                "fault": {
                    "faultstring": "Access Token expired",
                    "detail": {"errorcode": "keymanagement.service.access_token_expired"},
                }
            },
            "access token expired",
            False,
            True,
        ),
        (409, {"message": "Duplicate"}, "duplicate contact rejected", False, False),
        (
            429,
            {"fault": {"faultstring": "Rate limit quota violation"}},
            "rate limited by CRM",
            True,
            False,
        ),
        (503, {}, "CRM server error (503)", True, False),
    ],
)
def test_keap_errors_become_countable_reasons(status, body, reason, retryable, auth):
    responses.post(f"{BASE}/rest/v1/contacts", json=body, status=status)
    with pytest.raises(CrmError) as err:
        create_contact()
    assert (err.value.reason, err.value.retryable, err.value.auth) == (reason, retryable, auth)
    assert "a@b.co" not in err.value.reason


@responses.activate
def test_a_429_with_retry_after_is_honoured():
    responses.post(f"{BASE}/rest/v1/contacts", json={}, status=429, headers={"Retry-After": "7"})
    with pytest.raises(CrmError) as err:
        create_contact()
    assert err.value.retry_after == 7


def test_a_timeout_is_a_retryable_error(settings):
    import requests

    with responses.RequestsMock() as mocked:
        mocked.post(f"{BASE}/rest/v1/contacts", body=requests.Timeout())
        with pytest.raises(CrmError) as err:
            create_contact()
    assert (err.value.reason, err.value.retryable) == ("CRM timed out", True)


@responses.activate
def test_the_api_key_never_reaches_the_recorded_attempt():
    responses.post(f"{BASE}/rest/v1/contacts", json={"id": 9}, status=201)
    http = CrmSession(secrets=(CREDS.api_key,))
    KeapRestRecipient().deliver(
        contact=ContactData(email="a@b.co", birthday=date(2000, 1, 2)),
        plan=StepPlan(action="create", duplicate_match="Email"),
        credentials=CREDS,
        http=http,
    )
    recorded = repr(http.calls)
    assert CREDS.api_key not in recorded
    assert http.calls[0].request_headers["X-Keap-API-Key"] == "[redacted]"
