"""The lead and delivery lists at scale: exact searches on their own indexes, the
finished-date range the dashboard links to, capped counts; and the lead's journey."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.admin import listing
from integrations.models import Attempt, Outcome
from tests.factories import finished_delivery, flow_with_step

pytestmark = pytest.mark.django_db

DELIVERIES = "/admin/integrations/delivery/"
LEADS = "/admin/integrations/lead/"


@pytest.fixture
def rows():
    step = flow_with_step()[1]
    now = timezone.now()
    made = {}
    for days_ago, name in ((0, "ann"), (3, "bob"), (10, "cy")):
        made[name] = finished_delivery(
            step,
            outcome=Outcome.SUCCESS,
            email=f"{name}@example.com",
            contact_id=f"c-{name}",
            finished_at=now - timedelta(days=days_ago),
        )
    return made


def listed_ids(response) -> set[int]:
    return {d.pk for d in response.context["cl"].result_list}


def test_deliveries_are_found_by_exact_email_lead_id_or_contact_id(admin_client, rows):
    bob = rows["bob"]
    for term in ("BOB@example.com", str(bob.lead_id), "c-bob"):
        assert listed_ids(admin_client.get(DELIVERIES, {"q": term})) == {bob.pk}, term
    assert listed_ids(admin_client.get(DELIVERIES, {"q": "bo"})) == set()  # exact only


def test_leads_are_found_by_exact_email_lead_id_or_contact_id(admin_client, rows):
    bob = rows["bob"]
    for term in ("bob@example.com", str(bob.lead_id), "c-bob"):
        found = admin_client.get(LEADS, {"q": term}).context["cl"].result_list
        assert [lead.pk for lead in found] == [bob.lead_id], term


def test_the_finished_range_takes_inclusive_utc_days_or_datetimes(admin_client, rows):
    today = timezone.now().date()
    week = {"finished_from": str(today - timedelta(days=6)), "finished_to": str(today)}
    assert listed_ids(admin_client.get(DELIVERIES, week)) == {rows["ann"].pk, rows["bob"].pk}
    since = (timezone.now() - timedelta(hours=24)).isoformat()
    assert listed_ids(admin_client.get(DELIVERIES, {"finished_from": since})) == {rows["ann"].pk}


def test_the_list_is_newest_first_and_counts_are_capped(admin_client, rows, monkeypatch):
    response = admin_client.get(DELIVERIES)
    assert [d.pk for d in response.context["cl"].result_list] == sorted(
        (d.pk for d in rows.values()), reverse=True
    )
    monkeypatch.setattr(listing, "COUNT_CAP", 2)
    page = admin_client.get(DELIVERIES, {"outcome__exact": "success"}).content.decode()
    assert "more than 2 deliveries" in page


def test_the_lead_page_tells_the_journey_with_a_compact_call_timeline(admin_client, rows):
    delivery = rows["ann"]
    for number, status in ((1, 503), (2, 201)):
        Attempt.objects.create(
            delivery=delivery,
            number=number,
            method="POST",
            url="https://api.example.test/crm/rest/v1/contacts",
            request_headers={"Authorization": "[redacted]"},
            request_body='{"email_addresses":[{"email":"ann@example.com"}]}',
            status_code=status,
            response_body='{"id": 77}' if status == 201 else "busy",
            duration_ms=100 * number,
        )
    page = admin_client.get(f"/admin/integrations/lead/{delivery.lead_id}/change/").content
    page = page.decode()
    assert "Payload as received" in page and "Normalised fields" in page
    assert page.count('class="call ') == 2
    assert "try 2" in page and "/crm/rest/v1/contacts" in page and "200 ms" in page
    assert '"email_addresses": [\n    {' in page.replace("&quot;", '"')  # pretty-printed
    assert "c-ann" in page and "Success" in page
    assert 'name="attempts-TOTAL_FORMS"' not in page  # no stacked inline forms


def test_the_reason_filter_offers_recent_reasons_and_keeps_an_older_one_asked_for(
    admin_client, rows
):
    from integrations.health.counters import counters_record

    step = rows["ann"].step
    now = timezone.now()
    recent = finished_delivery(step, outcome=Outcome.FAILURE, reason="invalid email")
    old = finished_delivery(
        step, outcome=Outcome.ERROR, reason="HTTP 503", finished_at=now - timedelta(days=200)
    )
    for delivery in (recent, old):
        counters_record(delivery=delivery)

    def reason_choices(response) -> dict[str, bool]:
        spec = next(s for s in response.context["cl"].filter_specs if s.title == "reason")
        return {c["display"]: c["selected"] for c in spec.choices(response.context["cl"])}

    assert reason_choices(admin_client.get(DELIVERIES)) == {"All": True, "invalid email": False}
    asked = admin_client.get(DELIVERIES, {"reason": "HTTP 503"})
    assert reason_choices(asked)["HTTP 503"] is True
    assert listed_ids(asked) == {old.pk}
