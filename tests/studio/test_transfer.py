"""A flow's configuration exported from one account imports into another, its ids
re-matched by name, with every unmatched one listed before anything is saved."""

from __future__ import annotations

import json

import pytest

from integrations.models import (
    CampaignKind,
    CampaignRule,
    Flow,
    Recipient,
    Step,
    TagRule,
)
from integrations.studio.transfer import (
    TransferError,
    flow_export,
    transfer_apply,
    transfer_plan,
    transfer_read,
)
from integrations.studio.versions import step_versions
from tests.factories import flow_with_step, keap_account, keap_catalogue

pytestmark = pytest.mark.django_db

OTHER_KEAP = keap_catalogue(
    custom_fields=[{"id": 31, "name": "Lead Score", "field_name": "Score", "type": "WholeNumber"}],
    tags=[{"id": 900, "name": "New Lead"}, {"id": 903, "name": "hot lead"}],
    campaigns=[{"id": 61, "name": "Lead Nurture", "sequences": [{"id": 9, "name": "Welcome"}]}],
)


def exported_flow() -> dict:
    source = keap_account(name="Prod Keap", catalogue=keap_catalogue())
    flow, step, _ = flow_with_step(
        account=source,
        flow_name="Web leads",
        mappings=[("lead_score", "custom:7"), ("utm_campaign", "custom:8"), ("2", "owner_id")],
    )
    step.mappings.filter(target="owner_id").update(value_kind="constant")
    for tag_id, name in ((100, "New Lead"), (103, "Hot Lead"), (101, "Website Inquiry")):
        TagRule.objects.create(step=step, tag_id=tag_id, name=name)
    TagRule.objects.filter(tag_id="103").update(
        rules={
            "match": "all",
            "conditions": [{"field": "lead.score", "operator": "gte", "value": "80"}],
        }
    )
    for sequence_id in (1, 3):
        CampaignRule.objects.create(
            step=step, kind=CampaignKind.KEAP_SEQUENCE, item_id="45", sequence_id=sequence_id
        )
    return json.loads(json.dumps(flow_export(flow=flow)))  # as it travels: a JSON file


def test_export_names_every_id_it_carries():
    data = exported_flow()
    step = data["steps"][0]
    assert data["flow"]["name"] == "Web leads"
    hot = step["tag_rules"][1]
    assert hot["tag_id"] == {"$ref": "tags", "id": "103", "name": "Hot Lead", "field": "id"}
    assert hot["rules"]["conditions"][0]["operator"] == "gte"
    assert step["campaign_rules"][0]["sequence_id"]["name"] == "Welcome"
    assert step["campaign_rules"][0]["sequence_id"]["parent"] == "Lead Nurture"
    assert step["mappings"][0]["target"]["name"] == "Lead Score"
    assert step["mappings"][2]["target"] == "owner_id"
    assert step["mappings"][2]["source"]["name"] == "Sam Sales"  # a constant owner id


def test_import_rematches_ids_by_name_and_lists_the_unmatched_before_saving():
    data = transfer_read(json.dumps(exported_flow()))
    target = keap_account(name="Other Keap", catalogue=OTHER_KEAP)
    steps_before = Step.objects.count()

    plan = transfer_plan(data=data, accounts={"keap": target})

    assert Step.objects.count() == steps_before  # nothing saved yet
    assert sorted(plan.resolution.unmatched) == [
        ("campaigns.sequences", "Lead Nurture › Follow-up Calls", "3"),
        ("custom_fields", "UTM Campaign", "8"),
        ("tags", "Website Inquiry", "101"),
    ]
    assert ("tags", "Hot Lead", "103", 903) in plan.resolution.matched
    assert ("owners", "Sam Sales", "2", 2) in plan.resolution.matched

    flow = transfer_apply(plan=plan)

    step = flow.steps.get()
    assert flow.name == "Web leads (imported)"
    assert step.account == target and step.recipient == Recipient.KEAP_REST
    assert [(t.tag_id, t.name) for t in step.tag_rules.all()] == [
        ("900", "New Lead"),
        ("903", "Hot Lead"),
    ]
    assert step.tag_rules.get(tag_id="903").rules["conditions"][0]["value"] == "80"
    assert [(c.item_id, c.sequence_id) for c in step.campaign_rules.all()] == [("61", "9")]
    assert [(m.source, m.target) for m in step.mappings.all()] == [
        ("lead_score", "custom:31"),
        ("2", "owner_id"),
    ]
    assert step_versions(step_id=step.pk)[0].revision.get_comment().startswith("Imported")


def test_xmlrpc_custom_fields_travel_by_name_too():
    source = keap_account(name="Prod Keap", catalogue=keap_catalogue())
    flow, _, _ = flow_with_step(
        account=source, recipient=Recipient.KEAP_XMLRPC, mappings=[("score", "custom:_LeadScore")]
    )
    data = json.loads(json.dumps(flow_export(flow=flow)))
    plan = transfer_plan(data=data, accounts={"keap": keap_account(catalogue=OTHER_KEAP)})
    assert plan.steps[0]["mappings"][0]["target"] == "custom:_Score"


def test_an_import_without_an_account_for_its_crm_says_so():
    plan = transfer_plan(data=transfer_read(json.dumps(exported_flow())), accounts={})
    assert plan.missing_accounts == ["keap"] and plan.steps == []


@pytest.mark.parametrize(
    "raw", [b"not json", b"[]", b'{"format": "other"}', b'{"format": "leadflow.configuration"}']
)
def test_a_file_that_is_not_an_export_is_refused_with_a_reason(raw):
    with pytest.raises(TransferError):
        transfer_read(raw)
    assert not Flow.objects.exists()
