"""The account pages in the admin: Connect / Reconnect and Test connection buttons, the
catalogue shown readably, and the banner for accounts that need a reconnect."""

from unittest import mock

import pytest
from django.conf import settings

from integrations.admin.accounts import AccountForm
from integrations.models import Account, AccountStatus, AuthType, CrmKind
from tests.factories import connect, keap_account, oauth_account, sandbox_fault

pytestmark = pytest.mark.django_db(transaction=True)


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def change_page(client, account: Account) -> str:
    return page(client, f"/admin/integrations/account/{account.pk}/change/")


def test_an_oauth_account_page_offers_connect_then_reconnect(crm, admin_client):
    account = oauth_account()
    assert f'action="/oauth/connect/{account.pk}/"' in change_page(admin_client, account)
    assert ">Connect</button>" in change_page(admin_client, account)
    connect(admin_client, account)
    assert ">Reconnect</button>" in change_page(admin_client, account)


def test_an_api_key_account_page_has_no_connect_button_but_can_be_tested(admin_client):
    account = keap_account()
    html = change_page(admin_client, account)
    assert "/oauth/connect/" not in html
    assert f'action="/admin/integrations/account/{account.pk}/test-connection/"' in html


def test_the_banner_shows_on_the_index_list_and_account_pages_only_when_needed(admin_client):
    fine = oauth_account(name="Fine", status=AccountStatus.CONNECTED, access_token="t")
    broken = oauth_account(name="Broken Keap", status=AccountStatus.NEEDS_RECONNECT)
    for path in ("/admin/", "/admin/integrations/account/"):
        html = page(admin_client, path)
        assert "1 CRM account needs reconnecting" in html
        assert f'href="/admin/integrations/account/{broken.pk}/change/">Broken Keap</a>' in html
    assert "1 CRM account needs reconnecting" in change_page(admin_client, fine)
    Account.objects.filter(pk=broken.pk).update(status=AccountStatus.CONNECTED)
    assert "needs reconnecting" not in page(admin_client, "/admin/")
    assert "needs reconnecting" not in page(admin_client, "/admin/integrations/account/")


def test_test_connection_fetches_the_keap_catalogue_and_shows_it(crm, admin_client):
    account = keap_account()
    response = admin_client.post(
        f"/admin/integrations/account/{account.pk}/test-connection/", follow=True
    )
    html = response.content.decode()
    assert "Connected to Keap. Found 4 custom fields, 6 tags" in html
    account.refresh_from_db()
    catalogue = account.catalogue
    lead_score = {"id": 7, "name": "Lead Score", "field_name": "LeadScore", "type": "WholeNumber"}
    assert lead_score | {"options": []} in catalogue["custom_fields"]
    assert {"id": 100, "name": "New Lead", "category": "Lead Status"} in catalogue["tags"]
    assert catalogue["contact_types"] == ["Lead", "Prospect", "Customer", "Partner"]
    assert {"id": 1, "name": "Website"} in catalogue["lead_sources"]
    assert {
        "id": 45,
        "name": "Lead Nurture",
        "sequences": [{"id": 1, "name": "Welcome"}, {"id": 3, "name": "Follow-up Calls"}],
    } in catalogue["campaigns"]
    assert {"id": 2, "name": "Sam Sales", "email": "sam@sandbox.example"} in catalogue["owners"]
    # The XML-RPC recipient's pickers: legacy follow-up sequences and action sets.
    assert {"id": 200, "name": "Welcome Series"} in catalogue["followup_sequences"]
    assert {"id": 300, "name": "Hot lead"} in catalogue["action_sets"]
    assert account.catalogue_refreshed_at is not None
    # Shown readably: names with their ids, not a JSON blob.
    assert "Lead Score (7) — WholeNumber" in html
    assert "New Lead (100) — Lead Status" in html


