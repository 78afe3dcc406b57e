"""ContactServiceClient and the recipient against canned XML-RPC bodies (`responses`):
the request on the wire, fault and HTTP-status mapping, and plan handling edge cases.
The sandbox tests (test_keap_xmlrpc_sandbox.py) cover the same calls end to end."""

import xmlrpc.client

import pytest
import requests
import responses

from integrations.crm.base import ContactData, Credentials, CrmError, StepPlan
from integrations.crm.http import CrmSession
from integrations.crm.keap_xmlrpc import ContactServiceClient, KeapXmlRpcRecipient

BASE = "https://api.example.test/crm"
URL = BASE + "/xmlrpc/v1"
SECRET = "KeapAK-secret-do-not-leak"
KEY = Credentials(base_url=BASE, api_key=SECRET)


def ok(value) -> str:
    return xmlrpc.client.dumps((value,), methodresponse=True)


def fault(code: int, text: str) -> str:
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, text))


@pytest.fixture
def keap():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def sent(mock, index: int = -1) -> tuple[tuple, str]:
    """(params, methodName) of a recorded request."""
    return xmlrpc.client.loads(mock.calls[index].request.body, use_builtin_types=True)


def client(credentials: Credentials = KEY) -> ContactServiceClient:
    return ContactServiceClient(CrmSession(), credentials)


def test_a_call_posts_text_xml_with_the_api_key_header_and_the_placeholder_key(keap):
    keap.post(URL, body=ok(41))

    assert client().add({"Email": "ada@example.com"}) == 41

    request = keap.calls[0].request
    assert request.url == URL
    assert request.headers["Content-Type"] == "text/xml"
    assert request.headers["X-Keap-API-Key"] == SECRET
    assert "Authorization" not in request.headers
    params, method = sent(keap)
    assert method == "ContactService.add"
    assert params == ("backwards-compatability", {"Email": "ada@example.com"})
    assert SECRET.encode() not in request.body


def test_an_oauth_token_is_sent_as_a_bearer_header(keap):
    keap.post(URL, body=ok(True))

    client(Credentials(base_url=BASE + "/", access_token="tok-123")).add_to_group(5, 100)

    request = keap.calls[0].request
    assert request.url == URL
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert "X-Keap-API-Key" not in request.headers


def test_every_call_is_recorded_as_an_attempt_with_the_key_redacted(keap):
    keap.post(URL, body=ok(True))
    session = CrmSession()

    ContactServiceClient(session, KEY).pause_campaign(5, 200)

    assert len(session.calls) == 1
    record = session.calls[0]
    assert record.request_headers["X-Keap-API-Key"] == "[redacted]"
    assert "ContactService.pauseCampaign" in record.request_body
    assert SECRET not in repr(record)


@pytest.mark.parametrize(
    "method, args, params, result",
    [
        (
            "add_with_dup_check",
            ({"Email": "a@b.c"}, "EmailAndName"),
            ({"Email": "a@b.c"}, "EmailAndName"),
            7,
        ),
        ("update", (7, {"FirstName": "Ada"}), (7, {"FirstName": "Ada"}), 7),
        ("load", (7, ["Id", "Email"]), (7, ["Id", "Email"]), {"Id": 7, "Email": "a@b.c"}),
        ("find_by_email", ("a@b.c", ["Id"]), ("a@b.c", ["Id"]), [{"Id": 7}]),
        ("merge", (7, 8), (7, 8), True),
        ("add_to_group", (7, 100), (7, 100), True),
        ("remove_from_group", (7, 100), (7, 100), False),
        ("add_to_campaign", (7, 200), (7, 200), True),
        ("remove_from_campaign", (7, 200), (7, 200), True),
        ("pause_campaign", (7, 200), (7, 200), True),
        ("resume_campaign_for_contact", (7, 200), (7, 200), True),
        ("get_next_campaign_step", (7, 200), (7, 200), 15),
        ("reschedule_campaign_step", ([7, 8], 15), ([7, 8], 15), 2),
    ],
)
def test_each_method_sends_its_contactservice_call(keap, method, args, params, result):
    keap.post(URL, body=ok(result))

    assert getattr(client(), method)(*args) == result

    sent_params, name = sent(keap)
    camel = {
        "add_with_dup_check": "addWithDupCheck",
        "find_by_email": "findByEmail",
        "add_to_group": "addToGroup",
        "remove_from_group": "removeFromGroup",
        "add_to_campaign": "addToCampaign",
        "remove_from_campaign": "removeFromCampaign",
        "pause_campaign": "pauseCampaign",
        "resume_campaign_for_contact": "resumeCampaignForContact",
        "get_next_campaign_step": "getNextCampaignStep",
        "reschedule_campaign_step": "rescheduleCampaignStep",
    }.get(method, method)
    assert name == f"ContactService.{camel}"
    assert sent_params == ("backwards-compatability", *params)


