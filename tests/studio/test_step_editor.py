"""The step editor: ids picked by name from the catalogue, rules edited as rows, manual
data as pickers, Check step and save-time flags, versions on every save."""

from __future__ import annotations

import re

import pytest

from integrations.models import CampaignRule, FieldMapping, Recipient, Step, TagRule
from integrations.studio.versions import step_versions
from tests.factories import (
    SCORE_AND_STATE,
    flow_with_step,
    form_inputs,
    highlevel_account,
    keap_account,
    keap_catalogue,
)

pytestmark = pytest.mark.django_db


def keap_step(**fields) -> Step:
    account = keap_account(catalogue=keap_catalogue())
    _, step, _ = flow_with_step(account=account, **fields)
    return step


def change_url(step: Step) -> str:
    return f"/admin/integrations/step/{step.pk}/change/"


def form_data(client, step: Step | None, url: str = "") -> dict:
    """The change form's fields as the browser would post them back, unchanged."""
    return form_inputs(client.get(url or change_url(step)).content.decode())


def test_the_page_offers_catalogue_names_not_ids(admin_client):
    step = keap_step()
    html = admin_client.get(change_url(step)).content.decode()
    assert "Lead Score (whole number)" in html  # a custom field, with its type
    assert ">Hot Lead</option>" in html  # a tag
    assert "Lead Nurture › Welcome" in html  # a campaign sequence
    assert ">Sam Sales</option>" in html  # an owner, in Manual data
    assert "Phone 1 ← lead.phone_1" in html  # standard fields, mapped automatically
    assert "catalogue of <strong>Keap test</strong>" in html
    assert "is greater than or equal to" in html  # rule rows: operators by name


