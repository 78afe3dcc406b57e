"""Migration 0003 moves today's step configuration into the studio's model: mapping
value kinds, tag rules and campaign rules (the old columns stay as they were)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("integrations", "0001_initial")]
AFTER = [("integrations", "0003_mapping_studio_data")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_legacy_ids_become_named_rules_and_templates_are_recognised():
    old = _migrate(BEFORE)
    try:
        Account = old.get_model("integrations", "Account")
        Flow = old.get_model("integrations", "Flow")
        Step = old.get_model("integrations", "Step")
        FieldMapping = old.get_model("integrations", "FieldMapping")
        keap = Account.objects.create(
            name="K",
            crm="keap",
            catalogue={
                "tags": [{"id": 100, "name": "New Lead"}],
                "campaigns": [{"id": 45, "name": "Welcome", "sequences": [{"id": 1, "name": "A"}]}],
            },
        )
        hl = Account.objects.create(
            name="H", crm="highlevel", catalogue={"workflows": [{"id": "wf1", "name": "Nurture"}]}
        )
        flow = Flow.objects.create(name="F")
        rest = Step.objects.create(
            flow=flow,
            name="Keap",
            account=keap,
            recipient="keap_rest",
            tag_ids=[100, 101],
            sequences=[{"campaign_id": 45, "sequence_id": 1}],
        )
        xmlrpc = Step.objects.create(
            flow=flow,
            name="Legacy",
            position=2,
            account=keap,
            recipient="keap_xmlrpc",
            sequences=[{"campaign_id": 200}],
            options={"remove_tag_ids": [7], "action_set_ids": [3], "pause_sequence_ids": [9]},
        )
        highlevel = Step.objects.create(
            flow=flow,
            name="HL",
            position=3,
            account=hl,
            recipient="highlevel",
            tag_ids=["new-lead"],
            sequences=[{"campaign_id": "c1"}],
            options={"workflow_ids": ["wf1"], "allow_duplicates": True},
        )
        FieldMapping.objects.create(step=rest, source="lead_score", target="custom:7")
        FieldMapping.objects.create(step=rest, source="{{first_name}} x", target="notes")

        new = _migrate(AFTER)
        TagRule = new.get_model("integrations", "TagRule")
        CampaignRule = new.get_model("integrations", "CampaignRule")
        Mapping = new.get_model("integrations", "FieldMapping")
        NewStep = new.get_model("integrations", "Step")

        def tags(step):
            return list(
                TagRule.objects.filter(step_id=step.pk).values_list("action", "tag_id", "name")
            )

        def campaigns(step):
            return list(
                CampaignRule.objects.filter(step_id=step.pk).values_list(
                    "kind", "action", "item_id", "sequence_id", "name"
                )
            )

        assert tags(rest) == [("apply", "100", "New Lead"), ("apply", "101", "")]
        assert campaigns(rest) == [("keap_sequence", "start", "45", "1", "Welcome › A")]
        assert tags(xmlrpc) == [("remove", "7", "")]
        assert campaigns(xmlrpc) == [
            ("followup_sequence", "start", "200", "", ""),
            ("followup_sequence", "pause", "9", "", ""),
            ("action_set", "start", "3", "", ""),
        ]
        assert tags(highlevel) == [("apply", "new-lead", "")]
        assert campaigns(highlevel) == [
            ("highlevel_campaign", "start", "c1", "", ""),
            ("highlevel_workflow", "start", "wf1", "", "Nurture"),
        ]
        kinds = dict(Mapping.objects.values_list("source", "value_kind"))
        assert kinds == {"lead_score": "field", "{{first_name}} x": "template"}
        kept = NewStep.objects.get(pk=rest.pk)
        assert (kept.tag_ids, kept.rules) == ([100, 101], {})  # old column left readable
    finally:
        _migrate(executor_leaf())


def executor_leaf():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db
def test_the_step_admin_shows_mappings_tag_rules_and_campaign_rules(admin_client):
    from integrations.models import CampaignKind, CampaignRule, TagRule
    from tests.factories import flow_with_step

    _, step, _ = flow_with_step(mappings=[("lead_score", "custom:7")])
    TagRule.objects.create(step=step, tag_id="100", name="Hot Lead")
    CampaignRule.objects.create(
        step=step, kind=CampaignKind.KEAP_SEQUENCE, item_id="45", sequence_id="1", name="Welcome"
    )
    page = admin_client.get(f"/admin/integrations/step/{step.pk}/change/").content.decode()
    assert "Hot Lead" in page and "Welcome" in page and "custom:7" in page
