"""Retention: old payloads, fields and attempt bodies are blanked; outcomes stay.
Erasure: every copy of a person's email or phone goes; the audit log says only that
an erasure happened."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from integrations.models import Attempt, AuditEntry, DailyCounter, Delivery, Lead, LeadRevision
from integrations.replay.services import lead_fields_revise
from integrations.retention.erase import ErasureError, person_erase
from integrations.retention.purge import retention_purge
from integrations.roles import ADMINS, SUPPORT
from tests.factories import failed_delivery, flow_with_step, staff_in_role

pytestmark = pytest.mark.django_db


def aged(delivery: Delivery, days: int) -> Delivery:
    then = timezone.now() - timedelta(days=days)
    Lead.objects.filter(pk=delivery.lead_id).update(received_at=then)
    Attempt.objects.filter(delivery=delivery).update(started_at=then)
    Attempt.objects.filter(delivery=delivery).update(url="https://crm.invalid/contacts?email=x")
    return delivery


@pytest.fixture
def history():
    flow, _, _ = flow_with_step()
    old = aged(failed_delivery(flow, {"email": "old@example.com", "first_name": "Ola"}), 120)
    old_success = aged(failed_delivery(flow, {"email": "won@example.com"}, outcome="success"), 95)
    recent = aged(failed_delivery(flow, {"email": "new@example.com"}), 10)
    return old, old_success, recent


def test_purge_blanks_old_personal_data_and_keeps_outcomes(history):
    old, old_success, recent = history
    lead_fields_revise(lead_id=old.lead_id, fields={"email": "o@example.com"}, user=None)

    counters = list(DailyCounter.objects.order_by("pk").values())
    assert counters

    report = retention_purge(dry_run=False)

    assert (report.leads, report.attempts, report.revisions) == (2, 2, 1)
    assert list(DailyCounter.objects.order_by("pk").values()) == counters
    for delivery in (old, old_success):
        lead = Lead.objects.get(pk=delivery.lead_id)
        assert (lead.payload, lead.fields, lead.email) == ({}, {}, "")
        attempt = delivery.attempts.get()
        assert (attempt.request_body, attempt.response_body) == ("", "")
        assert attempt.request_headers == {} and attempt.url == "https://crm.invalid/contacts"
        assert attempt.status_code in (200, 400)  # what happened stays
    old.refresh_from_db()
    old_success.refresh_from_db()
    assert (old.outcome, old.reason) == ("failure", "rejected by the CRM")
    assert (old_success.outcome, old_success.contact_id) == ("success", "1")
    assert LeadRevision.objects.get().before == {}
    kept = Lead.objects.get(pk=recent.lead_id)
    assert kept.payload == {"email": "new@example.com"} and recent.attempts.get().request_body
    # The delivery rows, and so every count over them, are all still there.
    assert Delivery.objects.count() == 3 and Lead.objects.count() == 3
    assert AuditEntry.objects.get().action == "retention"


def test_dry_run_counts_and_changes_nothing(history, settings):
    settings.RETENTION_BATCH = 1  # several batches
    report = retention_purge(dry_run=True)
    assert (report.leads, report.attempts) == (2, 2)
    assert not Lead.objects.filter(payload={}).exists()
    assert not AuditEntry.objects.exists()


def test_the_command_purges_in_batches_and_prints_one_summary(history, settings, capsys):
    settings.RETENTION_BATCH = 1
    call_command("retention_purge", "--dry-run")
    assert "would purge 2 leads" in capsys.readouterr().out
    call_command("retention_purge", "--days", "100")
    assert "purged 1 leads" in capsys.readouterr().out
    call_command("retention_purge")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "purged 1 leads" in out
    assert retention_purge(dry_run=False).total == 0  # nothing left: safe to repeat


def test_erase_removes_every_copy_of_an_email(history):
    old, _, recent = history
    flow = recent.lead.flow
    target = failed_delivery(flow, {"email": "Erin@Example.com", "phone_1": "(602) 555-0199"})
    lead_fields_revise(lead_id=target.lead_id, fields={"email": "erin@example.org"}, user=None)
    other = failed_delivery(flow, {"email": "someone@example.com"})
    # Another lead's CRM answer that names her (a shared contact).
    Attempt.objects.create(
        delivery=other,
        number=2,
        method="GET",
        url="https://crm.invalid/contacts?email=erin%40example.com",
        response_body='{"contacts": [{"email": "erin@example.com"}]}',
    )

    report = person_erase(email="erin@example.com", user=None)

    assert (report.leads, report.revisions, report.attempts) == (1, 1, 2)
    for model, columns in (
        (Lead, ["payload", "fields", "email"]),
        (LeadRevision, ["before", "after"]),
        (Attempt, ["request_body", "response_body", "request_headers", "response_headers", "url"]),
    ):
        for row in model.objects.values(*columns):
            assert "erin@example" not in str(row).lower(), (model, row)
    assert Lead.objects.get(pk=other.lead_id).payload == {"email": "someone@example.com"}
    entry = AuditEntry.objects.get(action="erasure")
    assert "erin" not in entry.summary.lower() and "1 lead" in entry.summary
    target.refresh_from_db()
    assert target.outcome == "failure"  # outcomes stay


def test_erase_by_phone_matches_any_format():
    flow, _, _ = flow_with_step()
    target = failed_delivery(flow, {"email": "p@example.com", "phone_1": "(602) 555-0199"})
    other = failed_delivery(flow, {"email": "q@example.com", "phone_1": "602 555 0100"})

    report = person_erase(phone="+1 602-555-0199", user=None)

    assert report.leads == 1
    assert Lead.objects.get(pk=target.lead_id).payload == {}
    assert Lead.objects.get(pk=other.lead_id).payload["phone_1"] == "602 555 0100"
    with pytest.raises(ErasureError):
        person_erase(phone="12", user=None)


def test_erase_page_is_for_admins_and_reports_what_it_touched(client):
    flow, _, _ = flow_with_step()
    failed_delivery(flow, {"email": "gone@example.com"})
    client.force_login(staff_in_role(SUPPORT, "sam"))
    assert client.get(reverse("admin:integrations_erase_person")).status_code == 403
    client.force_login(staff_in_role(ADMINS, "ada"))

    page = client.post(
        reverse("admin:integrations_erase_person"), {"email": "gone@example.com", "confirm": "on"}
    )

    assert b"erased 1 lead, 0 field revisions and 1 attempt" in page.content
    assert not Lead.objects.filter(email="gone@example.com").exists()
    entry = AuditEntry.objects.get(action="erasure")
    assert entry.actor == get_user_model().objects.get(username="ada")
