"""The Keap catalogue from the parts of the real API the sandbox does not emulate
(campaigns with their sequences, users), through `responses`: the same client, another
server at the configured URL."""

import xmlrpc.client

import pytest
import responses

from integrations.accounts.catalogue import account_connection_test
from integrations.models import Account
from tests.factories import keap_account

pytestmark = pytest.mark.django_db

API = "https://api.keap.example/crm"
V1 = f"{API}/rest/v1"


@responses.activate
def test_campaigns_with_sequences_owners_and_lead_sources_are_catalogued(settings):
    settings.KEAP_API_BASE_URL = API
    responses.get(f"{V1}/contacts/model", json={"custom_fields": [], "optional_properties": []})
    responses.get(f"{V1}/tags", json={"tags": [], "count": 0})
    responses.get(f"{V1}/setting/contact/optionTypes", json={"value": "Lead,Customer"})
    responses.get(f"{V1}/campaigns", json={"campaigns": [{"id": 45, "name": "Nurture"}]})
    responses.get(
        f"{V1}/campaigns/45",
        json={"id": 45, "name": "Nurture", "sequences": [{"id": 1, "name": "Welcome"}]},
    )
    responses.get(
        f"{V1}/users",
        json={
            "users": [
                {
                    "id": 9,
                    "given_name": "Sam",
                    "family_name": "Sales",
                    "email_address": "sam@example.com",
                }
            ]
        },
    )
    rows = [{"Id": 3, "Name": "Facebook Ads"}]
    responses.post(
        f"{API}/xmlrpc/v1",
        body=xmlrpc.client.dumps((rows,), methodresponse=True),
        content_type="text/xml",
    )
    account = keap_account(api_key="KeapAK-real-key")

    check = account_connection_test(account_id=account.pk)

    assert check.ok, check.message
    catalogue = Account.objects.get(pk=account.pk).catalogue
    assert catalogue["campaigns"] == [
        {"id": 45, "name": "Nurture", "sequences": [{"id": 1, "name": "Welcome"}]}
    ]
    assert catalogue["owners"] == [{"id": 9, "name": "Sam Sales", "email": "sam@example.com"}]
    assert catalogue["lead_sources"] == [{"id": 3, "name": "Facebook Ads"}]
    assert catalogue["contact_types"] == ["Lead", "Customer"]
    assert "unavailable" not in catalogue
    assert responses.calls[0].request.headers["X-Keap-API-Key"] == "KeapAK-real-key"
    [detail] = [c for c in responses.calls if "/campaigns/45" in c.request.url]
    assert "optional_properties=sequences" in detail.request.url
