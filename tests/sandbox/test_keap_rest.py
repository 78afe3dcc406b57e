"""The Keap sandbox's REST v1: contacts, duplicates, Keap's validation quirks, tags,
sequences, notes (crm-wire-spec.md §2 and §7.1)."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

V1 = "/sandbox/keap/crm/rest/v1"


@pytest.fixture
def api(client):
    """A REST client authenticated with the sandbox API key."""

    class Api:
        headers = {"X-Keap-API-Key": settings.SANDBOX_KEAP_API_KEY}

        def call(self, method, path, body=None, **params):
            send = getattr(client, method.lower())
            url = f"{V1}{path}"
            if body is None:
                return send(url, params, headers=self.headers)
            if params:
                url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
            return send(url, body, content_type="application/json", headers=self.headers)

    return Api()


def ann(**extra):
    return {
        "given_name": "Ann",
        "family_name": "Lee",
        "email_addresses": [{"email": "ann@example.com", "field": "EMAIL1"}],
        **extra,
    }


# --- create / upsert -------------------------------------------------------------------


def test_post_creates_a_contact_with_201_and_returns_the_full_contact(api):
    response = api.call("POST", "/contacts", ann(phone_numbers=[
        {"number": "(555) 010-0000", "field": "PHONE1", "type": "Mobile"}
    ]))  # fmt: skip
    assert response.status_code == 201
    body = response.json()
    assert isinstance(body["id"], int)
    assert body["email_addresses"] == [{"email": "ann@example.com", "field": "EMAIL1"}]
    assert body["phone_numbers"][0]["number"] == "(555) 010-0000"  # returned as sent
    assert body["tag_ids"] == []
    assert body["date_created"].endswith("Z")


def test_post_never_dedupes(api):
    first = api.call("POST", "/contacts", ann()).json()["id"]
    second = api.call("POST", "/contacts", ann()).json()["id"]
    assert first != second


def test_post_without_email_or_phone_is_a_400_with_a_message(api):
    response = api.call("POST", "/contacts", {"given_name": "Nobody"})
    assert response.status_code == 400
    assert "email" in response.json()["message"]


def test_put_with_email_option_updates_the_lowest_id_match_case_insensitively(api):
    first = api.call("POST", "/contacts", ann()).json()["id"]
    api.call("POST", "/contacts", ann())
    response = api.call(
        "PUT",
        "/contacts",
        {
            "duplicate_option": "Email",
            "email_addresses": [{"email": "ANN@Example.com", "field": "EMAIL1"}],
            "job_title": "CTO",
        },
    )
    assert response.status_code == 200
    assert response.json()["id"] == first
    assert response.json()["given_name"] == "Ann"  # fields not sent are kept


def test_put_matches_emails_in_any_of_the_three_slots(api):
    body = ann(email_addresses=[{"email": "other@example.com", "field": "EMAIL3"}])
    existing = api.call("POST", "/contacts", body).json()["id"]
    found = api.call("PUT", "/contacts", {**ann(), "duplicate_option": "Email", **{
        "email_addresses": [{"email": "other@example.com", "field": "EMAIL1"}]
    }})  # fmt: skip
    assert found.json()["id"] == existing


def test_put_with_email_and_name_creates_when_the_name_differs_still_200(api):
    existing = api.call("POST", "/contacts", ann()).json()["id"]
    response = api.call("PUT", "/contacts", ann(duplicate_option="EmailAndName", given_name="Bo"))
    assert response.status_code == 200
    assert response.json()["id"] != existing
    same = api.call("PUT", "/contacts", ann(duplicate_option="EmailAndName", given_name="ANN"))
    assert same.json()["id"] == existing


def test_put_rejects_email_and_name_and_company_as_v1_has_no_such_option(api):
    response = api.call("PUT", "/contacts", ann(duplicate_option="EmailAndNameAndCompany"))
    assert response.status_code == 400
    assert response.json() == {"message": "Input could not be converted to a valid request"}


def test_put_without_duplicate_option_creates(api):
    existing = api.call("POST", "/contacts", ann()).json()["id"]
    assert api.call("PUT", "/contacts", ann()).json()["id"] != existing


# --- validation against the official schema and Keap's own rules ------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"email_addresses": [{"email": "a@b.co"}]},  # `field` is required
        {"email_addresses": [{"email": "a@b.co", "field": "EMAIL9"}]},
        {"phone_numbers": [[{"number": "1", "field": "PHONE1"}]]},  # extra array level (K11 #249)
        {"lead_source_id": "1", **ann()},  # ids are JSON numbers in v1
        {"source_type": "SPAM", **ann()},
        {"origin": {}, **ann()},  # origin.ip_address is required
    ],
)
def test_bodies_the_v1_schema_rejects_get_keaps_generic_400(api, body):
    response = api.call("POST", "/contacts", body)
    assert response.status_code == 400
    assert response.json() == {"message": "Input could not be converted to a valid request"}


def test_malformed_json_is_the_same_generic_400(api, client):
    response = client.post(
        f"{V1}/contacts", "{not json", content_type="application/json", headers=api.headers
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Input could not be converted to a valid request"


def test_region_without_country_code_is_rejected(api):
    address = {"field": "BILLING", "region": "Arizona"}
    response = api.call("POST", "/contacts", ann(addresses=[address]))
    assert response.status_code == 400
    assert response.json() == {"message": "COUNTRY CODE needed if Region Exists"}


@pytest.mark.parametrize("region", ["US-AZ", "arizona", "Arizona"])
def test_region_is_accepted_as_iso_3166_2_or_full_name_and_returned_as_full_name(api, region):
    address = {"field": "SHIPPING", "region": region, "country_code": "USA", "locality": "Mesa"}
    body = api.call("POST", "/contacts", ann(addresses=[address])).json()
    assert body["addresses"][0]["region"] == "Arizona"
    assert body["addresses"][0]["field"] == "SHIPPING"


def test_a_bare_state_abbreviation_is_an_invalid_region_prefixed_by_the_address_field(api):
    address = {"field": "SHIPPING", "region": "AZ", "country_code": "USA"}
    response = api.call("POST", "/contacts", ann(addresses=[address]))
    assert response.status_code == 400
    assert response.json() == {"message": "SHIPPING Region is invalid"}


def test_unknown_custom_field_id_is_a_400(api):
    response = api.call("POST", "/contacts", ann(custom_fields=[{"id": 999, "content": "x"}]))
    assert response.status_code == 400


def test_custom_field_content_must_fit_the_field_type(api):
    bad = api.call("POST", "/contacts", ann(custom_fields=[{"id": 7, "content": "lots"}]))
    assert bad.status_code == 400
    good = api.call("POST", "/contacts", ann(custom_fields=[{"id": 7, "content": 42}]))
    contact_id = good.json()["id"]
    fetched = api.call("GET", f"/contacts/{contact_id}", optional_properties="custom_fields")
    assert {"id": 7, "content": 42} in fetched.json()["custom_fields"]


@pytest.mark.parametrize("birthday", ["1990-09-25", "1990-09-25T00:00:00.000Z"])
def test_birthday_is_accepted_as_a_date_or_date_time_and_returned_as_date_time(api, birthday):
    body = api.call("POST", "/contacts", ann(birthday=birthday)).json()
    assert body["birthday"] == "1990-09-25T00:00:00.000Z"


def test_unknown_contact_type_or_lead_source_is_rejected(api):
    assert api.call("POST", "/contacts", ann(contact_type="Alien")).status_code == 400
    assert api.call("POST", "/contacts", ann(lead_source_id=777)).status_code == 400
    assert api.call("POST", "/contacts", ann(contact_type="Lead")).status_code == 201


# --- read, patch, list ---------------------------------------------------------------------


def test_get_omits_lead_source_custom_fields_and_job_title_unless_asked(api):
    body = ann(job_title="CTO", lead_source_id=1, custom_fields=[{"id": 8, "content": "spring"}])
    contact_id = api.call("POST", "/contacts", body).json()["id"]
    plain = api.call("GET", f"/contacts/{contact_id}").json()
    assert not {"job_title", "lead_source_id", "custom_fields"} & plain.keys()
    full = api.call(
        "GET", f"/contacts/{contact_id}", optional_properties="job_title,lead_source_id"
    ).json()
    assert full["job_title"] == "CTO" and full["lead_source_id"] == 1
    assert "custom_fields" not in full


def test_get_unknown_contact_is_404_with_a_message(api):
    response = api.call("GET", "/contacts/424242")
    assert response.status_code == 404
    assert "424242" in response.json()["message"]


def test_patch_merges_by_slot_and_honours_update_mask(api):
    contact_id = api.call("POST", "/contacts", ann()).json()["id"]
    second = {"email_addresses": [{"email": "ann@work.example", "field": "EMAIL2"}]}
    body = api.call("PATCH", f"/contacts/{contact_id}", second).json()
    assert [e["field"] for e in body["email_addresses"]] == ["EMAIL1", "EMAIL2"]
    masked = api.call(
        "PATCH", f"/contacts/{contact_id}", {"given_name": "X", "family_name": "Y"},
        update_mask="family_name",
    ).json()  # fmt: skip
    assert (masked["given_name"], masked["family_name"]) == ("Ann", "Y")


def test_list_filters_by_email_in_any_slot_and_returns_partial_contacts(api):
    body = ann(email_addresses=[{"email": "Two@Example.com", "field": "EMAIL2"}], job_title="x")
    contact_id = api.call("POST", "/contacts", {**body, "company": {"id": 55}}).json()["id"]
    api.call("POST", "/contacts", ann(email_addresses=[{"email": "z@x.io", "field": "EMAIL1"}]))
    listed = api.call("GET", "/contacts", email="two@example.com").json()
    assert listed["count"] == 1
    (partial,) = listed["contacts"]
    assert partial["id"] == contact_id
    assert partial["company"] == {"id": 55, "company_name": "Acme Corp"}
    assert "job_title" not in partial and "phone_numbers" not in partial


def test_list_pages_with_limit_and_offset(api):
    ids = [api.call("POST", "/contacts", ann()).json()["id"] for _ in range(3)]
    page = api.call("GET", "/contacts", limit=2, offset=1).json()
    assert [c["id"] for c in page["contacts"]] == ids[1:]
    assert page["count"] == 3
    assert "offset=3" in page["next"]


def test_contact_model_lists_the_seeded_custom_fields(api):
    model = api.call("GET", "/contacts/model").json()
    fields = {f["id"]: (f["field_name"], f["field_type"]) for f in model["custom_fields"]}
    assert fields[7] == ("LeadScore", "WholeNumber")
    assert fields[8] == ("UtmCampaign", "Text")
    assert "custom_fields" in model["optional_properties"]


def test_option_types_lists_the_valid_contact_types(api):
    assert api.call("GET", "/setting/contact/optionTypes").json() == {
        "value": "Lead,Prospect,Customer,Partner"
    }


# --- tags, sequences, notes -------------------------------------------------------------


def test_tag_apply_reports_a_status_per_tag_keyed_by_id(api):
    contact_id = api.call("POST", "/contacts", ann()).json()["id"]
    first = api.call("POST", f"/contacts/{contact_id}/tags", {"tagIds": [100, 999]})
    assert first.status_code == 200
    assert first.json() == {"100": "SUCCESS", "999": "TAG_ID_NOT_FOUND"}
    again = api.call("POST", f"/contacts/{contact_id}/tags", {"tagIds": [100]})
    assert again.json() == {"100": "DUPLICATE"}
    assert api.call("GET", f"/contacts/{contact_id}").json()["tag_ids"] == [100]


def test_tag_apply_on_a_missing_contact_is_still_200_with_contact_not_found(api):
    response = api.call("POST", "/contacts/987654/tags", {"tagIds": [100]})
    assert response.status_code == 200
    assert response.json() == {"100": "CONTACT_NOT_FOUND"}


def test_tag_remove_is_204_and_removes(api, client):
    contact_id = api.call("POST", "/contacts", ann()).json()["id"]
    api.call("POST", f"/contacts/{contact_id}/tags", {"tagIds": [100, 101]})
    response = client.delete(f"{V1}/contacts/{contact_id}/tags?ids=100", headers=api.headers)
    assert response.status_code == 204
    assert api.call("GET", f"/contacts/{contact_id}").json()["tag_ids"] == [101]


def test_tags_list_has_categories(api):
    tags = {t["id"]: t for t in api.call("GET", "/tags").json()["tags"]}
    assert tags[100]["name"] == "New Lead"
    assert tags[101]["category"]["name"] == "Lead Source"


def test_adding_to_a_campaign_sequence_is_204_and_recorded(api, client):
    contact_id = api.call("POST", "/contacts", ann()).json()["id"]
    response = api.call("POST", f"/campaigns/45/sequences/3/contacts/{contact_id}", {})
    assert response.status_code == 204
    assert response.content == b""
    seen = client.get("/sandbox/keap/_control/contacts").json()["contacts"][0]
    assert seen["sequences"][0] | {"added_at": None} == {
        "kind": "campaign", "campaign_id": 45, "sequence_id": 3, "status": "active",
        "step_index": 0, "added_at": None,
    }  # fmt: skip


@pytest.mark.parametrize("campaign, sequence", [(99, 1), (45, 2)])
def test_a_bad_campaign_or_sequence_is_a_400_with_a_message(api, campaign, sequence):
    contact_id = api.call("POST", "/contacts", ann()).json()["id"]
    response = api.call(
        "POST", f"/campaigns/{campaign}/sequences/{sequence}/contacts/{contact_id}", {}
    )
    assert response.status_code == 400
    assert "message" in response.json()


def test_notes_are_note_records_listed_by_contact(api):
    contact_id = api.call("POST", "/contacts", ann()).json()["id"]
    note = {
        "contact_id": contact_id,
        "title": "Lead comments",
        "body": "Call after 5",
        "type": "Other",
    }
    created = api.call("POST", "/notes", note)
    assert created.status_code == 201
    assert created.json()["body"] == "Call after 5"
    listed = api.call("GET", "/notes", contact_id=contact_id).json()
    assert [n["title"] for n in listed["notes"]] == ["Lead comments"]
    assert api.call("POST", "/notes", {**note, "type": "Gossip"}).status_code == 400


def test_a_rest_notes_field_lands_in_the_contact_notes_slot(api):
    contact_id = api.call("POST", "/contacts", ann(notes="x" * 10_050)).json()["id"]
    body = api.call("GET", f"/contacts/{contact_id}", optional_properties="notes").json()
    assert body["notes"] == "x" * 10_000  # truncated silently, as ContactNotes is


@pytest.mark.parametrize("method, path", [("POST", "/contacts"), ("PUT", "/contacts")])
def test_a_lone_surrogate_is_refused_with_keaps_400_not_a_crash(client, method, path):
    """Keap's UTF-8 store cannot hold half a character: the request is refused."""
    response = getattr(client, method.lower())(
        f"{V1}{path}",
        '{"given_name": "Ann\\ud800", "email_addresses": [{"email": "a@b.co", "field": "EMAIL1"}]}',
        content_type="application/json",
        headers={"X-Keap-API-Key": settings.SANDBOX_KEAP_API_KEY},
    )
    assert response.status_code == 400
    assert response.json() == {"message": "Input could not be converted to a valid request"}