def test_run_action_sequence_returns_each_action_and_its_error_flag(keap):
    keap.post(
        URL,
        body=ok(
            [
                {"Action": " Apply/Remove Tag ", "Message": "tags applied", "IsError": False},
                {"Action": "Send Email", "Message": "no template", "IsError": True},
            ]
        ),
    )

    results = client().run_action_sequence(7, 300)

    assert [(r.action, r.is_error) for r in results] == [
        ("Apply/Remove Tag", False),
        ("Send Email", True),
    ]


@pytest.mark.parametrize(
    "code, text, reason",
    [
        (
            10,
            "[NoFieldFound]No field found: Contact.given_name",
            "no field found: Contact.given_name",
        ),
        (10, "[NoFieldFound]No field found: Contact._Colour", "no field found: Contact._Colour"),
        (
            5,
            "[RecordNotFound]Unable to perform update. Record not found for Id:48872",
            "record not found",
        ),
        (6, "[Loading]Error loading follow-up sequence", "follow-up sequence not found"),
        (12, "[InvalidParameter]Invalid parameter for dupCheckType", "invalid parameter"),
        (5, "Record not found", "record not found"),  # no tag: the code decides
        (4, "[DatabaseError]Error inserting ada@example.com", "XML-RPC fault 4"),
        (0, "No such handler: ContactService.nope", "XML-RPC fault 0"),
        (0, "No method matching arguments: java.lang.String", "XML-RPC fault 0"),
    ],
)
def test_a_fault_becomes_a_final_failure_with_a_fixed_reason(keap, code, text, reason):
    keap.post(URL, body=fault(code, text))

    with pytest.raises(CrmError) as caught:
        client().update(48872, {"Email": "ada@example.com"})

    error = caught.value
    assert (error.reason, error.retryable, error.outcome, error.auth) == (
        reason,
        False,
        "failure",
        False,
    )
    assert "ada@example.com" not in error.reason and "48872" not in error.reason


@pytest.mark.parametrize(
    "code, text",
    [
        (2, "[InvalidKey]Invalid Key"),
        (13, "[FailedLoginAttempt]Login failed"),
        (14, "[NoAccess]Access denied"),
        (15, "[FailedLoginAttemptPasswordExpired]Password expired"),
        (2, "Invalid key"),
    ],
)
def test_an_auth_fault_becomes_an_auth_error(keap, code, text):
    keap.post(URL, body=fault(code, text))

    with pytest.raises(CrmError) as caught:
        client().load(5, ["Id"])

    assert caught.value.auth is True
    assert caught.value.retryable is False
    assert caught.value.outcome == "error"
    assert caught.value.reason == "authentication rejected"


@pytest.mark.parametrize("status", [401, 403])
def test_a_gateway_401_or_403_is_an_auth_error(keap, status):
    keap.post(URL, status=status, json={"fault": {"faultstring": "Invalid access token"}})

    with pytest.raises(CrmError) as caught:
        client().load(5, ["Id"])

    error = caught.value
    assert (error.reason, error.retryable, error.status, error.auth) == (
        "authentication rejected",
        False,
        status,
        True,
    )


def test_a_429_is_retryable_and_honours_retry_after(keap):
    keap.post(URL, status=429, headers={"Retry-After": "7"}, json={"code": "429"})

    with pytest.raises(CrmError) as caught:
        client().load(5, ["Id"])

    assert (caught.value.retryable, caught.value.status, caught.value.retry_after) == (
        True,
        429,
        7.0,
    )


def test_a_429_without_retry_after_leaves_the_backoff_to_the_engine(keap):
    keap.post(URL, status=429, json={"code": "429"})

    with pytest.raises(CrmError) as caught:
        client().load(5, ["Id"])

    assert caught.value.retryable is True
    assert caught.value.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_5xx_is_retryable(keap, status):
    keap.post(URL, status=status, body="<html>Bad gateway</html>")

    with pytest.raises(CrmError) as caught:
        client().load(5, ["Id"])

    assert (caught.value.retryable, caught.value.status, caught.value.outcome) == (
        True,
        status,
        "error",
    )


