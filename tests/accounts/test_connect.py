"""Connect / reconnect through the CRM's consent page: the state is single-use and
bound to the session, and every failure says what happened and changes nothing."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model

from integrations.models import Account, AccountStatus, CrmKind
from tests.factories import connect, consent, oauth_account, raw_column, sandbox_fault

pytestmark = pytest.mark.django_db(transaction=True)


def unchanged(account: Account) -> bool:
    fresh = Account.objects.get(pk=account.pk)
    return (
        fresh.status == account.status
        and fresh.access_token == account.access_token
        and fresh.refresh_token == account.refresh_token
        and fresh.token_generation == account.token_generation
    )


def test_connect_sends_the_user_to_keaps_consent_page_with_a_fresh_state(crm, admin_client):
    account = oauth_account()
    response = admin_client.post(f"/oauth/connect/{account.pk}/")
    url = urlsplit(response["Location"])
    query = parse_qs(url.query)
    assert url.path == "/sandbox/keap/app/oauth/authorize"
    assert query["client_id"] == ["leadflow-sandbox-client"]
    assert query["response_type"] == ["code"] and query["scope"] == ["full"]
    assert query["redirect_uri"] == [f"{crm.url}/oauth/callback/"]
    again = parse_qs(urlsplit(admin_client.post(f"/oauth/connect/{account.pk}/")["Location"]).query)
    assert len(query["state"][0]) >= 32 and again["state"] != query["state"]


def test_allowing_access_stores_encrypted_tokens_and_shows_connected(crm, admin_client):
    account = oauth_account(name="Main Keap")
    page = admin_client.get(consent(admin_client, account), follow=True)
    account.refresh_from_db()
    assert account.status == AccountStatus.CONNECTED
    assert account.access_token and account.refresh_token and account.token_expires_at
    assert account.external_id == "sandbox.infusionsoft.com"  # the tenant from "full|<host>"
    assert account.token_generation == 1
    assert page.redirect_chain[-1][0] == f"/admin/integrations/account/{account.pk}/change/"
    assert "Connected to Keap (sandbox.infusionsoft.com)." in page.content.decode()
    # At rest the columns hold Fernet tokens, not the CRM's tokens.
    assert account.access_token not in raw_column(account, "access_token")
    assert account.refresh_token not in raw_column(account, "refresh_token")


def test_highlevel_consent_stores_the_chosen_location(crm, admin_client):
    account = oauth_account(CrmKind.HIGHLEVEL, name="HL")
    page = connect(admin_client, account)
    account.refresh_from_db()
    assert page.status_code == 302
    assert account.status == AccountStatus.CONNECTED
    assert account.external_id and account.refresh_token


def test_a_replayed_state_is_rejected_and_changes_nothing(crm, admin_client):
    account = oauth_account()
    callback = consent(admin_client, account)
    admin_client.get(callback)
    account.refresh_from_db()
    page = admin_client.get(callback, follow=True)
    assert "unknown or already used state" in page.content.decode()
    assert unchanged(account)


def test_a_forged_state_is_rejected_and_changes_nothing(crm, admin_client):
    account = oauth_account()
    callback = consent(admin_client, account)
    forged = callback.replace("state=", "state=x")
    page = admin_client.get(forged, follow=True)
    assert "unknown or already used state" in page.content.decode()
    assert unchanged(account)
    assert Account.objects.get(pk=account.pk).status == AccountStatus.NOT_CONNECTED


def test_a_state_issued_to_another_session_is_rejected(crm, admin_client, client):
    account = oauth_account()
    callback = consent(admin_client, account)
    other = get_user_model().objects.create_superuser("other", "o@example.com", "pw-12345678")
    client.force_login(other)
    page = client.get(callback, follow=True)
    assert "unknown or already used state" in page.content.decode()
    assert unchanged(account)


def test_a_missing_state_is_rejected_and_changes_nothing(crm, admin_client):
    account = oauth_account()
    callback = consent(admin_client, account)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    page = admin_client.get("/oauth/callback/", {"code": code}, follow=True)
    assert "had no state" in page.content.decode()
    assert unchanged(account)


def test_denied_consent_says_so_and_changes_nothing(crm, admin_client):
    account = oauth_account()
    page = admin_client.get(consent(admin_client, account, decision="deny"), follow=True)
    text = page.content.decode()
    assert "Keap access was denied on the consent page. The account was not changed." in text
    assert page.redirect_chain[-1][0] == f"/admin/integrations/account/{account.pk}/change/"
    assert unchanged(account)


def test_a_denial_with_an_empty_state_is_still_reported(crm, admin_client):
    # Keap sends `state=` empty on denial (crm-wire-spec §1.1, K11 #115).
    page = admin_client.get(
        "/oauth/callback/", {"state": "", "error": "access_denied"}, follow=True
    )
    assert "access was denied on the consent page" in page.content.decode()


def test_a_token_endpoint_error_says_so_and_changes_nothing(crm, admin_client, settings):
    account = oauth_account()
    callback = consent(admin_client, account)
    settings.KEAP_CLIENT_SECRET = "not-the-secret"  # Keap: 401 invalid_grant
    page = admin_client.get(callback, follow=True)
    assert "Keap: token endpoint refused (401 invalid_grant). The account was not changed." in (
        page.content.decode()
    )
    assert unchanged(account)


def test_a_token_endpoint_outage_says_so_and_changes_nothing(crm, admin_client):
    account = oauth_account()
    callback = consent(admin_client, account)
    sandbox_fault(crm, CrmKind.KEAP, status=503, target="token")
    page = admin_client.get(callback, follow=True)
    assert "token endpoint unavailable (503)" in page.content.decode()
    assert unchanged(account)


def test_reconnecting_replaces_the_tokens_and_bumps_the_generation(crm, admin_client):
    account = oauth_account()
    connect(admin_client, account)
    first = Account.objects.get(pk=account.pk)
    Account.objects.filter(pk=account.pk).update(status=AccountStatus.NEEDS_RECONNECT)
    connect(admin_client, account)
    second = Account.objects.get(pk=account.pk)
    assert second.status == AccountStatus.CONNECTED
    assert second.refresh_token != first.refresh_token
    assert second.token_generation == first.token_generation + 1


def test_only_staff_can_start_or_finish_a_connect(crm, client):
    account = oauth_account()
    user = get_user_model().objects.create_user("marta", password="pw-123456789")
    client.force_login(user)
    assert client.post(f"/oauth/connect/{account.pk}/")["Location"].startswith("/admin/login/")
    assert client.get("/oauth/callback/?state=x&code=y")["Location"].startswith("/admin/login/")


def test_connect_is_post_only(crm, admin_client):
    account = oauth_account()
    assert admin_client.get(f"/oauth/connect/{account.pk}/").status_code == 405
