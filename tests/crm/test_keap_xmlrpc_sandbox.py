"""Keap XML-RPC end to end: ContactServiceClient and KeapXmlRpcRecipient against the
built-in Keap sandbox over a real socket (seeded tags 100-105, legacy follow-up
sequences 200/201, action sets 300/301, custom fields _LeadScore, _UtmCampaign, ...)."""

from datetime import date

import pytest
import requests
from django.conf import settings

from integrations.crm.base import ContactData, Credentials, CrmError, StepPlan
from integrations.crm.http import CrmSession
from integrations.crm.keap_xmlrpc import ContactServiceClient, KeapXmlRpcRecipient

pytestmark = pytest.mark.django_db(transaction=True)

ADA = dict(first_name="Ada", last_name="Lovelace", email="ada@example.com")


@pytest.fixture
def sandbox(live_server) -> str:
    """The Keap sandbox root, with rate limits high enough for a burst of calls."""
    root = f"{live_server.url}/sandbox/keap"
    limits = {"spike": 10_000, "minute": 100_000, "day": 1_000_000}
    control(root, {"rate_limits": {"api_key": limits, "oauth": limits}})
    return root


def control(root: str, switches: dict) -> None:
    requests.post(f"{root}/_control/faults", json=switches, timeout=5).raise_for_status()


def credentials(root: str, **overrides) -> Credentials:
    values = {"base_url": f"{root}/crm", "api_key": settings.SANDBOX_KEAP_API_KEY}
    values.update(overrides)
    return Credentials(**values)


@pytest.fixture
def client(sandbox) -> ContactServiceClient:
    return ContactServiceClient(CrmSession(), credentials(sandbox))


def stored(root: str, email: str) -> list[dict]:
    """Every sandbox contact with this email: all fields, tags and sequences."""
    response = requests.get(f"{root}/_control/contacts", params={"email": email}, timeout=5)
    response.raise_for_status()
    return response.json()["contacts"]


def sequence_status(root: str, email: str, sequence_id: int) -> str | None:
    (contact,) = stored(root, email)
    rows = [s for s in contact["sequences"] if s["sequence_id"] == sequence_id]
    return rows[-1]["status"] if rows else None


def deliver(root: str, plan: StepPlan, contact: ContactData | None = None, http=None):
    return KeapXmlRpcRecipient().deliver(
        contact=contact or ContactData(**ADA),
        plan=plan,
        credentials=credentials(root),
        http=http or CrmSession(),
    )


def plan(action: str = "create_or_update", match: str = "Email", **kwargs) -> StepPlan:
    return StepPlan(action=action, duplicate_match=match, **kwargs)


def failure(call) -> CrmError:
    with pytest.raises(CrmError) as caught:
        call()
    return caught.value


# --- ContactServiceClient, one method at a time ----------------------------------------


def test_add_stores_the_fields_and_load_reads_them_back(client):
    contact_id = client.add(
        {"FirstName": "Ada", "Email": "ada@example.com", "Phone1": "+15125550100",
         "Company": "Engines Ltd", "_LeadScore": 42, "OwnerID": 2}
    )  # fmt: skip

    loaded = client.load(contact_id, ["Id", "FirstName", "Email", "Phone1", "Company",
                                      "_LeadScore", "OwnerID", "LastName"])  # fmt: skip

    assert loaded == {"Id": contact_id, "FirstName": "Ada", "Email": "ada@example.com",
                      "Phone1": "+15125550100", "Company": "Engines Ltd", "_LeadScore": 42,
                      "OwnerID": 2}  # fmt: skip


def test_add_never_dedupes_and_find_by_email_returns_every_match(client):
    first = client.add({"Email": "ada@example.com"})
    second = client.add({"Email": "ADA@example.com"})

    found = client.find_by_email("ada@example.com", ["Id", "Email"])

    assert first != second
    assert sorted(c["Id"] for c in found) == [first, second]


def test_add_with_dup_check_updates_the_matching_contact(client):
    first = client.add({"Email": "ada@example.com", "FirstName": "Ada"})

    again = client.add_with_dup_check({"Email": "ada@example.com", "JobTitle": "CTO"}, "Email")

    assert again == first
    assert client.load(first, ["FirstName", "JobTitle"]) == {"FirstName": "Ada", "JobTitle": "CTO"}


