"""The delivery engine maps through step_map: criteria, rule-gated tags, earlier
steps in the context, kept fields in the plan. The CRM is faked with `responses`."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import responses

from integrations.crm.keap_rest import KeapRestRecipient
from integrations.delivery.engine import delivery_attempt
from integrations.models import CampaignKind, CampaignRule, Delivery, FieldMapping, Step, TagRule
from tests.factories import accept_lead, flow_with_step

BASE = "https://keap.test/crm"
CONTACTS = f"{BASE}/rest/v1/contacts"
HOT = {"conditions": [{"field": "lead.score", "operator": "gte", "value": "80"}]}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keap_at_test_host(settings):
    settings.KEAP_API_BASE_URL = BASE


def deliver(flow, fields) -> Delivery:
    delivery = accept_lead(flow, fields, enqueue=False).deliveries.get()
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


@responses.activate
def test_a_lead_that_does_not_meet_the_step_criteria_is_skipped_without_a_request():
    flow, _, _ = flow_with_step(action="create", rules=HOT)
    delivery = deliver(flow, {"email": "cold@example.com", "score": "50"})
    assert (delivery.outcome, delivery.reason) == ("skip", "step criteria not met")
    assert len(responses.calls) == 0 and delivery.attempts.count() == 0


@responses.activate
@pytest.mark.parametrize("score, tagged", [("85", [100, 103]), ("50", [100])])
def test_a_tag_rule_applies_the_tag_only_when_its_rule_holds(score, tagged):
    responses.post(CONTACTS, json={"id": 77}, status=201)
    responses.post(f"{CONTACTS}/77/tags", json={"100": "SUCCESS", "103": "SUCCESS"})
    flow, step, _ = flow_with_step(action="create", tags=[100])
    TagRule.objects.create(step=step, tag_id="103", name="Hot Lead", rules=HOT, position=1)
    CampaignRule.objects.create(
        step=step, kind=CampaignKind.KEAP_SEQUENCE, item_id="45", sequence_id="1", rules=HOT
    )
    responses.post(f"{BASE}/rest/v1/campaigns/45/sequences/1/contacts/77", status=204)
    delivery = deliver(flow, {"email": f"s{score}@example.com", "score": score})
    assert delivery.outcome == "success", delivery.reason
    [tags_call] = [c for c in responses.calls if c.request.url.endswith("/tags")]
    assert json.loads(tags_call.request.body) == {"tagIds": tagged}
    sequence_calls = [c for c in responses.calls if "/sequences/" in c.request.url]
    assert len(sequence_calls) == (1 if score == "85" else 0)


@responses.activate
def test_a_later_step_reads_an_earlier_steps_outcome_and_a_template_reads_the_lead():
    responses.post(CONTACTS, json={"id": 77}, status=201)
    flow, first, _ = flow_with_step(action="create", name="Keap")
    second = Step.objects.create(
        flow=flow,
        name="Keap again",
        position=2,
        account=first.account,
        recipient=first.recipient,
        action="create",
        rules={"conditions": [{"field": "keap.outcome", "operator": "eq", "value": "success"}]},
    )
    FieldMapping.objects.create(
        step=second,
        value_kind="template",
        source="{{ keap.contact_id }} {{ lead.first_name | upcase }}",
        target="job_title",
    )
    lead = accept_lead(flow, {"email": "two@example.com", "first_name": "Ann"}, enqueue=False)
    delivery_attempt(delivery_id=lead.deliveries.get(step=first).pk)
    later = lead.deliveries.get(step=second)
    delivery_attempt(delivery_id=later.pk)
    later.refresh_from_db()
    assert later.outcome == "success", later.reason
    assert json.loads(responses.calls[-1].request.body)["job_title"] == "77 ANN"


def test_kept_fields_reach_the_recipient_as_preserve_fields():
    flow, step, _ = flow_with_step(action="create")
    FieldMapping.objects.create(
        step=step, value_kind="constant", source="9", target="owner_id", on_existing="keep"
    )
    seen = {}

    def deliver_spy(self, *, contact, plan, credentials, http, operations=None):
        seen["plan"], seen["contact"] = plan, contact
        from integrations.crm.base import DeliveryResult

        return DeliveryResult("success", "", "1", False)

    with mock.patch.object(KeapRestRecipient, "deliver", deliver_spy):
        delivery = deliver(flow, {"email": "keep@example.com"})
    assert delivery.outcome == "success"
    assert seen["plan"].preserve_fields == frozenset({"extra:owner_id"})
    assert seen["contact"].extra == {"owner_id": "9"}