def test_an_unexpected_4xx_is_a_final_failure(keap):
    keap.post(URL, status=404, body="Not Found")

    with pytest.raises(CrmError) as caught:
        client().load(5, ["Id"])

    assert (caught.value.retryable, caught.value.status) == (False, 404)


@pytest.mark.parametrize(
    "body",
    [
        "<html><body>Service Unavailable</body></html>",
        "not xml at all",
        "",
        "<?xml version='1.0'?><methodResponse><params></params></methodResponse>",
    ],
)
def test_an_unparsable_200_is_a_retryable_unreadable_response(keap, body):
    keap.post(URL, body=body)

    with pytest.raises(CrmError) as caught:
        client().load(5, ["Id"])

    assert (caught.value.reason, caught.value.retryable) == ("unreadable CRM response", True)


def test_a_result_of_the_wrong_type_is_an_unreadable_response(keap):
    keap.post(URL, body=ok("forty-one"))

    with pytest.raises(CrmError) as caught:
        client().add({"Email": "ada@example.com"})

    assert caught.value.reason == "unreadable CRM response"


def test_a_dropped_connection_is_retryable(keap):
    keap.post(URL, body=requests.ConnectionError("reset"))

    with pytest.raises(CrmError) as caught:
        client().add({"Email": "ada@example.com"})

    assert caught.value.retryable is True


def test_credentials_without_a_key_or_token_fail_before_any_request(keap):
    with pytest.raises(CrmError) as caught:
        client(Credentials(base_url=BASE)).load(5, ["Id"])

    assert caught.value.auth is True
    assert len(keap.calls) == 0


# --- the recipient: cases the sandbox cannot stage ---------------------------------


def deliver(plan: StepPlan, contact: ContactData | None = None):
    return KeapXmlRpcRecipient().deliver(
        contact=contact or ContactData(email="ada@example.com", first_name="Ada"),
        plan=plan,
        credentials=KEY,
        http=CrmSession(),
    )


def test_an_action_set_reporting_an_error_fails_the_delivery_with_the_contact_id(keap):
    keap.post(URL, body=ok(41))  # add
    keap.post(URL, body=ok([{"Action": "Send Email", "Message": "x", "IsError": True}]))

    with pytest.raises(CrmError) as caught:
        deliver(
            StepPlan(action="create", duplicate_match="Email", options={"action_set_ids": [300]})
        )

    error = caught.value
    assert (error.reason, error.outcome, error.contact_id, error.duplicate) == (
        "action set reported an error",
        "failure",
        "41",
        False,
    )


def test_a_fault_after_the_contact_exists_carries_its_id(keap):
    keap.post(URL, body=ok(41))  # add
    keap.post(URL, body=fault(6, "[Loading]Error loading follow-up sequence"))

    with pytest.raises(CrmError) as caught:
        deliver(
            StepPlan(action="create", duplicate_match="Email", sequences=({"campaign_id": 999},))
        )

    assert (caught.value.reason, caught.value.contact_id) == ("follow-up sequence not found", "41")


@pytest.mark.parametrize(
    "plan",
    [
        StepPlan(action="create", duplicate_match="Email", tag_ids=("hot",)),
        StepPlan(action="create", duplicate_match="Email", options={"remove_tag_ids": [None]}),
        StepPlan(action="create", duplicate_match="Email", sequences=({"id": 200},)),
        StepPlan(action="create", duplicate_match="Email", address_type="HOME"),
        StepPlan(action="create_or_update", duplicate_match="Phone"),
        StepPlan(action="delete", duplicate_match="Email"),
    ],
)
def test_a_misconfigured_plan_fails_before_any_request(keap, plan):
    with pytest.raises(CrmError) as caught:
        deliver(plan)

    assert caught.value.retryable is False
    assert len(keap.calls) == 0


def test_upsert_without_an_email_reports_duplicate_as_unknown(keap):
    keap.post(URL, body=ok(41))

    result = deliver(
        StepPlan(action="create_or_update", duplicate_match="Email"),
        ContactData(phones=["+15125550100"]),
    )

    assert (result.contact_id, result.duplicate) == ("41", None)
    assert [sent(keap, i)[1] for i in range(len(keap.calls))] == ["ContactService.addWithDupCheck"]