def test_add_with_dup_check_by_name_creates_when_the_name_differs(client):
    first = client.add({"Email": "ada@example.com", "FirstName": "Ada", "LastName": "L"})

    other = client.add_with_dup_check(
        {"Email": "ada@example.com", "FirstName": "Grace", "LastName": "H"}, "EmailAndName"
    )
    same = client.add_with_dup_check(
        {"Email": "ada@example.com", "FirstName": "Ada", "LastName": "L"}, "EmailAndName"
    )

    assert other != first
    assert same == first


def test_add_with_dup_check_by_company_creates_when_the_company_differs(client):
    first = client.add({"Email": "ada@example.com", "FirstName": "Ada", "Company": "Acme Corp"})
    data = {"Email": "ada@example.com", "FirstName": "Ada"}

    other = client.add_with_dup_check({**data, "Company": "Globex"}, "EmailAndNameAndCompany")
    same = client.add_with_dup_check({**data, "Company": "Acme Corp"}, "EmailAndNameAndCompany")

    assert other != first
    assert same == first


def test_update_changes_only_the_given_fields(client):
    contact_id = client.add({"Email": "ada@example.com", "FirstName": "Ada"})

    assert client.update(contact_id, {"LastName": "Lovelace"}) == contact_id

    assert client.load(contact_id, ["FirstName", "LastName"]) == {
        "FirstName": "Ada", "LastName": "Lovelace"
    }  # fmt: skip


def test_update_or_load_of_a_missing_contact_is_record_not_found(client):
    assert failure(lambda: client.update(999_999, {"FirstName": "X"})).reason == "record not found"
    assert failure(lambda: client.load(999_999, ["Id"])).reason == "record not found"


def test_merge_folds_the_duplicate_into_the_kept_contact(client):
    keep = client.add({"Email": "ada@example.com", "FirstName": "Ada"})
    duplicate = client.add({"Email": "ada@example.com", "JobTitle": "CTO"})
    client.add_to_group(duplicate, 102)

    assert client.merge(keep, duplicate) is True

    assert client.load(keep, ["FirstName", "JobTitle", "Groups"]) == {
        "FirstName": "Ada", "JobTitle": "CTO", "Groups": "102"
    }  # fmt: skip
    assert failure(lambda: client.load(duplicate, ["Id"])).reason == "record not found"


def test_merging_a_contact_with_itself_is_an_invalid_parameter(client):
    contact_id = client.add({"Email": "ada@example.com"})

    assert failure(lambda: client.merge(contact_id, contact_id)).reason == "invalid parameter"


def test_add_to_group_and_remove_from_group_change_the_tags(client):
    contact_id = client.add({"Email": "ada@example.com"})

    client.add_to_group(contact_id, 100)
    client.add_to_group(contact_id, 101)
    client.remove_from_group(contact_id, 100)

    assert client.load(contact_id, ["Groups"]) == {"Groups": "101"}


def test_a_follow_up_sequence_can_be_started_stepped_paused_resumed_and_removed(client, sandbox):
    contact_id = client.add({"Email": "ada@example.com"})

    client.add_to_campaign(contact_id, 200)
    assert sequence_status(sandbox, "ada@example.com", 200) == "active"
    assert client.get_next_campaign_step(contact_id, 200) == 2001
    assert client.reschedule_campaign_step([contact_id], 2001) == 1
    assert client.get_next_campaign_step(contact_id, 200) == 2002

    client.pause_campaign(contact_id, 200)
    assert sequence_status(sandbox, "ada@example.com", 200) == "paused"
    client.resume_campaign_for_contact(contact_id, 200)
    assert sequence_status(sandbox, "ada@example.com", 200) == "active"
    client.remove_from_campaign(contact_id, 200)
    assert sequence_status(sandbox, "ada@example.com", 200) == "removed"
    assert client.get_next_campaign_step(contact_id, 200) == 0


def test_an_unknown_follow_up_sequence_is_a_loading_failure(client):
    contact_id = client.add({"Email": "ada@example.com"})

    error = failure(lambda: client.add_to_campaign(contact_id, 999))

    assert (error.reason, error.retryable) == ("follow-up sequence not found", False)


