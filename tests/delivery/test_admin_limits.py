"""The account page shows its rate limits, the quota the CRM says is left, and a pause
with its Resume button; every admin page shows a banner while an account is paused."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.delivery.ratelimit import QuotaGate, account_limit_key, account_quotas
from integrations.models import Delivery, DeliveryStatus
from tests.factories import accept_lead, flow_with_step, keap_account

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_account_page_shows_quotas_in_force_and_what_the_crm_says_is_left(admin_client):
    account = keap_account(rate_limit_per_minute=120)
    gate = QuotaGate(key=account_limit_key(account), quotas=account_quotas(account))
    gate.after_call(
        status=200,
        headers={
            "x-keap-product-throttle-limit": "240",
            "x-keap-product-throttle-available": "17",
            "x-keap-product-throttle-time-unit": "minute",
        },
    )
    page = admin_client.get(reverse("admin:integrations_account_change", args=[account.pk]))
    text = page.content.decode()
    assert "In force: 10 per second, 120 per minute, 30,000 per UTC day" in text
    assert "published: 10/s, 240/min, 30,000/day" in text
    assert "minute: 17 of 240 left" in text


def test_a_paused_account_shows_a_banner_and_resume_releases_its_deliveries(admin_client):
    account = keap_account(paused_at=timezone.now(), pause_reason="every delivery failed for 1 h")
    flow, _, _ = flow_with_step(account=account)
    delivery = accept_lead(flow, {"email": "h@example.com"}, enqueue=False).deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.HELD)
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert "1 CRM account paused." in index and "every delivery failed for 1 h" in index
    page = admin_client.get(reverse("admin:integrations_account_change", args=[account.pk]))
    assert b"account-resume" in page.content
    response = admin_client.post(reverse("admin:integrations_account_resume", args=[account.pk]))
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.paused_at is None and account.pause_reason == ""
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING
    assert "account paused" not in admin_client.get(reverse("admin:index")).content.decode()
