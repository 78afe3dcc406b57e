"""The engine keeps each step's mapping configuration per worker process, and an edit
is picked up by the very next delivery, however it was made (the admin, a restore, a
queryset update that bumps no version): the cache compares the configuration's rows
and columns as read with each delivery, not a timestamp someone must remember to bump.

The CRM is faked with `responses` at the HTTP seam; each test looks at what was sent.
"""

from __future__ import annotations

import json

import pytest
import responses

from integrations.delivery.engine import delivery_attempt
from integrations.delivery.load import delivery_load
from integrations.mapping import selectors
from integrations.mapping.selectors import step_config_cached, step_config_load
from integrations.models import (
    Account,
    CampaignRule,
    Delivery,
    FieldMapping,
    Flow,
    LeadStatus,
    Step,
    TagRule,
)
from tests.factories import accept_lead, flow_with_step

pytestmark = pytest.mark.django_db

BASE = "https://keap.test/crm"
CONTACTS = f"{BASE}/rest/v1/contacts"


@pytest.fixture(autouse=True)
def keap_at_test_host(settings):
    settings.KEAP_API_BASE_URL = BASE


@pytest.fixture
def keap():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as crm:
        crm.put(CONTACTS, json={"id": 7, "date_created": "x", "last_updated": "x"})
        crm.post(f"{CONTACTS}/7/tags", json={})
        yield crm


def deliver(flow: Flow, keap: responses.RequestsMock, email: str) -> dict:
    """Deliver one lead in-process; returns the contact body the CRM received."""
    lead = accept_lead(flow, {"email": email, "first_name": "Ann", "utm": "ads"}, enqueue=False)
    delivery = lead.deliveries.get()
    sent = len(keap.calls)
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.outcome == "success", delivery.reason
    [put] = [c for c in keap.calls[sent:] if c.request.method == "PUT"]
    return json.loads(put.request.body)


def tags_sent(keap: responses.RequestsMock) -> list[int]:
    [*_, last] = [c for c in keap.calls if c.request.url.endswith("/tags")]
    return json.loads(last.request.body)["tagIds"]


def config_of(delivery: Delivery):
    loaded = delivery_load(delivery_id=delivery.pk)
    assert loaded is not None
    return step_config_cached(step=loaded.delivery.step, stamp=loaded.config_stamp)


def test_an_unchanged_step_reuses_one_configuration_object():
    flow, _, _ = flow_with_step(mappings=[("utm", "custom:7")], tags=[100])
    first = accept_lead(flow, {"email": "a@example.com"}, enqueue=False).deliveries.get()
    second = accept_lead(flow, {"email": "b@example.com"}, enqueue=False).deliveries.get()
    assert config_of(first) is config_of(second)


def test_the_cached_configuration_equals_a_fresh_load():
    flow, step, _ = flow_with_step(
        mappings=[("utm", "custom:7"), ("{{ lead.first_name }}!", "title")],
        tags=[100, 101],
        campaigns=[{"kind": "keap_sequence", "item_id": "45", "sequence_id": "1"}],
        standard_fields_off=["phone_2"],
    )
    delivery = accept_lead(flow, {"email": "a@example.com"}, enqueue=False).deliveries.get()
    cached = config_of(delivery)
    fresh = step_config_load(step=Step.objects.select_related("flow", "account").get(pk=step.pk))
    assert cached is not fresh
    assert repr(cached) == repr(fresh)


def test_a_mapping_edited_with_a_queryset_update_is_picked_up_by_the_next_delivery(keap):
    flow, step, _ = flow_with_step(mappings=[("utm", "custom:7")])
    assert deliver(flow, keap, "a@example.com")["custom_fields"] == [{"id": 7, "content": "ads"}]

    FieldMapping.objects.filter(step=step).update(target="custom:8")  # no version, no signal

    assert deliver(flow, keap, "b@example.com")["custom_fields"] == [{"id": 8, "content": "ads"}]


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda s: TagRule.objects.filter(step=s).update(tag_id="103"), id="edit"),
        pytest.param(lambda s: TagRule.objects.create(step=s, tag_id="103"), id="add"),
        pytest.param(lambda s: TagRule.objects.filter(step=s).delete(), id="delete"),
    ],
)
def test_tag_rules_added_edited_or_deleted_are_picked_up(keap, edit):
    flow, step, _ = flow_with_step(tags=[100])
    deliver(flow, keap, "a@example.com")
    assert tags_sent(keap) == [100]
    edit(step)
    expected = sorted(TagRule.objects.filter(step=step).values_list("tag_id", flat=True))
    if not expected:  # nothing left to tag: no tags call at all
        deliver(flow, keap, "b@example.com")
        assert tags_sent(keap) == [100]
        return
    deliver(flow, keap, "b@example.com")
    assert sorted(tags_sent(keap)) == [int(t) for t in expected]


def test_an_edit_of_the_step_its_flow_or_its_account_is_picked_up():
    flow, step, _ = flow_with_step(mappings=[("utm", "custom:7")])
    lead = {"email": "a@example.com"}
    before = config_of(accept_lead(flow, lead, enqueue=False).deliveries.get())

    Step.objects.filter(pk=step.pk).update(standard_fields_off=["email"])
    after_step = config_of(accept_lead(flow, lead, enqueue=False).deliveries.get())
    assert after_step is not before and after_step.standard_off == {"email"}

    Flow.objects.filter(pk=flow.pk).update(phone_region="gb")
    after_flow = config_of(accept_lead(flow, lead, enqueue=False).deliveries.get())
    assert after_flow.phone_region == "GB"

    catalogue = {"custom_fields": [{"id": 7, "label": "UTM", "field_type": "Text"}]}
    Account.objects.filter(pk=step.account_id).update(catalogue=catalogue)
    after_account = config_of(accept_lead(flow, lead, enqueue=False).deliveries.get())
    assert after_account is not after_flow and after_account.catalogue == catalogue


def test_a_campaign_rule_change_is_picked_up_and_an_undo_is_too():
    campaign = {"kind": "keap_sequence", "item_id": "45", "sequence_id": "1"}
    flow, step, _ = flow_with_step(campaigns=[campaign])
    lead = {"email": "a@example.com"}
    first = config_of(accept_lead(flow, lead, enqueue=False).deliveries.get())
    CampaignRule.objects.filter(step=step).update(sequence_id="2")
    changed = config_of(accept_lead(flow, lead, enqueue=False).deliveries.get())
    CampaignRule.objects.filter(step=step).update(sequence_id="1")
    undone = config_of(accept_lead(flow, lead, enqueue=False).deliveries.get())
    assert [a.sequence_id for a in changed.actions] == ["2"]
    assert [a.sequence_id for a in undone.actions] == ["1"]
    assert repr(undone) == repr(first)


def test_the_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(selectors, "_CACHE_MAX", 2)
    selectors._cached.clear()
    for _ in range(3):
        flow, _, _ = flow_with_step()
        config_of(accept_lead(flow, {"email": "a@example.com"}, enqueue=False).deliveries.get())
    assert len(selectors._cached) <= 2


def test_a_lead_whose_flow_has_no_later_step_is_done_with_its_delivery(keap):
    flow, _, _ = flow_with_step()
    deliver(flow, keap, "a@example.com")
    assert flow.leads.get().status == LeadStatus.DONE
