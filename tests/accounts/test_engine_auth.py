"""The delivery engine and OAuth tokens, one delivery at a time in this process: refresh
before an expiring token is used, one refresh and one retry on a 401, and a hold when
the refresh token is refused."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import Account, AccountStatus, CrmKind, Recipient
from tests.factories import (
    connect,
    flow_with_step,
    keap_refresh_grants,
    oauth_account,
    pending_delivery,
    run,
    sandbox_fault,
    sandbox_stats,
    spend_elsewhere,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_token_about_to_expire_is_refreshed_before_the_call(crm, keap):
    Account.objects.filter(pk=keap.pk).update(
        token_expires_at=timezone.now() + timedelta(minutes=1)
    )
    _, step, _ = flow_with_step(account=keap)
    done = run(pending_delivery(step))
    assert (done.status, done.outcome) == ("done", "success")
    assert not done.attempts.filter(status_code=401).exists()  # no wasted call
    assert keap_refresh_grants(crm) == 1
    assert Account.objects.get(pk=keap.pk).token_generation == keap.token_generation + 1


def test_a_401_refreshes_once_and_sends_once_more(crm, keap):
    _, step, _ = flow_with_step(account=keap)
    sandbox_fault(crm, CrmKind.KEAP, expire_tokens=True)
    done = run(pending_delivery(step))
    assert (done.status, done.outcome) == ("done", "success")
    statuses = list(done.attempts.values_list("status_code", flat=True))
    assert statuses[0] == 401 and 401 not in statuses[1:]
    assert keap_refresh_grants(crm) == 1


def test_a_second_401_after_a_refresh_is_an_error_not_a_loop(crm, keap):
    _, step, _ = flow_with_step(account=keap)
    sandbox_fault(crm, CrmKind.KEAP, status=401, count=2, target="rest")
    done = run(pending_delivery(step))
    assert (done.status, done.outcome) == ("done", "error")
    assert done.reason == "authentication rejected"
    assert keap_refresh_grants(crm) == 1
    assert Account.objects.get(pk=keap.pk).status == AccountStatus.CONNECTED


def test_a_refused_refresh_token_holds_the_delivery_instead_of_failing_it(crm, keap):
    _, step, _ = flow_with_step(account=keap)
    spend_elsewhere(crm, keap)
    sandbox_fault(crm, CrmKind.KEAP, expire_tokens=True)
    held = run(pending_delivery(step))
    assert (held.status, held.outcome, held.reason) == ("held", "", "account needs reconnect")
    assert Account.objects.get(pk=keap.pk).status == AccountStatus.NEEDS_RECONNECT
    # The next one does not even try: it is held at once.
    later = run(pending_delivery(step, "bob@example.com"))
    assert later.status == "held" and not later.attempts.exists()


def test_a_token_endpoint_outage_retries_the_delivery_later(crm, keap):
    Account.objects.filter(pk=keap.pk).update(token_expires_at=timezone.now())
    _, step, _ = flow_with_step(account=keap)
    sandbox_fault(crm, CrmKind.KEAP, status=503, target="token")
    retried = run(pending_delivery(step))
    assert (retried.status, retried.reason) == ("pending", "token refresh failed")
    assert retried.next_attempt_at > timezone.now()
    assert Account.objects.get(pk=keap.pk).status == AccountStatus.CONNECTED


def test_a_highlevel_delivery_on_an_expired_token_refreshes_and_arrives(crm, admin_client):
    account = oauth_account(CrmKind.HIGHLEVEL)
    connect(admin_client, account)
    account.refresh_from_db()
    _, step, _ = flow_with_step(account=account, recipient=Recipient.HIGHLEVEL)
    sandbox_fault(crm, CrmKind.HIGHLEVEL, expire_tokens=True)
    done = run(pending_delivery(step, "hl@example.com"))
    assert (done.status, done.outcome) == ("done", "success"), done.reason
    assert done.attempts.first().status_code == 401
    assert sandbox_stats(crm, CrmKind.HIGHLEVEL)["refreshes"] == 1
    assert Account.objects.get(pk=account.pk).token_generation == account.token_generation + 1
