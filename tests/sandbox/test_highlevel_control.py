"""The HighLevel sandbox's rate limits, switchable faults and _control endpoints."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from integrations.sandbox.highlevel import faults

API = "/sandbox/highlevel"
LOCATION = settings.SANDBOX_HIGHLEVEL_LOCATION_ID
RATE_HEADERS = (
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
)

pytestmark = pytest.mark.django_db


def control(client, name, body):
    response = client.post(f"{API}/_control/{name}", body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def api(client, method="GET", path="workflows/", body=None):
    headers = {
        "Authorization": f"Bearer {settings.SANDBOX_HIGHLEVEL_TOKEN}",
        "Version": "2021-07-28",
    }
    if body is None:
        return getattr(client, method.lower())(
            f"{API}/{path}", {"locationId": LOCATION}, headers=headers
        )
    return getattr(client, method.lower())(
        f"{API}/{path}", body, content_type="application/json", headers=headers
    )


def test_every_api_response_carries_the_rate_limit_headers(client):
    response = api(client)
    assert response.status_code == 200
    assert {name: response[name] for name in RATE_HEADERS} == {
        "X-RateLimit-Limit-Daily": "200000",
        "X-RateLimit-Daily-Remaining": "199999",
        "X-RateLimit-Interval-Milliseconds": "10000",
        "X-RateLimit-Max": "100",
        "X-RateLimit-Remaining": "99",
    }
    error = api(client, "POST", "contacts/", {"locationId": LOCATION, "email": 1})
    assert error.status_code == 422
    assert error["X-RateLimit-Remaining"] == "98"


def test_over_the_burst_limit_is_429_too_many_requests(client):
    control(client, "faults", {"config": {"burst_max": 2, "burst_interval_ms": 60_000}})
    assert [api(client).status_code for _ in range(2)] == [200, 200]
    response = api(client)
    assert response.status_code == 429
    assert response.json() == {"statusCode": 429, "message": "Too Many Requests"}
    assert response["X-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in response  # §6.4: undocumented, off by default


def test_over_the_daily_limit_is_429(client):
    control(client, "faults", {"config": {"daily_max": 1}})
    assert api(client).status_code == 200
    response = api(client)
    assert response.status_code == 429
    assert response["X-RateLimit-Daily-Remaining"] == "0"


def test_an_injected_503_answers_count_times_then_recovers(client):
    control(client, "faults", {"status": 503, "count": 2})
    assert [api(client).status_code for _ in range(3)] == [503, 503, 200]
    assert faults.stats()["faults_injected"] == 2


def test_an_injected_429_can_carry_retry_after(client):
    control(client, "faults", {"status": 429, "count": 1, "retry_after": 7})
    response = api(client)
    assert response.status_code == 429
    assert response["Retry-After"] == "7"
    assert response["X-RateLimit-Remaining"] == "0"


def test_a_fault_can_target_one_path_only(client):
    control(client, "faults", {"status": 500, "path": "/tags"})
    assert api(client).status_code == 200
    created = api(client, "POST", "contacts/", {"locationId": LOCATION, "email": "f@example.com"})
    contact_id = created.json()["contact"]["id"]
    assert api(client, "POST", f"contacts/{contact_id}/tags", {"tags": ["a"]}).status_code == 500


def test_latency_delays_the_answer(client):
    control(client, "faults", {"latency_ms": 200, "count": 1})
    started = time.perf_counter()
    assert api(client).status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_the_422_yet_created_quirk_creates_the_contact(client):
    control(client, "faults", {"status": 422, "count": 1, "created": True})
    response = api(client, "POST", "contacts/", {"locationId": LOCATION, "email": "q@example.com"})
    assert response.status_code == 422
    assert response.json()["message"] == ["Unprocessable Entity"]
    contacts = client.get(f"{API}/_control/contacts", {"email": "q@example.com"}).json()["contacts"]
    assert len(contacts) == 1


def test_reset_disarms_faults(client):
    control(client, "faults", {"status": 503, "count": 5})
    control(client, "faults", {"reset": True})
    assert api(client).status_code == 200


def test_a_fault_without_status_or_latency_is_refused(client):
    response = client.post(f"{API}/_control/faults", {"count": 1}, content_type="application/json")
    assert response.status_code == 400


def test_location_control_switches_duplicates(client):
    assert control(client, "location", {"allow_duplicates": True}) == {
        "locationId": LOCATION,
        "allow_duplicates": True,
    }
    for _ in range(2):
        response = api(
            client, "POST", "contacts/", {"locationId": LOCATION, "email": "s@example.com"}
        )
        assert response.status_code == 201


def test_control_contacts_shows_tags_workflows_and_custom_fields(client):
    created = api(
        client,
        "POST",
        "contacts/",
        {"locationId": LOCATION, "email": "all@example.com", "tags": ["x"]},
    ).json()["contact"]
    api(
        client,
        "POST",
        f"contacts/{created['id']}/workflow/5a1b0c1e-0000-4000-8000-000000000001",
        {},
    )
    row = client.get(f"{API}/_control/contacts").json()["contacts"][0]
    assert row["email"] == "all@example.com"
    assert row["tags"] == ["x"]
    assert [w["id"] for w in row["workflows"]] == ["5a1b0c1e-0000-4000-8000-000000000001"]
    assert row["campaigns"] == []


def test_stats_count_requests_and_contacts(client):
    api(client, "POST", "contacts/", {"locationId": LOCATION, "email": "n@example.com"})
    stats = client.get(f"{API}/_control/stats").json()
    assert stats["requests"] == 1
    assert stats["contacts_created"] == 1
    assert stats["contacts"] == 1
