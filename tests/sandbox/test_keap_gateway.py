"""The Keap sandbox's gateway behaviour (auth faults, rate limits, quota headers) and
its _control API (fault injection, stats, contacts view). crm-wire-spec.md §2.5, §4."""

import time

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

BASE = "/sandbox/keap"
TAGS = f"{BASE}/crm/rest/v1/tags"
KEY = {"X-Keap-API-Key": settings.SANDBOX_KEAP_API_KEY}


def control(client, **payload):
    response = client.post(f"{BASE}/_control/faults", payload, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Keap-API-Key": "wrong"}, {"Authorization": "Bearer not-a-token"}],
)
def test_missing_or_invalid_credentials_get_the_apigee_401(client, headers):
    response = client.get(TAGS, headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "fault": {
            "faultstring": "Invalid Access Token",
            "detail": {"errorcode": "keymanagement.service.invalid_access_token"},
        }
    }


def test_the_api_key_works_as_a_bearer_token_too(client):
    bearer = {"Authorization": f"Bearer {settings.SANDBOX_KEAP_API_KEY}"}
    assert client.get(TAGS, headers=bearer).status_code == 200


def test_successful_responses_carry_the_quota_and_throttle_headers(client):
    client.get(TAGS, headers=KEY)
    response = client.get(TAGS, headers=KEY)
    assert response["x-keap-product-quota-limit"] == "30000"
    assert response["x-keap-product-quota-time-unit"] == "day"
    assert response["x-keap-product-quota-used"] == "2"
    assert response["x-keap-product-throttle-limit"] == "240"
    assert response["x-keap-product-throttle-available"] == "238"


def test_the_spike_limit_gives_apigees_429_without_retry_after(client):
    control(client, rate_limits={"api_key": {"spike": 2}})
    statuses = [client.get(TAGS, headers=KEY) for _ in range(3)]
    assert [r.status_code for r in statuses[:2]] == [200, 200]
    limited = statuses[2]
    if limited.status_code == 200:  # the second ticked over between calls: one more try
        limited = [client.get(TAGS, headers=KEY) for _ in range(3)][-1]
    assert limited.status_code == 429
    fault = limited.json()["fault"]
    assert fault["faultstring"].startswith("Rate limit quota violation. Quota limit exceeded.")
    assert fault["detail"]["errorcode"] == "policies.ratelimit.QuotaViolation"
    assert "Retry-After" not in limited


def test_the_minute_throttle_and_a_configured_retry_after(client):
    control(client, rate_limits={"api_key": {"minute": 1}}, retry_after=7)
    assert client.get(TAGS, headers=KEY).status_code == 200
    limited = client.get(TAGS, headers=KEY)
    assert limited.status_code == 429
    assert limited["Retry-After"] == "7"


def test_injected_statuses_answer_the_next_n_calls_then_stop(client):
    control(client, status=503, count=2)
    responses = [client.get(TAGS, headers=KEY) for _ in range(3)]
    assert [r.status_code for r in responses] == [503, 503, 200]
    assert "fault" in responses[0].json()


def test_an_injected_429_uses_the_quota_fault_body(client):
    control(client, status=429)
    response = client.get(TAGS, headers=KEY)
    assert response.status_code == 429
    assert response.json()["fault"]["detail"]["errorcode"] == "policies.ratelimit.QuotaViolation"


def test_injected_latency_delays_the_call(client):
    control(client, latency_ms=300)
    started = time.monotonic()
    assert client.get(TAGS, headers=KEY).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_reset_clears_faults_and_stats(client):
    control(client, status=500, count=5)
    client.get(TAGS, headers=KEY)
    state = control(client, reset=True)
    assert state["faults"] == []
    assert client.get(TAGS, headers=KEY).status_code == 200
    assert client.get(f"{BASE}/_control/stats").json()["api_calls"] == {"GET crm/rest/v1/tags": 1}


def test_bad_control_payloads_are_400(client):
    response = client.post(
        f"{BASE}/_control/faults", {"status": 42}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "status" in response.json()["message"]


def test_stats_count_api_calls_by_route_and_responses_by_status(client):
    client.get(TAGS, headers=KEY)
    client.get(f"{BASE}/crm/rest/v1/contacts/5", headers=KEY)
    client.get(TAGS)
    stats = client.get(f"{BASE}/_control/stats").json()
    assert stats["api_calls"] == {
        "GET crm/rest/v1/contacts/{contact_id}": 1,
        "GET crm/rest/v1/tags": 2,
    }
    assert stats["responses"] == {"200": 1, "401": 1, "404": 1}
    assert stats["oauth_calls"] == {}


def test_control_contacts_and_the_html_page_show_what_arrived(client):
    contact = {
        "given_name": "Ann",
        "email_addresses": [{"email": "ann@example.com", "field": "EMAIL1"}],
    }
    created = client.post(
        f"{BASE}/crm/rest/v1/contacts", contact, content_type="application/json", headers=KEY
    ).json()
    client.post(
        f"{BASE}/crm/rest/v1/contacts/{created['id']}/tags",
        {"tagIds": [103]},
        content_type="application/json",
        headers=KEY,
    )
    everything = client.get(f"{BASE}/_control/contacts", {"email": "ANN@example.com"}).json()
    (seen,) = everything["contacts"]
    assert seen["tags"] == [{"id": 103, "name": "Hot Lead"}]
    assert seen["sequences"] == [] and seen["note_records"] == []
    page = client.get(f"{BASE}/").content.decode()
    assert "ann@example.com" in page and "Hot Lead" in page