def test_run_action_sequence_reports_each_action(client):
    contact_id = client.add({"Email": "ada@example.com"})

    results = client.run_action_sequence(contact_id, 300)

    assert len(results) == 2 and not any(r.is_error for r in results)
    assert client.load(contact_id, ["Groups"]) == {"Groups": "103"}
    assert client.get_next_campaign_step(contact_id, 200) == 2001


def test_an_unknown_field_is_a_failure_naming_only_the_field(client):
    error = failure(lambda: client.add({"Email": "ada@example.com", "given_name": "Ada"}))

    assert (error.reason, error.retryable, error.outcome) == (
        "no field found: Contact.given_name", False, "failure"
    )  # fmt: skip


def test_an_unknown_method_is_a_numbered_fault(client):
    error = failure(lambda: client.call("sendSmoke", 1))

    assert error.reason == "XML-RPC fault 0"


def test_a_wrong_api_key_is_an_auth_error(sandbox):
    bad = ContactServiceClient(CrmSession(), credentials(sandbox, api_key="KeapAK-wrong"))

    error = failure(lambda: bad.load(1, ["Id"]))

    assert (error.auth, error.retryable, error.status) == (True, False, 401)


def test_an_unknown_bearer_token_is_an_auth_error(sandbox):
    bad = ContactServiceClient(
        CrmSession(), credentials(sandbox, api_key="", access_token="not-a-token")
    )

    error = failure(lambda: bad.load(1, ["Id"]))

    assert (error.auth, error.status) == (True, 401)


def test_a_gateway_503_is_retryable(client, sandbox):
    control(sandbox, {"status": 503, "count": 1, "target": "xmlrpc"})

    error = failure(lambda: client.add({"Email": "ada@example.com"}))

    assert (error.retryable, error.status, error.outcome) == (True, 503, "error")
    assert stored(sandbox, "ada@example.com") == []


def test_a_throttled_call_is_retryable_after_the_given_delay(client, sandbox):
    control(sandbox, {"status": 429, "count": 1, "target": "xmlrpc", "retry_after": 3})

    error = failure(lambda: client.add({"Email": "ada@example.com"}))

    assert (error.retryable, error.status, error.retry_after) == (True, 429, 3.0)


def test_going_over_the_spike_limit_is_retryable(client, sandbox):
    control(sandbox, {"rate_limits": {"api_key": {"spike": 1}}})

    with pytest.raises(CrmError) as caught:
        for _ in range(5):
            client.find_by_email("ada@example.com", ["Id"])

    assert (caught.value.retryable, caught.value.status) == (True, 429)


# --- KeapXmlRpcRecipient end to end ------------------------------------------------


def test_create_adds_the_contact_with_every_mapped_field(sandbox):
    contact = ContactData(
        **ADA, middle_name="B", suffix="III", phones=["+15125550100", "+15125550101"],
        address_line1="1 Main St", address_line2="Suite 2", city="Austin",
        region_name="Texas", postal_code="78701", country_alpha2="US", country_alpha3="USA",
        website="https://ada.example.com", notes="Call after 5", job_title="Analyst",
        birthday=date(1990, 9, 25), company="Engines Ltd",
        custom_fields={"LeadScore": 42, "_UtmCampaign": "spring"},
        extra={"OwnerID": 2, "ContactType": "Prospect", "LeadSourceId": 3},
    )  # fmt: skip

    result = deliver(sandbox, plan("create"), contact)

    assert (result.outcome, result.duplicate) == ("success", False)
    (saved,) = stored(sandbox, "ada@example.com")
    assert str(saved["id"]) == result.contact_id
    loaded = ContactServiceClient(CrmSession(), credentials(sandbox)).load(
        int(result.contact_id),
        ["FirstName", "MiddleName", "LastName", "Suffix", "Email", "Phone1", "Phone2",
         "StreetAddress1", "StreetAddress2", "City", "State", "PostalCode", "Country",
         "Website", "JobTitle", "Birthday", "ContactNotes", "Company", "_LeadScore",
         "_UtmCampaign", "OwnerID", "ContactType", "LeadSourceId"],
    )  # fmt: skip
    birthday = loaded.pop("Birthday")
    assert (birthday.year, birthday.month, birthday.day) == (1990, 9, 25)
    assert loaded == {
        "FirstName": "Ada", "MiddleName": "B", "LastName": "Lovelace", "Suffix": "III",
        "Email": "ada@example.com", "Phone1": "+15125550100", "Phone2": "+15125550101",
        "StreetAddress1": "1 Main St", "StreetAddress2": "Suite 2", "City": "Austin",
        "State": "Texas", "PostalCode": "78701", "Country": "United States",
        "Website": "https://ada.example.com", "JobTitle": "Analyst",
        "ContactNotes": "Call after 5", "Company": "Engines Ltd", "_LeadScore": 42,
        "_UtmCampaign": "spring", "OwnerID": 2, "ContactType": "Prospect", "LeadSourceId": 3,
    }  # fmt: skip


