"""A staff member, in a real browser, logs in, connects a CRM account through the
CRM's consent page, and a lead sent to a flow on that account arrives."""

import pytest
import requests
from django.contrib.auth import get_user_model

from integrations.models import Account, AccountStatus, Delivery, Recipient
from tests.factories import flow_with_step, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-staff-password-4821"


def log_in(page, live_server) -> None:
    get_user_model().objects.create_superuser("staff", "staff@example.com", PASSWORD)
    page.goto(f"{live_server.url}/admin/")
    assert "/accounts/login/" in page.url  # the admin's login is allauth's
    page.fill("input[name=login]", "staff")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


def add_oauth_account(page, live_server, *, name: str, crm: str) -> Account:
    page.goto(f"{live_server.url}/admin/integrations/account/add/")
    page.fill("input[name=name]", name)
    page.select_option("select[name=crm]", crm)
    page.select_option("select[name=auth_type]", "oauth")
    page.click("input[name=_continue]")
    page.wait_for_selector("button.account-connect")
    account = Account.objects.get(name=name)
    assert account.status == AccountStatus.NOT_CONNECTED
    return account


def test_staff_connect_keap_in_the_browser_and_a_lead_arrives(crm, celery_worker, page):
    log_in(page, crm)
    account = add_oauth_account(page, crm, name="Browser Keap", crm="keap")

    page.click("button.account-connect")
    page.wait_for_selector("text=LeadFlow wants to access your Keap account")
    page.click("button[value=allow]")

    page.wait_for_selector("text=Connected to Keap (sandbox.infusionsoft.com).")
    assert page.inner_text(".account-status") == "Connected"
    assert page.url.endswith(f"/admin/integrations/account/{account.pk}/change/")

    flow, step, key = flow_with_step(account=account, recipient=Recipient.KEAP_REST)
    lead = {"first_name": "Bea", "last_name": "Rowser", "email": "bea.rowser@example.com"}
    answer = requests.post(
        f"{crm.url}/api/v1/flows/{flow.pk}/leads?wait=20",
        json=lead,
        headers={"X-Api-Key": key},
        timeout=40,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["steps"][0]["outcome"] == "success"
    assert Delivery.objects.get(step=step).outcome == "success"

    page.goto(f"{crm.url}/sandbox/keap/")  # the sandbox's own list of what arrived
    assert "bea.rowser@example.com" in page.content()


def test_staff_connect_highlevel_in_the_browser_and_test_the_connection(crm, page):
    log_in(page, crm)
    account = add_oauth_account(page, crm, name="Browser HighLevel", crm="highlevel")

    page.click("button.account-connect")
    page.wait_for_selector("button.allow")
    page.click("button.allow")

    page.wait_for_selector("text=Connected to HighLevel")
    assert page.inner_text(".account-status") == "Connected"
    account.refresh_from_db()
    assert account.status == AccountStatus.CONNECTED and account.external_id

    page.click("button.account-test-connection")
    page.wait_for_selector("text=Connected to HighLevel. Found")
    assert "Workflows (" in page.content()


def test_a_lead_reaches_a_highlevel_account_connected_in_the_browser(crm, celery_worker, page):
    log_in(page, crm)
    account = add_oauth_account(page, crm, name="HL delivery", crm="highlevel")
    page.click("button.account-connect")
    page.click("button.allow")
    page.wait_for_selector("text=Connected to HighLevel")

    flow, step, key = flow_with_step(account=account, recipient=Recipient.HIGHLEVEL)
    lead = {"first_name": "Hal", "last_name": "Evel", "email": "hal.evel@example.com"}
    requests.post(
        f"{crm.url}/api/v1/flows/{flow.pk}/leads", json=lead, headers={"X-Api-Key": key}, timeout=10
    ).raise_for_status()
    done = wait_until(lambda: Delivery.objects.filter(step=step, status="done").first(), timeout=30)
    assert done.outcome == "success", done.reason
    contacts = requests.get(
        f"{crm.url}/sandbox/highlevel/_control/contacts",
        params={"email": "hal.evel@example.com"},
        timeout=5,
    ).json()["contacts"]
    assert len(contacts) == 1
