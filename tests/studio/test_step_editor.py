"""The step editor: ids picked by name from the catalogue, rules edited as rows, manual
data as pickers, Check step and save-time flags, versions on every save."""

from __future__ import annotations

import re

import pytest

from integrations.models import CampaignRule, FieldMapping, Recipient, Step, TagRule
from integrations.studio.versions import step_versions
from tests.factories import flow_with_step, keap_account, keap_catalogue

pytestmark = pytest.mark.django_db


def keap_step(**fields) -> Step:
    account = keap_account(catalogue=keap_catalogue())
    _, step, _ = flow_with_step(account=account, **fields)
    return step


def change_url(step: Step) -> str:
    return f"/admin/integrations/step/{step.pk}/change/"


def form_data(client, step: Step, url: str = "") -> dict:
    """The change form's fields as the browser would post them back, unchanged."""
    html = client.get(url or change_url(step)).content.decode()
    data: dict = {}
    for tag in re.findall(r"<(?:input|select|textarea)[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="submit"' in tag or 'type="button"' in tag:
            continue
        name = name.group(1)
        if tag.startswith("<select"):
            block = html[html.index(tag) : html.index("</select>", html.index(tag))]
            chosen = re.findall(r'<option value="([^"]*)"[^>]*selected', block)
            data[name] = chosen[0] if chosen else ""
        elif 'type="checkbox"' in tag:
            if "checked" in tag:
                data.setdefault(name, [])
                value = re.search(r'value="([^"]*)"', tag)
                data[name] = [*data[name], value.group(1) if value else "on"]
        else:
            value = re.search(r'value="([^"]*)"', tag)
            data[name] = value.group(1) if value else ""
    return data


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
    page = admin_client.get("/admin/integrations/step/add/")
    assert page.status_code == 200
    data = {
        "flow": flow.pk,
        "position": 2,
        "name": "Keap again",
        "kind": "recipient",
        "enabled": "on",
        "account": account.pk,
        "recipient": Recipient.KEAP_REST,
        "action": "create_or_update",
        "duplicate_match": "Email",
        "address_type": "BILLING",
        "on_error": "continue",
        "rules__match": "all",
        **{
            f"{p}-{k}": v
            for p in ("mappings", "tag_rules", "campaign_rules")
            for k, v in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))
        },
    }
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
