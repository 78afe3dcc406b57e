"""A marketer builds a step in the browser — a custom field and a tag picked by name, a
rule "score ≥ 80 → tag Hot Lead" — previews a sample, sends test leads, and the
sandbox contact has what the step said; Check step flags an id the catalogue lacks; a
flow exported from one account imports into another with its ids re-matched by name.

Screenshots go to a temporary directory (STUDIO_SCREENSHOTS to keep them elsewhere)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from integrations.accounts.catalogue import account_connection_test
from integrations.models import Account, FieldMapping, Flow, Recipient, TagRule
from tests.browser.test_connect_in_browser import log_in
from tests.factories import SCORE_AND_STATE, flow_with_step, keap_account, keap_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("STUDIO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return shoot


def sandbox_contact(live_server, email: str) -> dict:
    answer = requests.get(
        f"{live_server.url}/sandbox/keap/_control/contacts", params={"email": email}, timeout=10
    )
    contacts = answer.json()["contacts"]
    assert len(contacts) == 1, contacts
    return contacts[0]


def set_rule_row(page, prefix: str, field: str, operator: str, value: str, index: int = 0) -> None:
    page.fill(f"input[name='{prefix}__field_{index}']", field)
    page.select_option(f"select[name='{prefix}__op_{index}']", operator)
    page.fill(f"input[name='{prefix}__value_{index}']", value)


def pick(page, name: str, typed: str) -> str:
    """Type part of a name into a catalogue picker (Django admin's select2) and take the
    one entry it finds. Returns the entry as the list showed it (name, then id)."""
    page.click(f"select[name='{name}'] + .select2-container .select2-selection")
    page.fill(".select2-container--open .select2-search__field", typed)
    found = page.locator(".select2-container--open .select2-results__option[role=option]")
    expect(found).to_have_count(1)
    shown = found.inner_text()
    page.keyboard.press("Enter")
    return " ".join(shown.split())


def picked(page, name: str) -> str:
    """What a catalogue picker shows as chosen."""
    shown = page.inner_text(f"select[name='{name}'] + .select2-container .select2-selection")
    return " ".join(shown.replace("×", "").split())


def test_a_marketer_builds_previews_and_tests_a_step(crm, page, shots):
    account = keap_account(name="Sandbox Keap")
    assert account_connection_test(account_id=account.pk).ok
    flow, step, _ = flow_with_step(account=account, recipient=Recipient.KEAP_REST)
    log_in(page, crm)

    page.goto(f"{crm.url}/admin/integrations/step/{step.pk}/change/")
    page.wait_for_selector("text=Pickers list the catalogue of")
    # A custom field found by typing part of its name: the lead's score into Keap's
    # "Lead Score" (id 7).
    assert pick(page, "mappings-0-target", "score") == "Lead Score (whole number) 7"
    assert page.input_value("select[name='mappings-0-target']") == "custom:7"
    page.select_option("select[name='mappings-0-value_kind']", "field")
    page.fill("input[name='mappings-0-source']", "score")
    # A tag, in a row added with "Add another", found by typing; gated by a rule:
    # score ≥ 80 and (state is TX or state is CA), the state a nested group.
    page.click("#tag_rules-group .add-row a")
    assert pick(page, "tag_rules-0-tag_id", "hot") == "Hot Lead 103"
    set_rule_row(page, "tag_rules-0-rules", "lead.score", "gte", "80")
    page.click("#tag_rules-0 .field-rules .rule-add-group")
    page.select_option("select[name='tag_rules-0-rules__1__match']", "any")
    set_rule_row(page, "tag_rules-0-rules__1", "lead.state", "eq", "TX")
    page.click("#tag_rules-0 .rule-nested .rule-add")
    set_rule_row(page, "tag_rules-0-rules__1", "lead.state", "eq", "CA", index=1)
    # The owner, found by typing, kept on existing contacts.
    assert pick(page, "manual__owner_id", "sam") == "Sam Sales 2"
    page.check("input[name='manual_keep__owner_id']")
    shots(page, "1-step-editor")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    shots(page, "2-step-saved")
    rule = TagRule.objects.get(step=step)
    assert (rule.tag_id, rule.name) == ("103", "Hot Lead")
    assert rule.rules == SCORE_AND_STATE
    # The saved page shows them again: the picks by name and id, the group as rows.
    assert picked(page, "mappings-0-target") == "Lead Score (whole number) 7"
    assert picked(page, "tag_rules-0-tag_id") == "Hot Lead 103"
    assert picked(page, "manual__owner_id") == "Sam Sales 2"
    assert page.input_value("select[name='tag_rules-0-rules__1__match']") == "any"
    assert page.input_value("input[name='tag_rules-0-rules__1__value_0']") == "TX"
    assert page.input_value("input[name='tag_rules-0-rules__1__value_1']") == "CA"

    # Preview a sample: the exact body, and which rule decided the tag.
    page.click("a.step-preview")
    page.fill(
        "textarea[name=sample]",
        "first_name: Pre\nemail: pre.view@example.com\nscore: 91\nstate: TX",
    )
    page.click("input[name=_preview]")
    page.wait_for_selector("#preview-result")
    shots(page, "3-preview")
    result = page.inner_text("#preview-result")
    assert "PUT" in result and "/rest/v1/contacts" in result
    assert '"custom_fields"' in result and '"content": 91' in result  # a whole number
    assert '"owner_id": 2' in result
    assert "POST" in result and '"tagIds"' in result and "103" in result
    assert "lead.score is greater than or equal to '80' (is '91'): yes" in result
    assert "lead.state is equal to 'TX' (is 'TX'): yes" in result  # in the group
    assert not requests.get(
        f"{crm.url}/sandbox/keap/_control/contacts",
        params={"email": "pre.view@example.com"},
        timeout=10,
    ).json()["contacts"]  # a preview sends nothing

    # Send test leads for real: score 91 in TX gets the tag; score 50 in TX, or 91 in
    # NY, does not.
    for email, score, state in (
        ("hot@example.com", "91", "TX"),
        ("cold@example.com", "50", "TX"),
        ("away@example.com", "91", "NY"),
    ):
        page.fill(
            "textarea[name=sample]",
            f"first_name: T\nemail: {email}\nscore: {score}\nstate: {state}",
        )
        page.click("input[name=_send]")
        page.wait_for_selector("#test-lead-result")
        assert page.inner_text(".test-outcome") == "success"
    shots(page, "4-test-lead")
    hot, cold = sandbox_contact(crm, "hot@example.com"), sandbox_contact(crm, "cold@example.com")
    assert 103 in hot["tag_ids"] and 103 not in cold["tag_ids"]
    assert 103 not in sandbox_contact(crm, "away@example.com")["tag_ids"]
    assert {"id": 7, "content": 91} in hot["custom_fields"]
    assert hot["owner_id"] == 2


def test_check_step_flags_an_id_the_catalogue_lacks(live_server, page, shots):
    crm = live_server  # no CRM call: the catalogue is the account's stored one
    account = keap_account(name="Sandbox Keap", catalogue=keap_catalogue())
    _, step, _ = flow_with_step(account=account)
    TagRule.objects.create(step=step, tag_id="4242", name="Deleted tag")
    log_in(page, crm)
    page.goto(f"{crm.url}/admin/integrations/step/{step.pk}/change/")
    page.click("button.step-check")
    page.wait_for_selector(".messagelist")
    shots(page, "5-check-step")
    assert "tags id 4242 is not in the account's catalogue" in page.inner_text(".messagelist")


def test_an_exported_flow_imports_against_another_catalogue(live_server, page, shots, tmp_path):
    crm = live_server  # no CRM call: catalogues are the accounts' stored ones
    source = keap_account(name="Prod Keap", catalogue=keap_catalogue())
    flow, step, _ = flow_with_step(account=source, flow_name="Web leads")
    TagRule.objects.create(step=step, tag_id="103", name="Hot Lead")
    TagRule.objects.create(step=step, tag_id="101", name="Website Inquiry")
    keap_account(
        name="Other Keap",
        catalogue=keap_catalogue(tags=[{"id": 903, "name": "Hot Lead"}]),
    )
    log_in(page, crm)
    page.goto(f"{crm.url}/admin/integrations/flow/{flow.pk}/change/")
    with page.expect_download() as download:
        page.click("a.flow-export")
    exported = tmp_path / "flow.json"
    download.value.save_as(exported)
    assert json.loads(exported.read_text())["flow"]["name"] == "Web leads"

    page.goto(f"{crm.url}/admin/integrations/flow/")
    page.click("a.flow-import")
    page.set_input_files("input[name=file]", str(exported))
    page.select_option(
        "select[name=account_keap]", label=str(Account.objects.get(name="Other Keap"))
    )
    page.click("input[name=_check]")
    page.wait_for_selector("#import-plan")
    shots(page, "6-import-check")
    assert "Website Inquiry" in page.inner_text(".import-unmatched")
    assert "Hot Lead — id 103 → 903" in page.inner_text(".import-matched")
    assert Flow.objects.count() == 1  # nothing saved yet
    page.click("input[name=_import]")
    page.wait_for_selector(".messagelist .success")
    shots(page, "7-imported")
    imported = Flow.objects.exclude(pk=flow.pk).get()
    assert [t.tag_id for t in imported.steps.get().tag_rules.all()] == ["903"]


def test_a_kept_owner_is_not_overwritten_on_an_existing_contact(crm, page, shots, settings):
    # Needs the recipients to honour StepPlan.preserve_fields (helper "ops").
    account = keap_account(name="Sandbox Keap")
    assert account_connection_test(account_id=account.pk).ok
    _, step, _ = flow_with_step(account=account, recipient=Recipient.KEAP_REST)
    existing = requests.post(
        f"{crm.url}/sandbox/keap/crm/rest/v1/contacts",
        json={"email_addresses": [{"email": "kept@example.com", "field": "EMAIL1"}], "owner_id": 1},
        headers={"X-Keap-API-Key": settings.SANDBOX_KEAP_API_KEY},
        timeout=10,
    )
    assert existing.status_code == 201, existing.text
    log_in(page, crm)
    page.goto(f"{crm.url}/admin/integrations/step/{step.pk}/change/")
    assert pick(page, "manual__owner_id", "sales") == "Sam Sales 2"
    page.check("input[name='manual_keep__owner_id']")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    page.click("a.step-preview")
    for email in ("kept@example.com", "fresh@example.com"):
        page.fill("textarea[name=sample]", f"first_name: K\nemail: {email}")
        page.click("input[name=_send]")
        page.wait_for_selector("#test-lead-result")
        assert page.inner_text(".test-outcome") == "success"
    shots(page, "8-kept-owner")
    assert sandbox_contact(crm, "kept@example.com")["owner_id"] == 1  # kept
    assert sandbox_contact(crm, "fresh@example.com")["owner_id"] == 2  # set on a new one


def test_without_script_the_pickers_are_plain_selects_and_rules_post_back(
    live_server, browser, shots
):
    crm = live_server  # no CRM call: the catalogue is the account's stored one
    account = keap_account(name="Sandbox Keap", catalogue=keap_catalogue())
    _, step, _ = flow_with_step(account=account)
    nested = {
        "match": "all",
        "conditions": [
            {"field": "lead.score", "operator": "gte", "value": "80"},
            {
                "match": "any",
                "conditions": [{"field": "lead.state", "operator": "eq", "value": "TX"}],
            },
        ],
    }
    TagRule.objects.create(step=step, tag_id="103", name="Hot Lead", rules=nested)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, crm)
        page.goto(f"{crm.url}/admin/integrations/step/{step.pk}/change/")
        assert page.locator(".select2-container").count() == 0
        page.select_option("select[name='mappings-0-target']", label="Lead Score (whole number)")
        page.select_option("select[name='mappings-0-value_kind']", "field")
        page.fill("input[name='mappings-0-source']", "score")
        page.fill("input[name='tag_rules-0-rules__1__field_1']", "lead.state")  # the blank row
        page.select_option("select[name='tag_rules-0-rules__1__op_1']", "eq")
        page.fill("input[name='tag_rules-0-rules__1__value_1']", "CA")
        shots(page, "9-without-script")
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
    finally:
        context.close()
    assert FieldMapping.objects.get(step=step, target="custom:7").source == "score"
    group = nested["conditions"][1]
    group["conditions"].append({"field": "lead.state", "operator": "eq", "value": "CA"})
    assert TagRule.objects.get(step=step).rules == nested
