"""No token, key or client secret ever shows up in logs, stored attempts, error messages
or admin pages — through connect, a 401 and refresh, a failed test connection and a
delivery with a bad key."""

import logging

import pytest
from django.conf import settings

from integrations.accounts.catalogue import account_connection_test
from integrations.models import Account, Attempt, CrmKind, Delivery
from tests.factories import (
    connect,
    flow_with_step,
    keap_account,
    oauth_account,
    pending_delivery,
    run,
    sandbox_fault,
)

pytestmark = pytest.mark.django_db(transaction=True)

CANARY_KEY = "KeapAK-CANARY-7f3e9b1c5d2a"


def everything_stored_in_attempts() -> str:
    return "\n".join(
        " ".join(str(v) for v in row)
        for row in Attempt.objects.values_list(
            "url", "request_headers", "request_body", "response_headers", "response_body", "error"
        )
    )


def test_tokens_keys_and_secrets_never_leak(crm, admin_client, caplog):
    caplog.set_level(logging.DEBUG)
    oauth = oauth_account(name="OAuth Keap")
    connect(admin_client, oauth)
    oauth.refresh_from_db()
    issued = {oauth.access_token, oauth.refresh_token}

    # A 401 on an expired token, a refresh, a retry: two generations of tokens in play.
    _, step, _ = flow_with_step(account=oauth)
    sandbox_fault(crm, CrmKind.KEAP, expire_tokens=True)
    assert run(pending_delivery(step)).outcome == "success"
    oauth.refresh_from_db()
    issued |= {oauth.access_token, oauth.refresh_token}
    assert account_connection_test(account_id=oauth.pk).ok

    # A key the CRM refuses: the failure paths must not quote it either.
    bad = keap_account(name="Canary Keap", api_key=CANARY_KEY)
    _, bad_step, _ = flow_with_step(account=bad, flow_name="Canary flow")
    assert run(pending_delivery(bad_step, "canary@example.com")).outcome == "error"
    check = account_connection_test(account_id=bad.pk)
    assert not check.ok

    pages = "\n".join(
        admin_client.get(path).content.decode()
        for path in (
            "/admin/",
            "/admin/integrations/account/",
            f"/admin/integrations/account/{oauth.pk}/change/",
            f"/admin/integrations/account/{bad.pk}/change/",
            *(f"/admin/integrations/delivery/{d.pk}/change/" for d in Delivery.objects.all()),
            *(f"/admin/integrations/lead/{d.lead_id}/change/" for d in Delivery.objects.all()),
        )
    )
    messages = " ".join(
        [check.message, *Account.objects.values_list("last_error", flat=True)]
        + list(Delivery.objects.values_list("reason", flat=True))
    )
    attempts = everything_stored_in_attempts()
    assert Attempt.objects.filter(status_code=401).count() >= 2  # both failure paths ran
    secrets = issued | {CANARY_KEY, settings.KEAP_CLIENT_SECRET}
    assert len(issued) == 4
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in attempts
        assert secret not in pages
        assert secret not in messages
