"""The inbound lead API, as DESIGN.md specifies it."""

import json
from unittest import mock

import pytest
from django.db import DatabaseError

from integrations.models import Delivery, DeliveryStatus, Lead, Source
from tests.factories import flow_with_step
from tests.factories import post_lead as post

pytestmark = pytest.mark.django_db


def test_a_json_lead_is_stored_with_a_pending_delivery_and_answered_202(client, flow_key):
    flow, step, key = flow_key
    response = post(client, flow, key, {"First Name": " Ann ", "Email": "Ann@Example.com"})
    assert response.status_code == 202
    body = response.json()
    lead = Lead.objects.get(pk=body["id"])
    assert body == {"id": str(lead.id), "status": "queued", "url": f"/api/v1/leads/{lead.id}"}
    assert lead.payload == {"First Name": " Ann ", "Email": "Ann@Example.com"}
    assert lead.fields == {"first_name": "Ann", "email": "ann@example.com"}
    assert lead.email == "ann@example.com"
    delivery = Delivery.objects.get(lead=lead)
    assert (delivery.step, delivery.status) == (step, DeliveryStatus.PENDING)


def test_form_encoded_fields_are_accepted(client, flow_key):
    flow, _, key = flow_key
    response = post(
        client,
        flow,
        key,
        "first_name=Bo&email=bo%40example.com",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 202
    assert Lead.objects.get().fields == {"first_name": "Bo", "email": "bo@example.com"}


def test_the_key_may_come_as_a_bearer_token(client, flow_key):
    flow, _, key = flow_key
    response = client.post(
        f"/api/v1/flows/{flow.pk}/leads",
        data={"email": "a@b.co"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    "body, field",
    [
        ("{not json", "__all__"),
        ([1, 2, 3], "__all__"),
        ('"a string"', "__all__"),
        ({}, "__all__"),
        ({"comments": "x" * 10_001}, "comments"),
    ],
    ids=["malformed-json", "array", "string", "empty-object", "oversize-field"],
)
def test_input_that_cannot_be_a_lead_gets_400_naming_the_problem(client, flow_key, body, field):
    flow, _, key = flow_key
    data = body if isinstance(body, str) else json.dumps(body)
    response = post(client, flow, key, data)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert field in response.json()["fields"]
    assert Lead.objects.count() == 0


def test_a_wrong_key_gets_401_and_stores_nothing(client, flow_key):
    flow, _, _ = flow_key
    response = post(client, flow, "lf_wrong", {"email": "a@b.co"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert Lead.objects.count() == 0


def test_a_key_of_another_flow_gets_401(client, flow_key):
    flow, _, _ = flow_key
    _, _, other_key = flow_with_step(flow_name="Other")
    assert post(client, flow, other_key, {"email": "a@b.co"}).status_code == 401


def test_an_unknown_flow_gets_404(client, flow_key):
    _, _, key = flow_key
    response = client.post(
        "/api/v1/flows/999999/leads",
        data={"email": "a@b.co"},
        content_type="application/json",
        headers={"X-Api-Key": key},
    )
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_a_body_over_the_limit_gets_413(client, flow_key, settings):
    settings.INTAKE_MAX_BODY_BYTES = 1000
    flow, _, key = flow_key
    response = post(client, flow, key, {"comments": "x" * 2000})
    assert response.status_code == 413
    assert Lead.objects.count() == 0


def test_an_unsupported_content_type_gets_415(client, flow_key):
    flow, _, key = flow_key
    response = post(client, flow, key, "<lead/>", content_type="application/xml")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_a_source_over_its_rate_gets_429(client, flow_key):
    flow, _, key = flow_key
    Source.objects.update(rate_limit_per_minute=2)
    codes = [post(client, flow, key, {"email": f"a{i}@b.co"}).status_code for i in range(3)]
    assert codes == [202, 202, 429]
    assert Lead.objects.count() == 2


def test_a_lead_that_cannot_be_stored_gets_503_never_2xx(client, flow_key):
    flow, _, key = flow_key
    down = DatabaseError("connection lost")
    with (
        mock.patch("integrations.intake.services._insert_in_one_statement", side_effect=down),
        mock.patch("integrations.intake.services._insert_with_orm", side_effect=down),
    ):
        response = post(client, flow, key, {"email": "a@b.co"})
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"


def test_a_repeated_idempotency_key_returns_the_first_answer_and_stores_nothing_new(
    client, flow_key
):
    flow, _, key = flow_key
    first = post(client, flow, key, {"email": "a@b.co"}, headers={"Idempotency-Key": "k-1"})
    again = post(client, flow, key, {"email": "other@b.co"}, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert Lead.objects.count() == 1
    assert Delivery.objects.count() == 1


def test_an_idempotency_key_is_free_again_after_24_hours(client, flow_key):
    from datetime import timedelta

    from django.utils import timezone

    from integrations.tasks import expire_idempotency_keys

    flow, _, key = flow_key
    first = post(client, flow, key, {"email": "a@b.co"}, headers={"Idempotency-Key": "k-2"})
    Lead.objects.update(received_at=timezone.now() - timedelta(hours=25))
    assert expire_idempotency_keys() == 1
    again = post(client, flow, key, {"email": "a@b.co"}, headers={"Idempotency-Key": "k-2"})
    assert again.json()["id"] != first.json()["id"]


def test_wait_must_be_between_0_and_30_seconds(client, flow_key):
    flow, _, key = flow_key
    response = post(client, flow, key, {"email": "a@b.co"}, query="?wait=31")
    assert response.status_code == 400
    assert "wait" in response.json()["fields"]
    assert Lead.objects.count() == 0


def test_wait_returns_202_when_the_flow_does_not_finish_in_time(client, flow_key):
    flow, _, key = flow_key
    response = post(client, flow, key, {"email": "a@b.co"}, query="?wait=0.2")
    assert response.status_code == 202


def test_the_status_endpoint_shows_each_step(client, flow_key):
    flow, step, key = flow_key
    lead_id = post(client, flow, key, {"email": "a@b.co"}).json()["id"]
    Delivery.objects.update(
        status="done",
        outcome="success",
        contact_id="42",
        duplicate=False,
        response_ms=120,
        attempt_count=1,
    )
    response = client.get(f"/api/v1/leads/{lead_id}", headers={"X-Api-Key": key})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == lead_id and body["flow"] == flow.pk and body["status"] == "processing"
    assert body["steps"] == [
        {
            "step": step.name,
            "status": "done",
            "outcome": "success",
            "reason": None,
            "contact_id": "42",
            "duplicate": False,
            "attempts": 1,
            "response_ms": 120,
        }
    ]


def test_the_status_endpoint_needs_a_key_of_the_leads_flow(client, flow_key):
    flow, _, key = flow_key
    lead_id = post(client, flow, key, {"email": "a@b.co"}).json()["id"]
    _, _, other_key = flow_with_step(flow_name="Other")
    assert client.get(f"/api/v1/leads/{lead_id}").status_code == 401
    assert (
        client.get(f"/api/v1/leads/{lead_id}", headers={"X-Api-Key": other_key}).status_code == 404
    )
    assert client.get("/api/v1/leads/not-a-uuid", headers={"X-Api-Key": key}).status_code == 404


def test_healthz_is_ok_when_the_database_and_the_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_with_the_broker_down_is_degraded_but_200_leads_are_still_kept(client):
    from leadflow.celery import app

    connect = app.connection_for_write
    nothing_there = "redis://127.0.0.1:9/0"
    with mock.patch.object(app, "connection_for_write", lambda: connect(nothing_there)):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "broker": "error"}


def test_the_openapi_document_describes_every_error_code(client):
    doc = client.get("/api/v1/openapi.json").json()
    responses = doc["paths"]["/api/v1/flows/{flow_id}/leads"]["post"]["responses"]
    assert {"200", "202", "400", "401", "404", "413", "415", "429", "503"} <= set(responses)


def test_a_busy_source_is_looked_up_once_per_few_seconds(client, flow_key):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    flow, _, key = flow_key
    post(client, flow, key, {"email": "first@b.co"})
    with CaptureQueriesContext(connection) as queries:
        assert post(client, flow, key, {"email": "second@b.co"}).status_code == 202
    assert queries.captured_queries  # the lead was written...
    assert not [q for q in queries.captured_queries if "integrations_source" in q["sql"]]


def test_a_deactivated_source_is_refused_once_its_memo_expires(client, flow_key, monkeypatch):
    from integrations.intake import auth

    flow, _, key = flow_key
    assert post(client, flow, key, {"email": "a@b.co"}).status_code == 202
    Source.objects.update(active=False)
    assert post(client, flow, key, {"email": "b@b.co"}).status_code == 202  # memo still fresh
    later = auth.time.monotonic() + auth.TARGET_TTL_SECONDS + 1
    monkeypatch.setattr(auth.time, "monotonic", lambda: later)
    assert post(client, flow, key, {"email": "c@b.co"}).status_code == 401