def test_picking_a_tag_with_a_rule_and_a_custom_field_saves_ids_and_rows(admin_client):
    step = keap_step()
    data = form_data(admin_client, step)
    data.update(
        {
            "tag_rules-TOTAL_FORMS": "1",
            "tag_rules-0-position": "1",
            "tag_rules-0-action": "apply",
            "tag_rules-0-tag_id": "103",
            "tag_rules-0-rules__match": "all",
            "tag_rules-0-rules__field_0": "lead.score",
            "tag_rules-0-rules__op_0": "gte",
            "tag_rules-0-rules__value_0": "80",
            "mappings-0-position": "1",
            "mappings-0-target": "custom:7",
            "mappings-0-value_kind": "field",
            "mappings-0-source": "score",
            "mappings-0-on_existing": "update",
            "mappings-0-on_invalid": "send",
            "mappings-0-rules__match": "all",
            "manual__owner_id": "2",
            "manual_keep__owner_id": ["on"],
            "campaign_rules-TOTAL_FORMS": "1",
            "campaign_rules-0-position": "1",
            "campaign_rules-0-entry": "keap_sequence|45|1",
            "campaign_rules-0-action": "start",
            "campaign_rules-0-rules__match": "all",
        }
    )
    response = admin_client.post(change_url(step), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    tag = TagRule.objects.get(step=step)
    assert (tag.tag_id, tag.name) == ("103", "Hot Lead")
    assert tag.rules == {
        "match": "all",
        "conditions": [{"field": "lead.score", "operator": "gte", "value": "80"}],
    }
    campaign = CampaignRule.objects.get(step=step)
    assert (campaign.kind, campaign.item_id, campaign.sequence_id) == ("keap_sequence", "45", "1")
    assert campaign.name == "Lead Nurture › Welcome"
    assert FieldMapping.objects.filter(step=step, target="custom:7", source="score").exists()
    owner = FieldMapping.objects.get(step=step, target="owner_id")
    assert (owner.value_kind, owner.source, owner.on_existing) == ("constant", "2", "keep")
    assert step_versions(step_id=step.pk)  # the save is a version


def test_a_constant_of_the_wrong_type_for_a_custom_field_is_refused(admin_client):
    step = keap_step()
    data = form_data(admin_client, step)
    data.update(
        {
            "mappings-0-target": "custom:7",
            "mappings-0-value_kind": "constant",
            "mappings-0-source": "eighty",
            "mappings-0-on_existing": "update",
            "mappings-0-on_invalid": "send",
            "mappings-0-rules__match": "all",
        }
    )
    html = admin_client.post(change_url(step), data).content.decode()
    assert "Lead Score needs a whole number" in html
    assert not FieldMapping.objects.filter(step=step).exists()


def test_unticking_a_standard_field_switches_it_off(admin_client):
    step = keap_step()
    data = form_data(admin_client, step)
    data["standard_fields_on"] = [f for f in data["standard_fields_on"] if f != "phone_2"]
    assert admin_client.post(change_url(step), data).status_code == 302
    step.refresh_from_db()
    assert step.standard_fields_off == ["phone_2"]


def test_check_step_reports_an_id_not_in_the_catalogue(admin_client):
    step = keap_step()
    TagRule.objects.create(step=step, tag_id="999", name="Gone")
    TagRule.objects.create(step=step, tag_id="103", name="Hot Lead")
    response = admin_client.post(f"/admin/integrations/step/{step.pk}/check/", follow=True)
    html = response.content.decode()
    assert "Tags: tags id 999 is not in the account&#x27;s catalogue" in html
    assert "id 103" not in html
    assert "Catalogue never fetched" in html


def test_a_stored_id_missing_from_the_catalogue_stays_visible_and_flagged(admin_client):
    step = keap_step(recipient=Recipient.KEAP_REST)
    TagRule.objects.create(step=step, tag_id="999", name="Gone")
    html = admin_client.get(change_url(step)).content.decode()
    assert "Gone (not in the catalogue)" in html


def test_refresh_catalogue_fetches_it_from_the_crm(sandbox_urls, admin_client):
    account = keap_account()
    _, step, _ = flow_with_step(account=account)
    html = admin_client.post(
        f"/admin/integrations/step/{step.pk}/refresh-catalogue/", follow=True
    ).content.decode()
    assert "Connected to Keap" in html
    assert ">Hot Lead</option>" in html


def test_the_step_exports_as_a_file(admin_client):
    step = keap_step()
    response = admin_client.get(f"/admin/integrations/step/{step.pk}/export/")
    assert response["Content-Disposition"].endswith('.leadflow.json"')
    assert response.json()["steps"][0]["name"] == step.name


def test_a_new_step_is_added_then_offers_its_account_catalogue(admin_client):
    account = keap_account(catalogue=keap_catalogue())
    flow, _, _ = flow_with_step(account=account)
    data = form_data(admin_client, None, "/admin/integrations/step/add/")  # its defaults
    data.update(
        {
            "flow": flow.pk,
            "position": 2,
            "name": "Keap again",
            "account": account.pk,
            "recipient": Recipient.KEAP_REST,
        }
    )
    response = admin_client.post("/admin/integrations/step/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    step = Step.objects.get(name="Keap again")
    assert step.rules == {}
    assert ">Hot Lead</option>" in admin_client.get(change_url(step)).content.decode()
    assert step_versions(step_id=step.pk)


def test_an_xmlrpc_step_picks_custom_fields_by_database_name(admin_client):
    step = keap_step(recipient=Recipient.KEAP_XMLRPC)
    html = admin_client.get(change_url(step)).content.decode()
    assert 'value="custom:_LeadScore"' in html
    assert "Follow-up sequences" in html and "Welcome Series" in html


def picker(html: str, name: str) -> str:
    """The `<select>` named `name`, its options included."""
    start = html.index(f'<select name="{name}"')
    return html[start : html.index("</select>", start)]


def test_every_catalogue_picker_is_a_type_ahead_over_the_same_select(admin_client):
    step = keap_step()
    TagRule.objects.create(step=step, tag_id="103", name="Hot Lead")
    CampaignRule.objects.create(step=step, kind="keap_sequence", item_id="45", sequence_id="1")
    html = admin_client.get(change_url(step)).content.decode()
    for name in (
        "mappings-0-target",
        "mappings-__prefix__-target",  # the row "Add another" copies
        "tag_rules-0-tag_id",
        "campaign_rules-0-entry",
        "manual__owner_id",
        "manual__lead_source_id",
        "manual__contact_type",
        "manual__source_type",
    ):
        assert 'class="catalogue-picker"' in picker(html, name), name
    # Each entry keeps its posted value and shows its CRM id beside its name.
    assert '<option value="103" selected data-ref="103">Hot Lead</option>' in picker(
        html, "tag_rules-0-tag_id"
    )
    assert '<option value="custom:7" data-ref="7">Lead Score' in picker(html, "mappings-0-target")
    assert '<option value="first_name">First Name' in picker(html, "mappings-0-target")
    assert 'data-ref="45 › 1">Lead Nurture › Welcome' in picker(html, "campaign_rules-0-entry")
    assert '<option value="Lead">Lead</option>' in picker(html, "manual__contact_type")
    # Django admin's own select2 and jQuery, and the set-up; nothing from elsewhere.
    for path in (
        "/static/admin/js/vendor/select2/select2.full.min.js",
        "/static/admin/css/vendor/select2/select2.min.css",
        "/static/admin/css/autocomplete.css",
        "/static/studio/catalogue_picker.js",
    ):
        assert path in html, path
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)


def test_a_yes_no_manual_field_stays_a_plain_select(admin_client):
    _, step, _ = flow_with_step(account=highlevel_account(), recipient=Recipient.HIGHLEVEL)
    html = admin_client.get(change_url(step)).content.decode()
    assert "catalogue-picker" not in picker(html, "manual__dnd")
    assert "catalogue-picker" in picker(html, "manual__assignedTo")


def test_an_xmlrpc_custom_field_shows_its_database_name_as_its_id(admin_client):
    step = keap_step(recipient=Recipient.KEAP_XMLRPC)
    html = admin_client.get(change_url(step)).content.decode()
    assert '<option value="custom:_LeadScore" data-ref="_LeadScore">' in html


def test_a_nested_group_of_rows_saves_and_shows_again(admin_client):
    step = keap_step()
    data = form_data(admin_client, step)
    data.update(
        {
            "tag_rules-TOTAL_FORMS": "1",
            "tag_rules-0-position": "1",
            "tag_rules-0-action": "apply",
            "tag_rules-0-tag_id": "103",
            "tag_rules-0-rules__match": "all",
            "tag_rules-0-rules__field_0": "lead.score",
            "tag_rules-0-rules__op_0": "gte",
            "tag_rules-0-rules__value_0": "80",
            "tag_rules-0-rules__1__match": "any",
            "tag_rules-0-rules__1__field_0": "lead.state",
            "tag_rules-0-rules__1__op_0": "eq",
            "tag_rules-0-rules__1__value_0": "TX",
            "tag_rules-0-rules__1__field_1": "lead.state",
            "tag_rules-0-rules__1__op_1": "eq",
            "tag_rules-0-rules__1__value_1": "CA",
        }
    )
    response = admin_client.post(change_url(step), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert TagRule.objects.get(step=step).rules == SCORE_AND_STATE

    again = form_data(admin_client, step)
    assert again["tag_rules-0-rules__1__match"] == "any"
    assert again["tag_rules-0-rules__1__value_1"] == "CA"
    # Posted back unchanged (a browser without script): the same rules.
    assert admin_client.post(change_url(step), again).status_code == 302
    assert TagRule.objects.get(step=step).rules == SCORE_AND_STATE


def test_a_wrong_condition_inside_a_group_is_shown_next_to_the_rules(admin_client):
    step = keap_step()
    data = form_data(admin_client, step)
    data.update(
        {
            "rules__match": "all",
            "rules__0__match": "any",
            "rules__0__field_0": "lead.state",
            "rules__0__op_0": "gte",
            "rules__0__value_0": "Texas",
        }
    )
    html = admin_client.post(change_url(step), data).content.decode()
    before_rows = html[: html.index('name="rules__match"')]
    row = before_rows[before_rows.rindex('class="form-row') :]  # the rules' own form row
    assert "Condition 1, condition 1: &#x27;is greater than or equal to&#x27; needs a number" in row
    assert 'name="rules__0__value_0" data-part="value" value="Texas"' in html  # kept
    step.refresh_from_db()
    assert step.rules == {}