def test_a_shipping_address_lands_in_the_second_address_slot(sandbox):
    contact = ContactData(**ADA, address_line1="9 Dock Rd", city="Leeds", postal_code="LS1")

    result = deliver(sandbox, plan("create", address_type="SHIPPING"), contact)

    (saved,) = stored(sandbox, "ada@example.com")
    assert [(a["field"], a["line1"]) for a in saved["addresses"]] == [("SHIPPING", "9 Dock Rd")]
    assert result.outcome == "success"


def test_create_twice_makes_two_contacts(sandbox):
    first = deliver(sandbox, plan("create"))
    second = deliver(sandbox, plan("create"))

    assert first.contact_id != second.contact_id
    assert len(stored(sandbox, "ada@example.com")) == 2


def test_a_create_that_may_have_been_sent_adopts_the_contact_instead_of_adding_another(sandbox):
    first = deliver(sandbox, plan("create"))

    retry = deliver(sandbox, plan("create", may_have_been_sent=True))

    assert (retry.contact_id, retry.duplicate) == (first.contact_id, True)
    assert len(stored(sandbox, "ada@example.com")) == 1


def test_a_create_that_may_have_been_sent_adds_when_nothing_arrived(sandbox):
    session = CrmSession()

    result = deliver(sandbox, plan("create", may_have_been_sent=True), http=session)

    assert (result.outcome, result.duplicate) == ("success", False)
    assert len(stored(sandbox, "ada@example.com")) == 1
    assert len(session.calls) == 2  # findByEmail, then add


def test_create_or_update_of_a_new_email_is_not_a_duplicate(sandbox):
    result = deliver(sandbox, plan("create_or_update"))

    assert (result.outcome, result.duplicate) == ("success", False)
    (saved,) = stored(sandbox, "ada@example.com")
    assert str(saved["id"]) == result.contact_id


def test_create_or_update_of_a_known_email_updates_it_as_a_duplicate(sandbox):
    first = deliver(sandbox, plan("create"))

    again = deliver(sandbox, plan("create_or_update"), ContactData(**ADA, job_title="CTO"))

    assert (again.contact_id, again.duplicate) == (first.contact_id, True)
    (saved,) = stored(sandbox, "ada@example.com")
    assert saved["job_title"] == "CTO"


def test_matching_on_email_and_name_creates_when_only_the_email_is_known(sandbox):
    first = deliver(sandbox, plan("create"))
    grace = ContactData(first_name="Grace", last_name="Hopper", email="ada@example.com")

    other = deliver(sandbox, plan("create_or_update", "EmailAndName"), grace)
    same = deliver(sandbox, plan("create_or_update", "EmailAndName"))

    assert other.contact_id != first.contact_id and other.duplicate is False
    assert (same.contact_id, same.duplicate) == (first.contact_id, True)


def test_matching_on_email_name_and_company_creates_for_another_company(sandbox):
    first = deliver(sandbox, plan("create"), ContactData(**ADA, company="Acme Corp"))
    match = "EmailAndNameAndCompany"

    other = deliver(sandbox, plan("create_or_update", match), ContactData(**ADA, company="Globex"))
    same = deliver(
        sandbox, plan("create_or_update", match), ContactData(**ADA, company="Acme Corp")
    )

    assert other.contact_id != first.contact_id and other.duplicate is False
    assert (same.contact_id, same.duplicate) == (first.contact_id, True)
    assert len(stored(sandbox, "ada@example.com")) == 2


def test_tags_and_follow_up_sequences_from_the_plan_are_applied(sandbox):
    result = deliver(sandbox, plan(tag_ids=(100, "101"), sequences=({"campaign_id": 200},)))

    (saved,) = stored(sandbox, "ada@example.com")
    assert sorted(saved["tag_ids"]) == [100, 101]
    assert [(s["sequence_id"], s["status"]) for s in saved["sequences"]] == [(200, "active")]
    assert result.outcome == "success"


