"""Support staff, in a real browser, find a lead by email, see its failed delivery,
and replay it once the CRM works again; a marketer is not offered replay; an admin
finds the replay in the audit log."""

import os
import tempfile
from pathlib import Path

import pytest
import requests

from integrations.models import Delivery, Lead
from integrations.roles import ADMINS, MARKETERS, SUPPORT
from tests.factories import flow_with_step, staff_in_role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-role-password-5120"
SHOTS = Path(os.environ.get("LEADFLOW_SCREENSHOTS") or tempfile.mkdtemp(prefix="replay-shots-"))


def log_in(browser, server, role: str, username: str):
    staff_in_role(role, username, PASSWORD)
    page = browser.new_context().new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{server.url}/admin/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{server.url}/admin/")
    return page


def keap_faults(server, **spec) -> None:
    url = f"{server.url}/sandbox/keap/_control/faults"
    requests.post(url, json=spec, timeout=5).raise_for_status()


def test_support_replays_a_failed_lead_after_the_crm_is_fixed(crm, celery_worker, browser):
    flow, step, key = flow_with_step()
    keap_faults(crm, status=400, count=20, body={"message": "Invalid email"})  # Keap refuses
    answer = requests.post(
        f"{crm.url}/api/v1/flows/{flow.pk}/leads?wait=20",
        json={"first_name": "Fay", "last_name": "Ling", "email": "fay.ling@example.com"},
        headers={"X-Api-Key": key},
        timeout=40,
    )
    assert answer.json()["steps"][0]["outcome"] == "failure", answer.text
    delivery = Delivery.objects.get(step=step)

    page = log_in(browser, crm, SUPPORT, "sue")
    page.goto(f"{crm.url}/admin/integrations/lead/")
    page.fill("#searchbar", "fay.ling@example.com")
    page.press("#searchbar", "Enter")
    page.click(f"text={Lead.objects.get().pk}")
    page.wait_for_selector("text=failure")
    page.screenshot(path=SHOTS / "1-support-lead-failed.png", full_page=True)
    page.click(f"text=delivery #{delivery.pk}")
    page.wait_for_selector("a.replay-link")

    keap_faults(crm, reset=True)  # the CRM works again
    page.click("a.replay-link")
    page.wait_for_selector("input.replay-submit")
    page.screenshot(path=SHOTS / "2-support-replay-confirm.png", full_page=True)
    page.click("input.replay-submit")
    page.wait_for_selector(".replay-summary", timeout=60_000)  # the page refreshes itself
    assert "success: 1" in page.inner_text(".replay-progress")
    page.screenshot(path=SHOTS / "3-support-replay-done.png", full_page=True)

    page.goto(f"{crm.url}/admin/integrations/delivery/{delivery.pk}/change/")
    history = page.inner_text("#replay_items-group")
    assert "Failure" in history or "failure" in history  # the previous run, kept
    assert "Success" in history or "success" in history
    assert page.locator(".replay-attempt").count() >= 1
    assert "200" in page.inner_text(".replay-attempt >> nth=-1")
    page.screenshot(path=SHOTS / "4-support-delivery-history.png", full_page=True)
    delivery.refresh_from_db()
    assert delivery.outcome == "success"

    marketer = log_in(browser, crm, MARKETERS, "mark")
    assert "Deliveries" not in marketer.inner_text("#content")
    response = marketer.goto(f"{crm.url}/admin/integrations/delivery/{delivery.pk}/replay/")
    assert response.status == 403
    response = marketer.goto(f"{crm.url}/admin/integrations/delivery/")
    assert response.status == 403
    marketer.goto(f"{crm.url}/admin/")
    marketer.screenshot(path=SHOTS / "5-marketer-index.png", full_page=True)

    admin = log_in(browser, crm, ADMINS, "ada")
    admin.goto(f"{crm.url}/admin/integrations/auditentry/")
    row = admin.locator("#result_list tbody tr").first
    assert "sue" in row.inner_text() and "replay #" in row.inner_text()
    admin.screenshot(path=SHOTS / "6-admin-audit-log.png", full_page=True)
    print(f"screenshots: {SHOTS}")
