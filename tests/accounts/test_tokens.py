"""The token lifecycle against the sandbox token endpoints: rotation, one refresh per
generation, rejected refresh tokens, outages and the periodic refresh."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from integrations.accounts.tokens import (
    TokenRefreshFailed,
    TokenRefreshRejected,
    account_token_refresh,
    accounts_refresh_expiring,
)
from integrations.models import Account, AccountStatus, CrmKind, Delivery, DeliveryStatus
from integrations.tasks import refresh_expiring_tokens
from tests.factories import (
    connect,
    flow_with_step,
    keap_refresh_grants,
    oauth_account,
    pending_delivery,
    sandbox_fault,
    sandbox_stats,
    spend_elsewhere,
)

pytestmark = pytest.mark.django_db(transaction=True)


def rejected_refreshes(live_server) -> int:
    return sandbox_stats(live_server, CrmKind.KEAP)["oauth"]["rejected_refresh_tokens"]


def test_a_refresh_rotates_both_tokens_and_bumps_the_generation(crm, keap):
    refreshed = account_token_refresh(account_id=keap.pk, seen_generation=keap.token_generation)
    stored = Account.objects.get(pk=keap.pk)
    assert stored.token_generation == keap.token_generation + 1 == refreshed.token_generation
    assert stored.access_token != keap.access_token
    assert stored.refresh_token != keap.refresh_token
    assert stored.token_expires_at > timezone.now() + timedelta(hours=23)
    assert keap_refresh_grants(crm) == 1


def test_a_refresh_for_an_old_generation_returns_the_new_token_without_asking(crm, keap):
    account_token_refresh(account_id=keap.pk, seen_generation=keap.token_generation)
    late = account_token_refresh(account_id=keap.pk, seen_generation=keap.token_generation)
    assert late.token_generation == keap.token_generation + 1
    assert keap_refresh_grants(crm) == 1 and rejected_refreshes(crm) == 0


def test_concurrent_refreshers_of_one_generation_refresh_exactly_once(crm, keap):
    sandbox_fault(crm, CrmKind.KEAP, latency_ms=300, target="token")  # widen the race
    barrier, results, errors = threading.Barrier(8), [], []

    def refresher():
        try:
            barrier.wait()
            account = account_token_refresh(
                account_id=keap.pk, seen_generation=keap.token_generation
            )
            results.append(account.access_token)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresher) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(results)) == 1 and len(results) == 8  # everyone got the same new token
    assert keap_refresh_grants(crm) == 1 and rejected_refreshes(crm) == 0


def test_a_rejected_refresh_token_marks_the_account_needs_reconnect(crm, keap):
    spend_elsewhere(crm, keap)
    with pytest.raises(TokenRefreshRejected):
        account_token_refresh(account_id=keap.pk, seen_generation=keap.token_generation)
    stored = Account.objects.get(pk=keap.pk)
    assert stored.status == AccountStatus.NEEDS_RECONNECT
    assert (
        stored.last_error == "refresh token rejected: token endpoint refused (400 invalid_request)"
    )
    # Asking again does not present the dead token a second time.
    with pytest.raises(TokenRefreshRejected):
        account_token_refresh(account_id=keap.pk, seen_generation=keap.token_generation)
    assert rejected_refreshes(crm) == 1


def test_a_token_endpoint_outage_is_transient_and_keeps_the_account_and_its_tokens(crm, keap):
    sandbox_fault(crm, CrmKind.KEAP, status=503, target="token")
    with pytest.raises(TokenRefreshFailed):
        account_token_refresh(account_id=keap.pk, seen_generation=keap.token_generation)
    stored = Account.objects.get(pk=keap.pk)
    assert stored.status == AccountStatus.CONNECTED
    assert stored.refresh_token == keap.refresh_token
    assert stored.token_generation == keap.token_generation
    # The refresh token was not spent: the next refresh works.
    account_token_refresh(account_id=keap.pk, seen_generation=keap.token_generation)
    assert keap_refresh_grants(crm) == 1


def test_highlevel_refresh_rotates_and_a_spent_token_is_rejected(crm, admin_client):
    account = oauth_account(CrmKind.HIGHLEVEL)
    connect(admin_client, account)
    account.refresh_from_db()
    account_token_refresh(account_id=account.pk, seen_generation=account.token_generation)
    # Put the spent refresh token back, as a lost update would: HighLevel refuses it.
    Account.objects.filter(pk=account.pk).update(token_generation=99)
    stale = Account.objects.get(pk=account.pk)
    stale.refresh_token = account.refresh_token
    stale.save(update_fields=["refresh_token"])
    with pytest.raises(TokenRefreshRejected):
        account_token_refresh(account_id=account.pk, seen_generation=99)
    stats = sandbox_stats(crm, CrmKind.HIGHLEVEL)
    assert stats["refreshes"] == 1 and stats["refreshes_rejected"] == 1
    assert Account.objects.get(pk=account.pk).status == AccountStatus.NEEDS_RECONNECT


def test_the_periodic_task_refreshes_only_tokens_expiring_within_the_hour(crm, admin_client):
    soon, later = oauth_account(name="soon"), oauth_account(name="later")
    connect(admin_client, soon)
    connect(admin_client, later)
    Account.objects.filter(pk=soon.pk).update(
        token_expires_at=timezone.now() + timedelta(minutes=30)
    )
    Account.objects.filter(pk=later.pk).update(token_expires_at=timezone.now() + timedelta(hours=5))
    before = {a.pk: a.token_generation for a in Account.objects.all()}
    assert refresh_expiring_tokens() == 1
    after = {a.pk: a.token_generation for a in Account.objects.all()}
    assert after[soon.pk] == before[soon.pk] + 1 and after[later.pk] == before[later.pk]
    assert accounts_refresh_expiring() == 0  # now fresh: nothing to do


def test_the_periodic_task_releases_deliveries_still_held_for_a_working_account(crm, keap):
    broken = oauth_account(name="broken", status=AccountStatus.NEEDS_RECONNECT)
    _, step, _ = flow_with_step(account=keap)
    _, broken_step, _ = flow_with_step(account=broken, flow_name="broken flow")
    # Held by a worker that decided "hold" just before the account was reconnected.
    raced = pending_delivery(step)
    waiting = pending_delivery(broken_step, "bob@example.com")
    Delivery.objects.filter(pk__in=[raced.pk, waiting.pk]).update(status=DeliveryStatus.HELD)
    refresh_expiring_tokens()
    assert Delivery.objects.get(pk=raced.pk).status == DeliveryStatus.PENDING
    assert Delivery.objects.get(pk=waiting.pk).status == DeliveryStatus.HELD
