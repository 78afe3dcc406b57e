"""What HighLevelRecipient puts on the wire, and how it reads HighLevel's errors
(no network: bodies are pure functions, errors are hand-made responses)."""

from __future__ import annotations

import json
from datetime import date

import pytest
import requests

from integrations.crm.base import ContactData, CrmError
from integrations.crm.highlevel import contact_body, raise_for_status, validation_reason

LOCATION = "sandboxLocation00001"


def response(status: int, body: dict | None = None, **headers: str) -> requests.Response:
    made = requests.Response()
    made.status_code = status
    made._content = json.dumps(body or {}).encode()
    made.headers.update({"Content-Type": "application/json", **headers})
    return made


def error_for(status: int, body: dict | None = None, **headers: str) -> CrmError:
    with pytest.raises(CrmError) as caught:
        raise_for_status(response(status, body, **headers))
    return caught.value


def test_address_line_2_is_appended_to_address1():
    body = contact_body(
        ContactData(address_line1="1 Main St", address_line2="Suite 5"), location_id=LOCATION
    )
    assert body["address1"] == "1 Main St, Suite 5"


def test_state_is_the_two_letter_part_of_the_region_code_else_the_name():
    coded = ContactData(region_code="US-TX", region_name="Texas")
    named = ContactData(region_name="Bavaria")
    assert contact_body(coded, location_id=LOCATION)["state"] == "TX"
    assert contact_body(named, location_id=LOCATION)["state"] == "Bavaria"


def test_fields_highlevel_does_not_have_are_left_out_and_empties_are_omitted():
    body = contact_body(
        ContactData(
            first_name="Jo",
            middle_name="Q",
            suffix="Jr",
            job_title="CTO",
            notes="hi",
            phones=["+15125550100", "+15125550101"],
            country_alpha2="GB",
            country_alpha3="GBR",
            birthday=date(1980, 1, 2),
        ),
        location_id=LOCATION,
    )
    assert body == {
        "locationId": LOCATION,
        "firstName": "Jo",
        "name": "Jo",
        "phone": "+15125550100",
        "country": "GB",
        "dateOfBirth": "1980-01-02",
    }


def test_custom_fields_are_sent_as_id_and_field_value():
    body = contact_body(ContactData(custom_fields={"abc": 5}), location_id=LOCATION)
    assert body["customFields"] == [{"id": "abc", "field_value": 5}]


def test_crm_native_extra_keys_are_passed_and_unknown_ones_refused():
    body = contact_body(
        ContactData(extra={"assignedTo": "u1", "dnd": True, "source": "web"}), location_id=LOCATION
    )
    assert (body["assignedTo"], body["dnd"], body["source"]) == ("u1", True, "web")
    with pytest.raises(CrmError, match="unknown HighLevel field"):
        contact_body(ContactData(extra={"tags": ["x"]}), location_id=LOCATION)


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        (["email must be an email"], "invalid email"),
        (
            ["email must be an email", "phone must be a valid phone number"],
            "validation failed: email, phone",
        ),
        (["customFields.0.id must be a string"], "invalid customFields"),
        (["each value in tags must be a string"], "invalid tags"),
        (["property middleName should not exist"], "unsupported field"),
        (["Unprocessable Entity"], "validation failed"),
        (["jane@example.com is not allowed"], "validation failed"),
    ],
)
def test_422_messages_become_reasons_naming_fields_only(messages, reason):
    assert validation_reason(tuple(messages)) == reason


def test_a_403_for_another_location_is_an_auth_error():
    error = error_for(
        403, {"statusCode": 403, "message": "The token is not authorized for this location."}
    )
    assert (error.auth, error.retryable) == (True, False)


def test_an_unknown_contact_400_is_a_not_found_failure():
    error = error_for(400, {"statusCode": 400, "message": "Contact with id abc not found"})
    assert (error.reason, error.outcome) == ("contact not found", "failure")


def test_another_400_is_rejected_by_crm():
    error = error_for(400, {"statusCode": 400, "message": "Bad Request"})
    assert (error.reason, error.outcome, error.retryable) == ("rejected by CRM", "failure", False)


def test_a_spent_daily_quota_waits_for_the_next_utc_day():
    error = error_for(429, {"statusCode": 429}, **{"X-RateLimit-Daily-Remaining": "0"})
    assert error.retryable is True
    assert 0 < error.retry_after <= 86_400


def test_a_404_is_a_configuration_error_not_a_lead_failure():
    error = error_for(404, {"statusCode": 404, "message": "Cannot POST /contacts/"})
    assert (error.outcome, error.retryable) == ("error", False)
