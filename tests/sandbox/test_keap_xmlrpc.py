"""The Keap sandbox's XML-RPC API over a real socket, driven by Python's own
xmlrpc.client: every ContactService method, DataService, and each fault
(crm-wire-spec.md §5 and §7.2)."""

import json
import urllib.request
import xmlrpc.client
from datetime import datetime

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "backwards-compatability"  # the legacy key parameter the PHP SDK sends (§5.1)


@pytest.fixture
def keap(live_server):
    return xmlrpc.client.ServerProxy(
        live_server.url + "/sandbox/keap/crm/xmlrpc/v1",
        headers=[("X-Keap-API-Key", settings.SANDBOX_KEAP_API_KEY)],
    )


@pytest.fixture
def control(live_server):
    def post(**payload):
        request = urllib.request.Request(
            live_server.url + "/sandbox/keap/_control/faults",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as response:
            return json.load(response)

    return post


@pytest.fixture(autouse=True)
def roomy_spike_limit(control):
    """A whole campaign lifecycle is more than 10 calls in one second: lift the spike
    arrest here (test_keap_gateway covers it)."""
    control(rate_limits={"api_key": {"spike": 100}})


def fault_of(call) -> xmlrpc.client.Fault:
    with pytest.raises(xmlrpc.client.Fault) as caught:
        call()
    return caught.value


def new_contact(keap, **fields):
    return keap.ContactService.add(KEY, {"FirstName": "Ann", "Email": "ann@example.com", **fields})


def test_add_always_inserts_and_load_returns_only_non_empty_requested_fields(keap):
    first = new_contact(keap, Phone1="+1 555 010 0000", _LeadScore=7)
    second = new_contact(keap)
    assert second != first
    loaded = keap.ContactService.load(
        KEY, first, ["Id", "FirstName", "Phone1", "_LeadScore", "JobTitle"]
    )
    assert loaded == {"Id": first, "FirstName": "Ann", "Phone1": "+1 555 010 0000", "_LeadScore": 7}


def test_rest_names_are_no_field_found(keap):
    fault = fault_of(lambda: keap.ContactService.add(KEY, {"given_name": "Ann"}))
    assert fault.faultCode == 10
    assert fault.faultString == "[NoFieldFound]No field found: Contact.given_name"


def test_field_names_are_case_sensitive(keap):
    fault = fault_of(lambda: keap.ContactService.add(KEY, {"OwnerId": 1}))
    assert fault.faultString == "[NoFieldFound]No field found: Contact.OwnerId"


def test_add_with_dup_check_updates_the_lowest_id_match_and_returns_its_id(keap):
    first = new_contact(keap)
    new_contact(keap)
    same = keap.ContactService.addWithDupCheck(
        KEY, {"Email": "ANN@example.com", "JobTitle": "CTO"}, "Email"
    )
    assert same == first
    assert keap.ContactService.load(KEY, first, ["JobTitle"]) == {"JobTitle": "CTO"}


def test_add_with_dup_check_by_name_and_company(keap):
    first = new_contact(keap, LastName="Lee", Company="Acme Corp")
    data = {"Email": "ann@example.com", "FirstName": "ann", "LastName": "LEE"}
    assert keap.ContactService.addWithDupCheck(KEY, data, "EmailAndName") == first
    other = keap.ContactService.addWithDupCheck(
        KEY, {**data, "Company": "Globex"}, "EmailAndNameAndCompany"
    )
    assert other != first
    assert (
        keap.ContactService.addWithDupCheck(
            KEY, {**data, "Company": "acme corp"}, "EmailAndNameAndCompany"
        )
        == first
    )


def test_update_returns_the_id_and_a_missing_record_is_fault_5(keap):
    contact_id = new_contact(keap)
    assert (
        keap.ContactService.update(KEY, contact_id, {"LastName": "Lee", "FirstName": ""})
        == contact_id
    )
    assert keap.ContactService.load(KEY, contact_id, ["FirstName", "LastName"]) == {
        "LastName": "Lee"
    }
    fault = fault_of(lambda: keap.ContactService.update(KEY, 48872, {"LastName": "X"}))
    assert fault.faultCode == 5
    assert (
        fault.faultString
        == "[RecordNotFound]Unable to perform update. Record not found for Id:48872"
    )


def test_load_of_a_missing_record_is_fault_5(keap):
    assert fault_of(lambda: keap.ContactService.load(KEY, 999, ["Id"])).faultCode == 5


def test_find_by_email_searches_all_three_email_fields(keap):
    first = new_contact(keap, Email="a@example.com", EmailAddress3="shared@example.com")
    second = new_contact(keap, Email="Shared@Example.com")
    new_contact(keap, Email="nobody@example.com")
    found = keap.ContactService.findByEmail(KEY, "shared@example.com", ["Id", "Email"])
    assert found == [
        {"Id": first, "Email": "a@example.com"},
        {"Id": second, "Email": "Shared@Example.com"},
    ]


def test_xmlrpc_and_rest_share_one_store_and_contact_notes_is_the_notes_slot(keap, client):
    birthday = xmlrpc.client.DateTime(datetime(1990, 9, 25))
    contact_id = new_contact(
        keap, ContactNotes="Call after 5", Birthday=birthday, State="AZ", Country="United States",
        OwnerID=1, LeadSourceId=2, _UtmCampaign="spring",
    )  # fmt: skip
    everything = client.get("/sandbox/keap/_control/contacts").json()["contacts"][0]
    assert everything["id"] == contact_id
    assert everything["notes"] == "Call after 5"
    assert everything["birthday"] == "1990-09-25T00:00:00.000Z"
    # Legacy State is free text, so REST returns what its own PUT would refuse (K16).
    assert everything["addresses"] == [{"region": "AZ", "country_code": "USA", "field": "BILLING"}]
    assert {"id": 8, "content": "spring"} in everything["custom_fields"]
    loaded = keap.ContactService.load(KEY, contact_id, ["Birthday", "Country", "OwnerID"])
    assert loaded["Birthday"].value == "19900925T00:00:00"
    assert loaded["Country"] == "United States" and loaded["OwnerID"] == 1


def test_merge_folds_the_duplicate_into_the_contact(keap):
    keep = new_contact(keap, Phone1="111")
    duplicate = new_contact(keap, FirstName="Annie", JobTitle="CTO")
    keap.ContactService.addToGroup(KEY, duplicate, 102)
    assert keap.ContactService.merge(KEY, keep, duplicate) is True
    merged = keap.ContactService.load(KEY, keep, ["FirstName", "JobTitle", "Phone1", "Groups"])
    assert merged == {"FirstName": "Ann", "JobTitle": "CTO", "Phone1": "111", "Groups": "102"}
    assert fault_of(lambda: keap.ContactService.load(KEY, duplicate, ["Id"])).faultCode == 5


def test_add_to_group_and_remove_from_group(keap):
    contact_id = new_contact(keap)
    assert keap.ContactService.addToGroup(KEY, contact_id, 100) is True
    assert keap.ContactService.addToGroup(KEY, contact_id, 103) is True
    assert keap.ContactService.load(KEY, contact_id, ["Groups"]) == {"Groups": "100,103"}
    assert keap.ContactService.removeFromGroup(KEY, contact_id, 100) is True
    assert keap.ContactService.load(KEY, contact_id, ["Groups"]) == {"Groups": "103"}
    assert fault_of(lambda: keap.ContactService.addToGroup(KEY, contact_id, 9999)).faultCode == 5


def test_add_to_campaign_with_a_bad_follow_up_sequence_is_the_loading_fault(keap):
    contact_id = new_contact(keap)
    fault = fault_of(lambda: keap.ContactService.addToCampaign(KEY, contact_id, 45))
    assert fault.faultCode == 6
    assert fault.faultString == "[Loading]Error loading follow-up sequence"


def test_campaign_lifecycle_add_pause_resume_step_and_remove(keap):
    contact_id = new_contact(keap)
    service = keap.ContactService
    assert service.getNextCampaignStep(KEY, contact_id, 200) == 0
    assert service.addToCampaign(KEY, contact_id, 200) is True
    assert service.getNextCampaignStep(KEY, contact_id, 200) == 2001
    assert service.pauseCampaign(KEY, contact_id, 200) is True
    assert service.resumeCampaignForContact(KEY, contact_id, 200) is True
    assert service.rescheduleCampaignStep(KEY, [contact_id], 2001) == 1
    assert service.getNextCampaignStep(KEY, contact_id, 200) == 2002
    assert service.removeFromCampaign(KEY, contact_id, 200) is True
    assert service.getNextCampaignStep(KEY, contact_id, 200) == 0


def test_reschedule_counts_only_contacts_active_on_the_steps_sequence(keap):
    on, paused, off = new_contact(keap), new_contact(keap), new_contact(keap)
    for contact_id in (on, paused):
        keap.ContactService.addToCampaign(KEY, contact_id, 200)
    keap.ContactService.pauseCampaign(KEY, paused, 200)
    assert keap.ContactService.rescheduleCampaignStep(KEY, [on, paused, off], 2002) == 1


def test_run_action_sequence_reports_each_action_and_applies_it(keap):
    contact_id = new_contact(keap)
    results = keap.ContactService.runActionSequence(KEY, contact_id, 300)
    assert results == [
        {
            "Action": "Apply/Remove Tag",
            "Message": "tags applied to Contact: Hot Lead",
            "IsError": False,
        },
        {
            "Action": "Start/Stop Follow-up Sequence",
            "Message": "Follow-up sequence started: Welcome Series",
            "IsError": False,
        },
    ]
    assert keap.ContactService.load(KEY, contact_id, ["Groups"]) == {"Groups": "103"}
    assert keap.ContactService.getNextCampaignStep(KEY, contact_id, 200) == 2001


def test_an_invalid_value_is_the_invalid_parameter_fault(keap):
    fault = fault_of(lambda: new_contact(keap, _LeadScore="lots"))
    assert fault.faultCode == 12
    assert fault.faultString.startswith("[InvalidParameter]")


def test_read_only_fields_cannot_be_written(keap):
    fault = fault_of(lambda: new_contact(keap, Groups="100"))
    assert fault.faultCode == 8
    assert fault.faultString.startswith("[NoFieldAccess]")


def test_an_unknown_dup_check_type_is_invalid_parameter(keap):
    fault = fault_of(lambda: keap.ContactService.addWithDupCheck(KEY, {"Email": "a@b.co"}, "Name"))
    assert fault.faultCode == 12


def test_nil_in_a_struct_clears_the_field(live_server, keap):
    contact_id = new_contact(keap, JobTitle="CTO")
    nil_aware = xmlrpc.client.ServerProxy(
        live_server.url + "/sandbox/keap/crm/xmlrpc/v1",
        headers=[("X-Keap-API-Key", settings.SANDBOX_KEAP_API_KEY)],
        allow_none=True,
    )
    nil_aware.ContactService.update(KEY, contact_id, {"JobTitle": None})
    assert keap.ContactService.load(KEY, contact_id, ["JobTitle", "FirstName"]) == {
        "FirstName": "Ann"
    }


def test_a_missing_key_parameter_is_no_method_matching(keap):
    fault = fault_of(lambda: keap.ContactService.add({"FirstName": "Ann"}))
    assert fault.faultString == "No method matching arguments: java.util.HashMap"
    fault = fault_of(lambda: keap.ContactService.load(KEY, "12", ["Id"]))
    assert "java.lang.String, java.lang.String" in fault.faultString


def test_an_unknown_method_is_no_such_handler(keap):
    fault = fault_of(lambda: keap.ContactService.delete(KEY, 1))
    assert fault.faultString == "No such handler: ContactService.delete"


def test_lead_sources_via_data_service_query_with_wildcards(keap):
    rows = keap.DataService.query(KEY, "LeadSource", 1000, 0, {"Id": "%"}, ["Id", "Name", "Status"])
    assert {"Id": 1, "Name": "Website", "Status": "Active"} in rows
    ads = keap.DataService.query(KEY, "LeadSource", 10, 0, {"Name": "%ads"}, ["Id"])
    assert ads == [{"Id": 2}, {"Id": 3}]
    fault = fault_of(lambda: keap.DataService.query(KEY, "LeadSource", 10, 0, {}, ["Nope"]))
    assert fault.faultString == "[NoFieldFound]No field found: LeadSource.Nope"
    fault = fault_of(lambda: keap.DataService.query(KEY, "Invoice", 10, 0, {}, ["Id"]))
    assert fault.faultCode == 9


def test_data_service_query_pages_and_orders(keap):
    rows = keap.DataService.query(KEY, "LeadSource", 2, 1, {}, ["Id"], "Name", False)
    # Names descending: Website, Webinar, Referral, Google Ads, Facebook Ads.
    assert rows == [{"Id": 4}, {"Id": 2}]


def test_app_setting_lists_contact_types_and_user_info_takes_no_key(keap):
    assert (
        keap.DataService.getAppSetting(KEY, "Contact", "optiontypes")
        == "Lead,Prospect,Customer,Partner"
    )
    assert keap.DataService.getUserInfo()["displayName"] == "Sandbox Admin"
    assert "No method matching" in fault_of(lambda: keap.DataService.getUserInfo(KEY)).faultString


def test_replies_use_i4_and_the_unversioned_path_works(live_server):
    body = xmlrpc.client.dumps((KEY, {"Email": "x@example.com"}), "ContactService.add")
    request = urllib.request.Request(
        live_server.url + "/sandbox/keap/crm/xmlrpc",
        data=body.encode(),
        headers={"Content-Type": "text/xml", "X-Keap-API-Key": settings.SANDBOX_KEAP_API_KEY},
    )
    with urllib.request.urlopen(request) as response:
        reply = response.read().decode()
    assert "<i4>" in reply and "<int>" not in reply


def test_gateway_rejections_are_http_errors_not_faults(live_server, control):
    anonymous = xmlrpc.client.ServerProxy(live_server.url + "/sandbox/keap/crm/xmlrpc/v1")
    with pytest.raises(xmlrpc.client.ProtocolError) as unauthorized:
        anonymous.ContactService.load(KEY, 1, ["Id"])
    assert unauthorized.value.errcode == 401
    control(status=429)
    keap = xmlrpc.client.ServerProxy(
        live_server.url + "/sandbox/keap/crm/xmlrpc/v1",
        headers=[("Authorization", f"Bearer {settings.SANDBOX_KEAP_API_KEY}")],
    )
    with pytest.raises(xmlrpc.client.ProtocolError) as limited:
        keap.DataService.getUserInfo()
    assert limited.value.errcode == 429


def test_a_body_that_is_not_a_method_call_is_a_fault_not_a_crash(client):
    response = client.post(
        "/sandbox/keap/crm/xmlrpc/v1",
        data=b"<foo/>",
        content_type="text/xml",
        headers={"X-Keap-API-Key": settings.SANDBOX_KEAP_API_KEY},
    )
    assert response.status_code == 200
    assert b"<fault>" in response.content
