"""The audit log lists configuration changes, role changes, replays, erasures and
reconnects with who and when, and holds no secrets and no lead data."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from integrations.models import AuditEntry
from integrations.replay.services import ReplayRequest, replay_create
from integrations.roles import ADMINS, MARKETERS, SUPPORT
from tests.factories import connect, failed_delivery, flow_with_step, oauth_account, staff_in_role

SECRET = "KeapAK-very-secret-value-0123456789"


@pytest.mark.django_db
def test_an_account_change_is_listed_with_who_and_never_the_secret(client):
    marketer = staff_in_role(MARKETERS, "mia")
    client.force_login(marketer)
    response = client.post(
        reverse("admin:integrations_account_add"),
        {
            "name": "Shop Keap",
            "crm": "keap",
            "auth_type": "api_key",
            "api_key": SECRET,
            "phone_region": "US",
            "rate_limit_per_second": 10,
        },
    )
    assert response.status_code == 302, response.content[:2000]

    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.actor_name) == ("config", marketer, "mia")
    assert "Shop Keap" in entry.summary and "added" in entry.summary
    assert SECRET not in str(list(AuditEntry.objects.values()))


@pytest.mark.django_db
def test_a_role_change_and_a_replay_are_listed_without_lead_data(client, admin_user):
    client.force_login(admin_user)
    support = Group.objects.get(name=SUPPORT)
    client.post(
        reverse("admin:auth_group_change", args=[support.pk]),
        {"name": "Support", "permissions": []},
    )
    flow, _, _ = flow_with_step()
    delivery = failed_delivery(flow, {"email": "private@example.com"})
    replay_create(
        user=admin_user,
        request=ReplayRequest(
            kind="filter",
            deliveries=type(delivery).objects.all(),
            description="with a search term",
        ),
    )

    actions = list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["roles", "replay"]
    assert "private@example.com" not in str(list(AuditEntry.objects.values()))
    assert "replay #" in AuditEntry.objects.get(action="replay").summary


@pytest.mark.django_db
def test_the_audit_log_is_for_admins(client):
    client.force_login(staff_in_role(ADMINS, "ada"))
    assert client.get(reverse("admin:integrations_auditentry_changelist")).status_code == 200
    client.force_login(staff_in_role(SUPPORT, "sam"))
    assert client.get(reverse("admin:integrations_auditentry_changelist")).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_reconnect_is_listed(crm, admin_client):
    account = oauth_account(name="Keap OAuth")
    connect(admin_client, account)
    entry = AuditEntry.objects.get(action="reconnect")
    assert entry.actor_name == "admin" and "Keap OAuth" in entry.summary
