"""Each staff group reaches exactly its pages and actions; the rest answers 403."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management.sql import emit_post_migrate_signal
from django.urls import reverse

from integrations.roles import ADMINS, MARKETERS, ROLES, SUPPORT
from tests.factories import failed_delivery, flow_with_step, staff_in_role

pytestmark = pytest.mark.django_db

CONFIG = ["account", "flow", "source", "step"]
HISTORY = ["lead", "delivery", "replay"]
ADMIN_ONLY = ["auditentry"]
PAGES = {
    **{f"admin:integrations_{m}_changelist": m for m in CONFIG + HISTORY + ADMIN_ONLY},
    "admin:admin_logentry_changelist": "logentry",
    "admin:auth_user_changelist": "user",
    "admin:auth_group_changelist": "group",
    "admin:integrations_erase_person": "erase",
}
REACHES = {
    MARKETERS: set(CONFIG),
    SUPPORT: set(CONFIG + HISTORY),
    ADMINS: set(PAGES.values()),
}


@pytest.mark.parametrize("role", [MARKETERS, SUPPORT, ADMINS])
def test_each_group_reaches_exactly_its_pages(client, role):
    client.force_login(staff_in_role(role))
    reached = set()
    for url_name, page in PAGES.items():
        status = client.get(reverse(url_name)).status_code
        assert status in (200, 403), (url_name, status)
        if status == 200:
            reached.add(page)
    assert reached == REACHES[role]


@pytest.mark.parametrize(
    ("role", "may_add_account"), [(MARKETERS, True), (SUPPORT, False), (ADMINS, True)]
)
def test_configuration_is_read_only_for_support(client, role, may_add_account):
    client.force_login(staff_in_role(role))
    flow, step, _ = flow_with_step()
    add = client.get(reverse("admin:integrations_account_add"))
    assert add.status_code == (200 if may_add_account else 403)
    change = client.get(reverse("admin:integrations_step_change", args=[step.pk]))
    assert change.status_code == 200
    assert (b'name="_save"' in change.content) == may_add_account
    if not may_add_account:
        post = client.post(reverse("admin:integrations_step_change", args=[step.pk]), {})
        assert post.status_code == 403


@pytest.mark.parametrize("role", [SUPPORT, ADMINS])
def test_the_replay_action_and_buttons_are_offered_to_those_who_may_replay(client, role):
    client.force_login(staff_in_role(role))
    flow, _, _ = flow_with_step()
    delivery = failed_delivery(flow, {"email": "ann@example.com"})
    listing = client.get(reverse("admin:integrations_delivery_changelist"))
    assert b'value="replay_selected"' in listing.content
    assert b"Replay failures matching these filters" in listing.content
    page = client.get(reverse("admin:integrations_delivery_change", args=[delivery.pk]))
    assert b'class="replay-link"' in page.content


def test_a_marketer_cannot_replay_or_see_history(client):
    client.force_login(staff_in_role(MARKETERS))
    flow, _, _ = flow_with_step()
    delivery = failed_delivery(flow, {"email": "ann@example.com"})
    for url in (
        reverse("admin:delivery_replay", args=[delivery.pk]),
        reverse("admin:delivery_replay_all"),
        reverse("admin:integrations_delivery_change", args=[delivery.pk]),
        reverse("admin:integrations_lead_change", args=[delivery.lead_id]),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("admin:delivery_replay", args=[delivery.pk])).status_code == 403
    index = client.get(reverse("admin:index"))
    assert b"/admin/integrations/delivery/" not in index.content
    assert b"/admin/integrations/flow/" in index.content


def test_support_without_the_replay_permission_gets_403(client):
    user = staff_in_role(SUPPORT)
    Group.objects.get(name=SUPPORT).permissions.remove(
        Permission.objects.get(codename="replay_delivery")
    )
    client.force_login(user)
    flow, _, _ = flow_with_step()
    delivery = failed_delivery(flow, {"email": "ann@example.com"})
    assert client.get(reverse("admin:delivery_replay", args=[delivery.pk])).status_code == 403
    listing = client.get(reverse("admin:integrations_delivery_changelist"))
    assert listing.status_code == 200 and b"replay_selected" not in listing.content


def test_roles_are_re_applied_after_every_migrate():
    support = Group.objects.get(name=SUPPORT)
    support.permissions.clear()
    Group.objects.get(name=MARKETERS).delete()

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert support.permissions.filter(codename="replay_delivery").exists()
    assert Group.objects.get(name=MARKETERS).permissions.filter(codename="change_flow").exists()
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)
    admins = Group.objects.get(name=ADMINS).permissions
    assert admins.filter(codename="erase_person").exists()
    assert admins.filter(codename="change_user").exists()
