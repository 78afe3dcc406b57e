"""Intake under hostile input: whatever arrives, the answer is the right 4xx with a JSON
error body, fast, and nothing is stored that cannot be delivered; what is fine is
accepted. Every error under /api/ is JSON, whoever raises it."""

import time
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from integrations.models import Lead
from tests.factories import post_lead

pytestmark = pytest.mark.django_db


def leads_url(flow_id) -> str:
    return f"/api/v1/flows/{flow_id}/leads"


def assert_error(response, status: int, code: str, *, field: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == code and body["message"]
    if field is not None:
        assert field in body["fields"], body
        assert all(isinstance(m, str) and m for m in body["fields"][field])
    return body


@pytest.mark.parametrize("with_key", [True, False], ids=["key", "no-key"])
def test_a_flow_id_beyond_any_database_id_is_404_without_reaching_sql(client, flow_key, with_key):
    """Such a number overflows the database driver (SQLite: OverflowError): it is
    answered before any query."""
    _, _, key = flow_key
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            leads_url(9223372036854775808),
            data={"email": "a@b.co"},
            content_type="application/json",
            headers={"X-Api-Key": key} if with_key else {},
        )
    assert_error(response, 404, "not_found")
    assert queries.captured_queries == []


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize("depth", [17, 319, 100_000])
def test_deep_nesting_is_400_before_anything_recurses(client, flow_key, settings, depth, debug):
    settings.DEBUG = debug
    settings.INTAKE_MAX_BODY_BYTES = 1_000_000
    flow, _, key = flow_key
    body = '{"a":' * depth + "1" + "}" * depth
    started = time.monotonic()
    response = post_lead(client, flow, key, body)
    assert time.monotonic() - started < 2
    body = assert_error(response, 400, "invalid", field="__all__")
    assert body["fields"]["__all__"] == ["The body is nested more than 16 levels deep."]
    assert Lead.objects.count() == 0


def test_nesting_within_the_limit_is_accepted(client, flow_key):
    flow, _, key = flow_key
    nested = 1
    for _ in range(15):
        nested = {"a": nested}
    assert post_lead(client, flow, key, {"email": "a@b.co", "extra": nested}).status_code == 202


def test_too_many_values_or_fields_are_400(client, flow_key, settings):
    settings.INTAKE_MAX_BODY_BYTES = 1_000_000
    flow, _, key = flow_key
    many_values = post_lead(client, flow, key, {"email": "a@b.co", "list": [0] * 5_001})
    assert assert_error(many_values, 400, "invalid", field="__all__")["fields"]["__all__"] == [
        "The body has more than 5000 values."
    ]
    many_fields = {f"f{i}": "x" for i in range(501)}
    as_json = post_lead(client, flow, key, many_fields)
    assert_error(as_json, 400, "invalid", field="__all__")
    as_form = post_lead(
        client,
        flow,
        key,
        "&".join(f"f{i}=x" for i in range(501)),
        content_type="application/x-www-form-urlencoded",
    )
    assert assert_error(as_form, 400, "invalid", field="__all__")["fields"]["__all__"] == [
        "A lead has at most 500 fields."
    ]


@pytest.mark.parametrize("length", ["abc", "12abc", "-1", "1e3", " "])
def test_a_content_length_that_is_not_a_number_is_400(client, flow_key, length):
    flow, _, key = flow_key
    response = client.generic(
        "POST",
        leads_url(flow.pk),
        b'{"email": "a@b.co"}',
        content_type="application/json",
        headers={"X-Api-Key": key},
        CONTENT_LENGTH=length,
    )
    assert_error(response, 400, "invalid", field="Content-Length")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_a_number_that_json_cannot_store_is_400_naming_its_field(client, flow_key, number):
    flow, _, key = flow_key
    response = post_lead(client, flow, key, f'{{"email": "a@b.co", "score": {number}}}')
    body = assert_error(response, 400, "invalid", field="score")
    assert "finite" in body["fields"]["score"][0]
    assert Lead.objects.count() == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ('{"first_name": "Ann\\ud800"}', "first_name"),
        ('{"first_name": "\\udc00x"}', "first_name"),
        ('{"extra": {"deep": ["\\ud83d"]}}', "extra"),
        ('{"bad\\ud800name": "x"}', "bad\\ud800name"),
        ('{"first_name": "Ann\\u0000"}', "first_name"),
    ],
    ids=["high", "low", "nested", "in-a-name", "nul"],
)
def test_text_no_crm_can_take_is_400_naming_its_field(client, flow_key, body, field):
    """Refused, not repaired: the sender learns of it while it can still send the right
    text, and nothing undeliverable is kept."""
    flow, _, key = flow_key
    response = post_lead(client, flow, key, body)
    assert_error(response, 400, "invalid", field=field)
    assert Lead.objects.count() == 0


