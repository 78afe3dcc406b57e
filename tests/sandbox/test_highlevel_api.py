"""The HighLevel sandbox's contacts API behaves like the wire spec (§6, §7.3)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from integrations.sandbox.highlevel import seed

API = "/sandbox/highlevel"
LOCATION = settings.SANDBOX_HIGHLEVEL_LOCATION_ID

pytestmark = pytest.mark.django_db


def call(client, method, path, body=None, *, version="2021-07-28", token=None, **params):
    headers = {"Authorization": f"Bearer {token or settings.SANDBOX_HIGHLEVEL_TOKEN}"}
    if version:
        headers["Version"] = version
    kwargs = {"headers": headers}
    if body is not None:
        kwargs.update(data=body, content_type="application/json")
    elif params:
        kwargs["data"] = params
    return getattr(client, method.lower())(f"{API}/{path}", **kwargs)


def create(client, **fields):
    return call(client, "POST", "contacts/", {"locationId": LOCATION, **fields})


def upsert(client, **fields):
    return call(client, "POST", "contacts/upsert", {"locationId": LOCATION, **fields})


def allow_duplicates(client, value=True):
    assert (
        client.post(
            f"{API}/_control/location", {"allow_duplicates": value}, content_type="application/json"
        ).status_code
        == 200
    )


def test_create_answers_201_with_a_20_char_id_and_e164_phone(client):
    response = create(
        client,
        firstName="Jane",
        lastName="Smith",
        email="Jane@Example.com",
        phone="(512) 555-0100",
        dateOfBirth="09/25/1990",
        customFields=[{"id": seed.CUSTOM_FIELD_LEAD_SCORE, "field_value": 85}],
    )
    assert response.status_code == 201
    contact = response.json()["contact"]
    assert re.fullmatch(r"[A-Za-z0-9]{20}", contact["id"])
    assert contact["phone"] == "+15125550100"
    assert contact["name"] == "Jane Smith"
    assert contact["emailLowerCase"] == "jane@example.com"
    assert contact["dateOfBirth"] == "1990-09-25T00:00:00.000Z"
    assert contact["customFields"] == [{"id": seed.CUSTOM_FIELD_LEAD_SCORE, "value": 85}]
    assert contact["dateAdded"].endswith("Z")


@pytest.mark.parametrize(
    "dob", ["1990/09/25", "09/25/1990", "1990-09-25", "09-25-1990", "1990.09.25", "09_25_1990"]
)
def test_date_of_birth_accepts_the_listed_formats(client, dob):
    response = create(client, email="dob@example.com", dateOfBirth=dob)
    assert response.status_code == 201
    got = call(client, "GET", f"contacts/{response.json()['contact']['id']}")
    assert got.json()["contact"]["dateOfBirth"] == "1990-09-25"


def test_a_missing_version_header_is_401(client):
    response = call(client, "GET", "contacts/whatever", version=None)
    assert response.status_code == 401
    assert response.json() == {"statusCode": 401, "message": "version header was not found."}


def test_an_unknown_version_is_401_and_2021_04_15_is_accepted(client):
    assert call(client, "GET", "workflows/", version="2020-01-01", locationId=LOCATION).json() == {
        "statusCode": 401,
        "message": "version header is invalid",
    }
    assert (
        call(client, "GET", "workflows/", version="2021-04-15", locationId=LOCATION).status_code
        == 200
    )


def test_a_bad_token_is_401_unauthorized(client):
    response = call(client, "POST", "contacts/", {"locationId": LOCATION}, token="nope")
    assert response.status_code == 401
    assert response.json() == {
        "statusCode": 401,
        "message": "Invalid token: access token is invalid",
        "error": "Unauthorized",
    }


def test_another_location_in_the_body_is_refused(client):
    response = call(client, "POST", "contacts/", {"locationId": "someoneElsesLocation1"})
    assert response.status_code == 403
    assert response.json()["message"] == "The token is not authorized for this location."


def test_schema_violations_are_422_with_a_message_array(client):
    response = create(client, email=5, dnd="yes", tags="vip", middleName="Q")
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "Unprocessable Entity"
    assert set(body["message"]) >= {
        "email must be a string",
        "dnd must be a boolean value",
        "tags must be an array",
        "property middleName should not exist",
    }


def test_a_missing_location_id_is_422(client):
    response = call(client, "POST", "contacts/", {"email": "a@example.com"})
    assert response.status_code == 422
    assert "locationId should not be empty" in response.json()["message"]


def test_an_invalid_email_or_phone_is_422(client):
    response = create(client, email="not-an-email", phone="call me")
    assert response.status_code == 422
    assert response.json()["message"] == [
        "email must be an email",
        "phone must be a valid phone number",
    ]


def test_create_with_an_existing_email_is_the_duplicate_400(client):
    first = create(client, firstName="Ann", lastName="Lee", email="ann@example.com").json()
    response = create(client, email="ANN@example.com")
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "message": "This location does not allow duplicated contacts.",
        "meta": {
            "contactId": first["contact"]["id"],
            "contactName": "Ann Lee",
            "matchingField": "email",
        },
    }


def test_create_with_an_existing_phone_matches_on_phone(client):
    create(client, phone="+15125550111")
    response = create(client, email="new@example.com", phone="512-555-0111")
    assert response.status_code == 400
    assert response.json()["meta"]["matchingField"] == "phone"


def test_a_location_allowing_duplicates_creates_a_second_contact(client):
    first = create(client, email="twin@example.com").json()["contact"]["id"]
    allow_duplicates(client)
    second = create(client, email="twin@example.com")
    assert second.status_code == 201
    assert second.json()["contact"]["id"] != first


def test_upsert_creates_then_updates_the_same_contact(client):
    first = upsert(client, email="up@example.com", firstName="A")
    assert first.status_code == 200
    assert first.json()["new"] is True and first.json()["traceId"]
    second = upsert(client, email="up@example.com", lastName="B")
    assert second.json()["new"] is False
    assert second.json()["contact"]["id"] == first.json()["contact"]["id"]
    assert second.json()["contact"]["name"] == "A B"


def test_upsert_tags_replace_existing_tags(client):
    contact_id = upsert(client, email="t@example.com", tags=["Old", "keep"]).json()["contact"]["id"]
    response = upsert(client, email="t@example.com", tags=["new"])
    assert response.json()["contact"]["tags"] == ["new"]
    assert call(client, "GET", f"contacts/{contact_id}").json()["contact"]["tags"] == ["new"]


def test_upsert_with_email_and_phone_of_two_contacts_updates_the_email_match(client):
    by_email = create(client, email="a@example.com").json()["contact"]["id"]
    by_phone = create(client, phone="+15125550122").json()["contact"]["id"]
    response = upsert(client, email="a@example.com", phone="+15125550122", city="Austin")
    contact = response.json()["contact"]
    assert contact["id"] == by_email
    assert contact["city"] == "Austin"
    assert "phone" not in contact  # §7.3.2: silently ignored
    assert by_phone != by_email


def test_create_new_if_duplicate_allowed_needs_the_location_setting(client):
    first = upsert(client, email="d@example.com").json()["contact"]["id"]
    again = upsert(client, email="d@example.com", createNewIfDuplicateAllowed=True).json()
    assert again["new"] is False and again["contact"]["id"] == first
    allow_duplicates(client)
    forced = upsert(client, email="d@example.com", createNewIfDuplicateAllowed=True).json()
    assert forced["new"] is True and forced["contact"]["id"] != first


def test_an_unknown_contact_id_is_400_not_404(client):
    response = call(client, "GET", "contacts/abcdefghij0123456789")
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "message": "Contact with id abcdefghij0123456789 not found",
    }


def test_put_updates_fields_and_answers_succeded(client):
    contact_id = create(client, email="p@example.com").json()["contact"]["id"]
    response = call(client, "PUT", f"contacts/{contact_id}", {"city": "Dallas"})
    assert response.status_code == 200
    assert response.json()["succeded"] is True
    assert response.json()["contact"]["city"] == "Dallas"


def test_tags_endpoint_adds_without_removing_and_delete_removes(client):
    contact_id = create(client, email="tg@example.com", tags=["existing"]).json()["contact"]["id"]
    added = call(client, "POST", f"contacts/{contact_id}/tags", {"tags": ["VIP", "existing"]})
    assert added.status_code == 201
    assert added.json() == {"tags": ["existing", "vip"]}
    removed = call(client, "DELETE", f"contacts/{contact_id}/tags", {"tags": ["existing"]})
    assert removed.status_code == 200
    assert removed.json() == {"tags": ["vip"]}


def test_workflow_enrolment_answers_200_succeded(client):
    contact_id = create(client, email="w@example.com").json()["contact"]["id"]
    response = call(client, "POST", f"contacts/{contact_id}/workflow/{seed.WORKFLOW_NEW_LEAD}", {})
    assert response.status_code == 200
    assert response.json() == {"succeded": True}
    unknown = call(client, "POST", f"contacts/{contact_id}/workflow/nope", {})
    assert unknown.status_code == 400


def test_campaign_enrolment_answers_201_succeded(client):
    contact_id = create(client, email="c@example.com").json()["contact"]["id"]
    response = call(client, "POST", f"contacts/{contact_id}/campaigns/{seed.CAMPAIGN_WELCOME}", {})
    assert response.status_code == 201
    assert response.json() == {"succeded": True}
    enrolled = client.get(f"{API}/_control/contacts").json()["contacts"][0]
    assert [c["id"] for c in enrolled["campaigns"]] == [seed.CAMPAIGN_WELCOME]


def test_duplicate_search_finds_by_url_encoded_email_and_by_number(client):
    contact_id = create(client, email="x+y@example.com", phone="+15125550133").json()["contact"][
        "id"
    ]
    by_email = call(
        client, "GET", "contacts/search/duplicate", locationId=LOCATION, email="x+y@example.com"
    )
    assert by_email.json()["contact"]["id"] == contact_id
    by_number = call(
        client, "GET", "contacts/search/duplicate", locationId=LOCATION, number="+15125550133"
    )
    assert by_number.json()["contact"]["id"] == contact_id
    none = call(
        client, "GET", "contacts/search/duplicate", locationId=LOCATION, email="no@example.com"
    )
    assert none.json()["contact"] is None


def test_the_catalogue_lists_seeded_fields_workflows_campaigns_and_users(client):
    fields = call(client, "GET", f"locations/{LOCATION}/customFields").json()["customFields"]
    assert {f["fieldKey"]: f["id"] for f in fields}[
        "contact.lead_score"
    ] == seed.CUSTOM_FIELD_LEAD_SCORE
    workflows = call(client, "GET", "workflows/", locationId=LOCATION).json()["workflows"]
    assert seed.WORKFLOW_NEW_LEAD in {w["id"] for w in workflows}
    campaigns = call(client, "GET", "campaigns/", locationId=LOCATION).json()["campaigns"]
    assert {c["id"] for c in campaigns} == {seed.CAMPAIGN_WELCOME, seed.CAMPAIGN_REENGAGE}
    users = call(client, "GET", "users/", locationId=LOCATION).json()["users"]
    assert seed.USER_OWNER_ID in {u["id"] for u in users}


def test_custom_fields_accept_value_and_key_and_answer_id_value(client):
    response = create(
        client,
        email="cf@example.com",
        customFields=[
            {"id": seed.CUSTOM_FIELD_UTM_CAMPAIGN, "value": "spring"},
            {"id": seed.CUSTOM_FIELD_LEAD_SCORE, "key": "contact.lead_score", "field_value": "42"},
        ],
    )
    assert response.json()["contact"]["customFields"] == [
        {"id": seed.CUSTOM_FIELD_UTM_CAMPAIGN, "value": "spring"},
        {"id": seed.CUSTOM_FIELD_LEAD_SCORE, "value": 42},
    ]


def test_a_body_that_is_not_json_is_a_400_with_a_string_message(client):
    response = client.post(
        f"{API}/contacts/",
        "{not json",
        content_type="application/json",
        headers={
            "Authorization": f"Bearer {settings.SANDBOX_HIGHLEVEL_TOKEN}",
            "Version": "2021-07-28",
        },
    )
    assert response.status_code == 400
    assert isinstance(response.json()["message"], str)


def test_the_sandbox_root_lists_the_contacts_that_arrived(client):
    create(client, firstName="Ann", lastName="Lee", email="ann.list@example.com", tags=["vip"])
    page = client.get(f"{API}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "highlevel</span> sandbox" in html
    assert "ann.list@example.com" in html and "Ann Lee" in html and ">vip<" in html