def test_test_connection_through_oauth_uses_and_refreshes_the_token(crm, admin_client):
    account = oauth_account()
    connect(admin_client, account)
    sandbox_fault(crm, CrmKind.KEAP, expire_tokens=True)
    html = admin_client.post(
        f"/admin/integrations/account/{account.pk}/test-connection/", follow=True
    ).content.decode()
    assert "Connected to Keap." in html
    assert Account.objects.get(pk=account.pk).token_generation == 2


def test_test_connection_uses_the_credential_delivery_uses_not_a_leftover_api_key(
    crm, admin_client
):
    # An OAuth account that once had an API key keeps it in the row, though the form no
    # longer shows it: Test connection, like delivery, must send the OAuth token.
    account = oauth_account()
    connect(admin_client, account)
    Account.objects.filter(pk=account.pk).update(api_key="KeapAK-leftover-revoked-key")
    html = admin_client.post(
        f"/admin/integrations/account/{account.pk}/test-connection/", follow=True
    ).content.decode()
    # The leftover key is not a valid one: sending it would be "authentication rejected".
    assert "Connected to Keap." in html


def test_test_connection_reports_the_precise_failure(crm, admin_client):
    account = keap_account(api_key="KeapAK-wrong-key")
    html = admin_client.post(
        f"/admin/integrations/account/{account.pk}/test-connection/", follow=True
    ).content.decode()
    assert "Keap: authentication rejected (HTTP 401)." in html
    assert (
        Account.objects.get(pk=account.pk).last_error == "Keap: authentication rejected (HTTP 401)."
    )


def test_test_connection_reports_a_crm_outage(crm, admin_client):
    account = keap_account()
    sandbox_fault(crm, CrmKind.KEAP, status=503, target="rest")
    html = admin_client.post(
        f"/admin/integrations/account/{account.pk}/test-connection/", follow=True
    ).content.decode()
    assert "Keap: CRM server error (503)." in html


def test_test_connection_fetches_the_highlevel_catalogue(crm, admin_client):
    account = Account.objects.create(
        name="HL",
        crm=CrmKind.HIGHLEVEL,
        auth_type=AuthType.API_KEY,
        api_key=settings.SANDBOX_HIGHLEVEL_TOKEN,
        external_id=settings.SANDBOX_HIGHLEVEL_LOCATION_ID,
        status=AccountStatus.CONNECTED,
    )
    html = admin_client.post(
        f"/admin/integrations/account/{account.pk}/test-connection/", follow=True
    ).content.decode()
    assert "Connected to HighLevel." in html
    catalogue = Account.objects.get(pk=account.pk).catalogue
    for section in ("custom_fields", "workflows", "campaigns", "users"):
        assert catalogue[section] and all(item["id"] for item in catalogue[section]), section


def test_test_connection_is_post_only(admin_client):
    account = keap_account()
    response = admin_client.get(f"/admin/integrations/account/{account.pk}/test-connection/")
    assert response.status_code == 405


def test_saving_the_account_form_never_writes_back_tokens_rotated_meanwhile(admin_client):
    account = oauth_account(
        status=AccountStatus.CONNECTED, access_token="old-access", refresh_token="old-refresh"
    )
    clean = AccountForm.clean

    def a_worker_refreshes_meanwhile(form):
        Account.objects.filter(pk=account.pk).update(
            access_token="new-access", refresh_token="new-refresh", token_generation=1
        )
        return clean(form)

    form = {
        "name": "Renamed",
        "crm": "keap",
        "auth_type": "oauth",
        "phone_region": "US",
        "rate_limit_per_second": 10,
    }
    with mock.patch.object(AccountForm, "clean", a_worker_refreshes_meanwhile):
        response = admin_client.post(f"/admin/integrations/account/{account.pk}/change/", form)
    assert response.status_code == 302
    saved = Account.objects.get(pk=account.pk)
    assert saved.name == "Renamed"
    assert (saved.access_token, saved.refresh_token) == ("new-access", "new-refresh")
    assert saved.status == AccountStatus.CONNECTED