def test_the_plan_options_remove_tags_and_pause_resume_and_remove_sequences(sandbox):
    deliver(sandbox, plan(tag_ids=(100, 102), sequences=({"campaign_id": 200},
                                                          {"campaign_id": 201})))  # fmt: skip

    deliver(
        sandbox,
        plan(options={"remove_tag_ids": [100], "pause_sequence_ids": [200],
                      "remove_sequence_ids": [201]}),
    )  # fmt: skip
    (saved,) = stored(sandbox, "ada@example.com")
    assert saved["tag_ids"] == [102]
    assert {s["sequence_id"]: s["status"] for s in saved["sequences"]} == {
        200: "paused", 201: "removed"
    }  # fmt: skip

    deliver(sandbox, plan(options={"resume_sequence_ids": [200]}))
    assert sequence_status(sandbox, "ada@example.com", 200) == "active"


def test_an_action_set_from_the_options_runs_on_the_contact(sandbox):
    result = deliver(sandbox, plan(options={"action_set_ids": [300]}))

    (saved,) = stored(sandbox, "ada@example.com")
    assert saved["tag_ids"] == [103]
    assert [s["sequence_id"] for s in saved["sequences"]] == [200]
    assert result.outcome == "success"


def test_an_unknown_custom_field_fails_before_any_contact_exists(sandbox):
    contact = ContactData(**ADA, custom_fields={"Nope": "x"})

    error = failure(lambda: deliver(sandbox, plan("create"), contact))

    assert (error.reason, error.outcome, error.contact_id) == (
        "no field found: Contact._Nope", "failure", ""
    )  # fmt: skip
    assert stored(sandbox, "ada@example.com") == []


def test_a_badly_typed_native_field_is_an_invalid_parameter(sandbox):
    contact = ContactData(**ADA, extra={"OwnerID": "Sam"})

    error = failure(lambda: deliver(sandbox, plan("create_or_update"), contact))

    assert (error.reason, error.outcome) == ("invalid parameter", "failure")


def test_an_unknown_follow_up_sequence_fails_after_the_contact_is_saved(sandbox):
    error = failure(lambda: deliver(sandbox, plan(sequences=({"campaign_id": 999},))))

    (saved,) = stored(sandbox, "ada@example.com")
    assert (error.reason, error.outcome) == ("follow-up sequence not found", "failure")
    assert (error.contact_id, error.duplicate) == (str(saved["id"]), False)


def test_an_unknown_tag_fails_with_record_not_found_and_the_contact_id(sandbox):
    error = failure(lambda: deliver(sandbox, plan(tag_ids=(999,))))

    (saved,) = stored(sandbox, "ada@example.com")
    assert (error.reason, error.contact_id) == ("tags: record not found", str(saved["id"]))


def test_an_unknown_action_set_fails_with_the_contact_id(sandbox):
    error = failure(lambda: deliver(sandbox, plan(options={"action_set_ids": [999]})))

    (saved,) = stored(sandbox, "ada@example.com")
    assert error.contact_id == str(saved["id"])
    assert error.outcome == "failure"


def test_a_rejected_key_fails_the_delivery_as_an_auth_error(sandbox):
    error = failure(
        lambda: KeapXmlRpcRecipient().deliver(
            contact=ContactData(**ADA),
            plan=plan(),
            credentials=credentials(sandbox, api_key="KeapAK-wrong"),
            http=CrmSession(),
        )
    )

    assert (error.auth, error.outcome) == (True, "error")
    assert stored(sandbox, "ada@example.com") == []


def test_every_call_of_a_delivery_is_recorded_without_the_key(sandbox):
    session = CrmSession(secrets=(settings.SANDBOX_KEAP_API_KEY,))

    deliver(sandbox, plan(tag_ids=(100,)), http=session)

    assert [c.status_code for c in session.calls] == [200, 200, 200]
    methods = ["findByEmail", "addWithDupCheck", "addToGroup"]
    assert all(m in c.request_body for m, c in zip(methods, session.calls, strict=True))
    assert settings.SANDBOX_KEAP_API_KEY not in repr(session.calls)
