"""Real worker processes, one Keap OAuth account: an expired token is refreshed exactly
once however many deliveries meet it, and a revoked refresh token holds deliveries
until a reconnect releases them."""

import pytest

from integrations.models import Account, AccountStatus, Attempt, CrmKind, Delivery, DeliveryStatus
from tests.factories import (
    accept_lead,
    connect,
    flow_with_step,
    sandbox_fault,
    sandbox_stats,
    spend_elsewhere,
    wait_until,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.worker,
    pytest.mark.usefixtures("celery_worker"),
]


def send_leads(step, count: int, prefix: str) -> None:
    for n in range(count):
        fields = {
            "first_name": "Storm",
            "last_name": f"Lead{n}",
            "email": f"{prefix}{n}@example.com",
        }
        accept_lead(step.flow, fields)


def settled(step, count: int, timeout: float = 60) -> list[Delivery]:
    """Wait until `count` deliveries of the step are done or held; return them all."""
    resting = (DeliveryStatus.DONE, DeliveryStatus.HELD)

    def check():
        found = list(Delivery.objects.filter(step=step, status__in=resting))
        return found if len(found) == count else None

    return wait_until(check, timeout=timeout)


def test_twenty_concurrent_deliveries_on_an_expired_token_refresh_it_exactly_once(crm, keap):
    _, step, _ = flow_with_step(account=keap, flow_name="Storm")
    sandbox_fault(crm, CrmKind.KEAP, expire_tokens=True)
    # A slow token endpoint keeps the one refresh in flight while the other workers
    # meet the expired token too.
    sandbox_fault(crm, CrmKind.KEAP, latency_ms=500, target="token")
    send_leads(step, 20, "storm")

    done = settled(step, 20)

    assert [(d.status, d.outcome) for d in done] == [("done", "success")] * 20
    oauth = sandbox_stats(crm, CrmKind.KEAP)["oauth"]
    assert oauth["refresh_grants"] == 1
    assert oauth["rejected_refresh_tokens"] == 0
    # The storm really happened: several deliveries were refused with the old token.
    refused = Attempt.objects.filter(delivery__step=step, status_code=401)
    assert refused.values("delivery").distinct().count() >= 2
    account = Account.objects.get(pk=keap.pk)
    assert account.token_generation == keap.token_generation + 1
    assert account.status == AccountStatus.CONNECTED


def test_a_revoked_refresh_token_holds_deliveries_and_a_reconnect_releases_them(
    crm, keap, admin_client
):
    _, step, _ = flow_with_step(account=keap, flow_name="Revoked")
    spend_elsewhere(crm, keap)
    sandbox_fault(crm, CrmKind.KEAP, expire_tokens=True)
    send_leads(step, 3, "held")

    held = settled(step, 3)

    assert [(d.status, d.outcome, d.reason) for d in held] == [
        ("held", "", "account needs reconnect")
    ] * 3
    account = Account.objects.get(pk=keap.pk)
    assert account.status == AccountStatus.NEEDS_RECONNECT
    assert account.last_error.startswith("refresh token rejected")
    assert sandbox_stats(crm, CrmKind.KEAP)["oauth"]["rejected_refresh_tokens"] == 1
    assert "1 CRM account needs reconnecting" in admin_client.get("/admin/").content.decode()

    reconnected = connect(admin_client, keap)
    assert reconnected.status_code == 302

    def all_done():
        return Delivery.objects.filter(step=step, status=DeliveryStatus.DONE).count() == 3

    wait_until(all_done, timeout=60)
    outcomes = list(Delivery.objects.filter(step=step).values_list("outcome", flat=True))
    assert outcomes == ["success"] * 3
    assert Account.objects.get(pk=keap.pk).status == AccountStatus.CONNECTED
    assert "needs reconnecting" not in admin_client.get("/admin/").content.decode()
