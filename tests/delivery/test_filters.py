"""Filter steps: rules on the lead and on earlier steps' results stop the flow, or
send the lead on to another flow (the seeds' "error handler flow") as a new lead
linked to the original; the lead's API document shows where and why it stopped.

The CRM is faked with `responses` at the HTTP seam, as in test_engine.py.
"""

from __future__ import annotations

import pytest
import responses

from integrations.delivery.engine import delivery_attempt
from integrations.models import Delivery, FilterAction, Flow, Lead, LeadStatus, OnError, Step
from tests.factories import accept_lead, flow_with_step, keap_account

BASE = "https://keap.test/crm"
CONTACTS = f"{BASE}/rest/v1/contacts"
NOT_SUCCESS = {
    "match": "all",
    "conditions": [{"field": "keap.outcome", "operator": "ne", "value": "success"}],
}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keap_at_test_host(settings):
    settings.KEAP_API_BASE_URL = BASE


def add_step(flow: Flow, position: int, **fields) -> Step:
    defaults = {"name": f"Step {position}", "recipient": "keap_rest", "action": "create"}
    if fields.get("kind") != "filter":
        defaults["account"] = keap_account(name=f"k{position}")
    return Step.objects.create(flow=flow, position=position, **{**defaults, **fields})


@pytest.fixture
def flow_with_filter():
    """Keap (a create) -> a filter "Handle Keap errors" -> a second recipient."""
    flow, keap, key = flow_with_step(name="Keap", action="create")
    handler = add_step(
        flow, 2, kind="filter", name="Handle Keap errors", rules=NOT_SUCCESS, recipient=""
    )
    after = add_step(flow, 3, name="Second CRM")
    return flow, keap, handler, after, key


def run_all(lead: Lead) -> None:
    """Work the lead's deliveries one after the other, as the worker would (once each:
    these CRM answers are final)."""
    worked = set()
    while pending := Delivery.objects.filter(lead=lead, status="pending").exclude(pk__in=worked):
        delivery = pending.first()
        worked.add(delivery.pk)
        delivery_attempt(delivery_id=delivery.pk)


def lead_document(client, lead: Lead, key: str) -> dict:
    response = client.get(f"/api/v1/leads/{lead.pk}", headers={"X-Api-Key": key})
    assert response.status_code == 200
    return response.json()


@responses.activate
def test_a_filter_stops_the_flow_when_the_earlier_step_did_not_succeed(flow_with_filter, client):
    flow, _, handler, after, key = flow_with_filter
    responses.post(CONTACTS, json={"message": "Input could not be converted"}, status=400)
    lead = accept_lead(flow, {"email": "a@b.co"}, enqueue=False)
    run_all(lead)

    assert not Delivery.objects.filter(lead=lead, step=after).exists()
    lead.refresh_from_db()
    assert (lead.status, lead.stopped_at, lead.stop_reason) == (
        LeadStatus.DONE,
        handler,
        "stopped by filter: Handle Keap errors",
    )
    document = lead_document(client, lead, key)
    assert document["status"] == "done"
    assert document["stopped"] == {
        "step": "Handle Keap errors",
        "kind": "filter",
        "reason": "stopped by filter: Handle Keap errors",
        "routed_to_flow": None,
    }
    assert [s["outcome"] for s in document["steps"]] == ["failure"]


@responses.activate
def test_a_filter_lets_the_lead_on_when_its_rules_do_not_hold(flow_with_filter, client):
    flow, _, _, after, key = flow_with_filter
    responses.post(CONTACTS, json={"id": 7}, status=201)
    lead = accept_lead(flow, {"email": "a@b.co"}, enqueue=False)
    run_all(lead)

    assert Delivery.objects.get(lead=lead, step=after).outcome == "success"
    document = lead_document(client, lead, key)
    assert document["stopped"] is None
    assert [s["outcome"] for s in document["steps"]] == ["success", "success"]


@responses.activate
def test_a_filter_routes_the_lead_to_the_error_handler_flow(flow_with_filter, client):
    flow, _, handler, after, key = flow_with_filter
    error_flow = Flow.objects.create(name="Error handler flow")
    error_step = add_step(error_flow, 1, name="Error CRM")
    handler.filter_action = FilterAction.ROUTE
    handler.route_flow = error_flow
    handler.filter_reason = "Keap did not take it"
    handler.save()
    responses.post(CONTACTS, json={"message": "Input could not be converted"}, status=400)
    lead = accept_lead(flow, {"email": "a@b.co", "first_name": "Ann"}, enqueue=False)
    run_all(lead)

    routed = Lead.objects.get(routed_from=lead)
    assert (routed.flow, routed.fields, routed.email) == (error_flow, lead.fields, "a@b.co")
    assert not Delivery.objects.filter(lead=lead, step=after).exists()
    responses.replace(responses.POST, CONTACTS, json={"id": 8}, status=201)
    run_all(routed)
    assert Delivery.objects.get(lead=routed, step=error_step).outcome == "success"
    routed.refresh_from_db()
    assert routed.status == LeadStatus.DONE and routed.stopped_at is None

    document = lead_document(client, lead, key)
    assert document["stopped"] == {
        "step": "Handle Keap errors",
        "kind": "filter",
        "reason": "Keap did not take it",
        "routed_to_flow": error_flow.pk,
    }
    assert document["routed_to"] == [str(routed.pk)]


@responses.activate
def test_a_filter_before_the_first_step_stops_it_without_a_crm_call(client):
    flow, first, key = flow_with_step(position=2, action="create")
    add_step(
        flow,
        1,
        kind="filter",
        name="Hot leads only",
        recipient="",
        rules={"conditions": [{"field": "lead.score", "operator": "lt", "value": "80"}]},
    )
    cold = accept_lead(flow, {"email": "a@b.co", "score": "20"}, enqueue=False)
    run_all(cold)
    assert len(responses.calls) == 0
    delivery = Delivery.objects.get(lead=cold)
    assert (delivery.outcome, delivery.reason) == ("skip", "flow stopped before this step")
    assert lead_document(client, cold, key)["stopped"]["step"] == "Hot leads only"

    responses.post(CONTACTS, json={"id": 9}, status=201)
    hot = accept_lead(flow, {"email": "b@b.co", "score": "95"}, enqueue=False)
    run_all(hot)
    assert Delivery.objects.get(lead=hot).outcome == "success"


@responses.activate
def test_a_step_that_stops_unless_it_succeeds_shows_where_the_flow_stopped(client):
    flow, keap, key = flow_with_step(name="Keap", action="create", on_error=OnError.STOP)
    after = add_step(flow, 2)
    responses.post(CONTACTS, json={"message": "Input could not be converted"}, status=400)
    lead = accept_lead(flow, {"email": "a@b.co"}, enqueue=False)
    run_all(lead)
    assert not Delivery.objects.filter(lead=lead, step=after).exists()
    assert lead_document(client, lead, key)["stopped"] == {
        "step": "Keap",
        "kind": "recipient",
        "reason": "Keap: failure",
        "routed_to_flow": None,
    }


def test_a_filter_needs_conditions_and_a_route_target():
    from django.core.exceptions import ValidationError

    flow = Flow.objects.create(name="F")
    step = Step(flow=flow, name="Filter", kind="filter", rules={})
    with pytest.raises(ValidationError):
        step.clean()
    step.rules = NOT_SUCCESS
    step.clean()
    step.filter_action = FilterAction.ROUTE
    with pytest.raises(ValidationError):
        step.clean()
    step.route_flow = flow
    with pytest.raises(ValidationError):
        step.clean()
