"""Test connection spends the account's rate limit like a delivery does: its catalogue
calls take the account's quota slots, and a 429 it meets pauses the account's
deliveries too. Against the Keap sandbox with its own limits on (10 calls/s per key)."""

import pytest

from integrations.accounts.catalogue import account_connection_test
from integrations.delivery.ratelimit import account_limit_key, ratelimit_status
from integrations.models import CrmKind
from tests.factories import keap_account, sandbox_fault, sandbox_stats

pytestmark = pytest.mark.django_db(transaction=True)


def test_test_connection_twice_in_a_row_stays_within_keaps_spike_arrest(crm):
    account = keap_account()

    first = account_connection_test(account_id=account.pk)
    second = account_connection_test(account_id=account.pk)

    assert first.ok, first.message
    assert second.ok, second.message
    stats = sandbox_stats(crm, CrmKind.KEAP)
    assert sum(stats["api_calls"].values()) + sum(stats["xmlrpc_calls"].values()) > 10
    assert "429" not in stats["responses"]


def test_a_429_met_by_test_connection_pauses_the_accounts_deliveries(crm):
    account = keap_account()
    sandbox_fault(crm, CrmKind.KEAP, status=429, retry_after=30, count=1)

    check = account_connection_test(account_id=account.pk)

    assert not check.ok
    assert "rate limited by CRM (429)" in check.message
    assert ratelimit_status(key=account_limit_key(account)).paused_for > 20
