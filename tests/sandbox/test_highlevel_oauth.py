"""The HighLevel sandbox's OAuth: consent page, code exchange, rotating refresh tokens."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

API = "/sandbox/highlevel"
LOCATION = settings.SANDBOX_HIGHLEVEL_LOCATION_ID
REDIRECT = "https://app.example/oauth/callback"

pytestmark = pytest.mark.django_db


def consent_params(**overrides):
    params = {
        "response_type": "code",
        "client_id": settings.SANDBOX_HIGHLEVEL_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": "contacts.readonly contacts.write",
        "state": "xyz",
    }
    return {**params, **overrides}


def authorize(client, decision="allow"):
    response = client.post(
        f"{API}/oauth/chooselocation",
        {**consent_params(), "decision": decision, "location_id": LOCATION},
    )
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)


def token(client, as_json=False, **fields):
    body = {
        "client_id": settings.SANDBOX_HIGHLEVEL_CLIENT_ID,
        "client_secret": settings.SANDBOX_HIGHLEVEL_CLIENT_SECRET,
        **fields,
    }
    if as_json:
        return client.post(f"{API}/oauth/token", body, content_type="application/json")
    return client.post(f"{API}/oauth/token", body)  # form-encoded, as the spec says


def api_get(client, access_token):
    return client.get(
        f"{API}/users/",
        {"locationId": LOCATION},
        headers={"Authorization": f"Bearer {access_token}", "Version": "2021-07-28"},
    )


def test_the_consent_page_offers_the_sandbox_location(client):
    response = client.get(f"{API}/oauth/chooselocation", consent_params())
    assert response.status_code == 200
    html = response.content.decode()
    assert LOCATION in html
    assert 'value="allow"' in html and 'value="deny"' in html


def test_an_unknown_client_gets_an_error_page_not_a_redirect(client):
    response = client.get(f"{API}/oauth/chooselocation", consent_params(client_id="evil"))
    assert response.status_code == 400


def test_allow_redirects_with_a_code_and_the_state(client):
    query = authorize(client)
    assert query["state"] == ["xyz"]
    assert query["code"][0]


def test_deny_redirects_with_access_denied(client):
    assert authorize(client, "deny") == {"error": ["access_denied"], "state": ["xyz"]}


@pytest.mark.parametrize("as_json", [False, True])
def test_a_code_exchanges_for_a_location_token_that_works(client, as_json):
    code = authorize(client)["code"][0]
    response = token(
        client,
        as_json,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        user_type="Location",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86399
    assert body["userType"] == "Location"
    assert body["locationId"] == LOCATION
    assert body["refresh_token"] and body["refreshTokenId"] and body["userId"]
    assert api_get(client, body["access_token"]).status_code == 200


def test_a_code_is_single_use(client):
    code = authorize(client)["code"][0]
    assert token(client, grant_type="authorization_code", code=code).status_code == 200
    again = token(client, grant_type="authorization_code", code=code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_401(client):
    response = token(client, grant_type="refresh_token", refresh_token="x", client_secret="bad")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_missing_fields_are_422_with_a_message_array(client):
    response = client.post(f"{API}/oauth/token", {"grant_type": "password"})
    assert response.status_code == 422
    assert "client_id should not be empty" in response.json()["message"]


def test_refresh_rotates_and_a_spent_refresh_token_is_invalid_grant(client):
    code = authorize(client)["code"][0]
    first = token(client, grant_type="authorization_code", code=code).json()
    second = token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    reused = token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    stats = client.get(f"{API}/_control/stats").json()
    assert (stats["refreshes"], stats["refreshes_rejected"]) == (1, 1)


def test_expire_tokens_makes_access_tokens_401_until_refreshed(client):
    code = authorize(client)["code"][0]
    issued = token(client, grant_type="authorization_code", code=code).json()
    client.post(f"{API}/_control/faults", {"expire_tokens": True}, content_type="application/json")
    expired = api_get(client, issued["access_token"])
    assert expired.status_code == 401
    fresh = token(client, grant_type="refresh_token", refresh_token=issued["refresh_token"]).json()
    assert api_get(client, fresh["access_token"]).status_code == 200


def test_a_token_fault_targets_the_token_endpoint(client):
    client.post(
        f"{API}/_control/faults",
        {"status": 503, "target": "token"},
        content_type="application/json",
    )
    assert token(client, grant_type="refresh_token", refresh_token="x").status_code == 503