def test_a_nul_in_a_form_field_is_400(client, flow_key):
    flow, _, key = flow_key
    form = "email=a%40b.co&first_name=A%00n"
    response = post_lead(client, flow, key, form, content_type="application/x-www-form-urlencoded")
    assert_error(response, 400, "invalid", field="first_name")


def test_a_paired_surrogate_is_an_ordinary_character(client, flow_key):
    flow, _, key = flow_key
    response = post_lead(
        client, flow, key, '{"email": "a@b.co", "first_name": "Ann \\ud83d\\ude00"}'
    )
    assert response.status_code == 202
    assert Lead.objects.get().fields["first_name"] == "Ann 😀"


def test_field_names_in_any_script_are_accepted(client, flow_key):
    flow, _, key = flow_key
    payload = {"email": "a@b.co", "ñ": "1", "名前": "2", "Ñandú Color": "3", "n\u0303o": "4"}
    response = post_lead(client, flow, key, payload)
    assert response.status_code == 202, response.content
    assert Lead.objects.get().fields == {
        "email": "a@b.co",
        "ñ": "1",
        "名前": "2",
        "ñandú_color": "3",
        "ño": "4",
    }


def test_a_field_name_of_punctuation_only_is_still_400(client, flow_key):
    flow, _, key = flow_key
    response = post_lead(client, flow, key, {"email": "a@b.co", "—!": "x"})
    assert_error(response, 400, "invalid", field="—!")


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/v1/flows/abc/leads"),
        ("post", "/api/v1/flows/-1/leads"),
        ("get", "/api/v1/flows/abc/leads"),
        ("get", "/api/v1/nothing-here"),
    ],
)
def test_an_unknown_api_path_is_a_json_404(client, method, path):
    assert_error(getattr(client, method)(path), 404, "not_found")


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_a_wrong_method_on_intake_is_a_json_405(client, flow_key, method):
    flow, _, _ = flow_key
    response = getattr(Client(enforce_csrf_checks=True), method)(leads_url(flow.pk))
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_wrong_method_on_a_lead_is_a_json_405_not_a_csrf_403(client, method):
    """Keys, not cookies, authenticate the API: CSRF does not apply to it."""
    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)("/api/v1/leads/0190e0b8-0000-7000-8000-000000000000")
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"


def test_an_unexpected_failure_is_a_json_500(flow_key):
    _, _, key = flow_key
    client = Client(raise_request_exception=False)
    with mock.patch("integrations.intake.views.flow_ids_for_key", side_effect=RuntimeError("x")):
        response = client.get(
            "/api/v1/leads/0190e0b8-0000-7000-8000-000000000000", headers={"X-Api-Key": key}
        )
    assert_error(response, 500, "server_error")


def test_errors_outside_the_api_stay_html(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_an_idempotency_key_with_control_characters_is_400(client, flow_key):
    flow, _, key = flow_key
    response = post_lead(
        client, flow, key, {"email": "a@b.co"}, headers={"Idempotency-Key": "a\x00b"}
    )
    assert_error(response, 400, "invalid", field="Idempotency-Key")


def test_the_openapi_document_lists_the_new_limits_answers(client):
    """400 covers them; clients read the same Error schema for every status."""
    doc = client.get("/api/v1/openapi.json").json()
    post = doc["paths"]["/api/v1/flows/{flow_id}/leads"]["post"]["responses"]
    assert {"400", "404", "405", "500"} <= set(post)
