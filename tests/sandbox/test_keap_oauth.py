"""The Keap sandbox's OAuth2: consent page, code exchange, rotating single-use refresh
tokens, and the counters tests of the product rely on (crm-wire-spec.md §1.1)."""

import base64
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

BASE = "/sandbox/keap"
REDIRECT = "https://leadflow.example/oauth/keap/callback"


def authorize_params(**extra):
    return {
        "client_id": settings.SANDBOX_KEAP_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "full",
        "state": "xyz",
        **extra,
    }


def basic(client_id=None, secret=None):
    client_id = client_id or settings.SANDBOX_KEAP_CLIENT_ID
    pair = f"{client_id}:{secret or settings.SANDBOX_KEAP_CLIENT_SECRET}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def get_code(client, **extra):
    response = client.post(
        f"{BASE}/app/oauth/authorize", {**authorize_params(**extra), "decision": "allow"}
    )
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)["code"][0]


def post_form(client, form, headers=None):
    """The token endpoint takes application/x-www-form-urlencoded, as OAuth clients send."""
    return client.post(
        f"{BASE}/token",
        urlencode(form),
        content_type="application/x-www-form-urlencoded",
        headers=headers or {},
    )


def exchange(client, code, **overrides):
    form = {
        "client_id": settings.SANDBOX_KEAP_CLIENT_ID,
        "client_secret": settings.SANDBOX_KEAP_CLIENT_SECRET,
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        **overrides,
    }
    return post_form(client, form)


def refresh(client, token, headers=None):
    form = {"grant_type": "refresh_token", "refresh_token": token}
    return post_form(client, form, basic() if headers is None else headers)


def stats(client):
    return client.get(f"{BASE}/_control/stats").json()


def test_the_consent_page_names_the_app_and_offers_allow_and_deny(client):
    page = client.get(f"{BASE}/app/oauth/authorize", authorize_params())
    assert page.status_code == 200
    html = page.content.decode()
    assert "LeadFlow wants to access your Keap account" in html
    assert 'value="allow"' in html and 'value="deny"' in html


@pytest.mark.parametrize(
    "bad", [{"client_id": "nope"}, {"response_type": "token"}, {"scope": "contacts"}]
)
def test_the_consent_page_refuses_bad_client_response_type_or_scope(client, bad):
    assert client.get(f"{BASE}/app/oauth/authorize", authorize_params(**bad)).status_code == 400


def test_allow_redirects_with_code_and_state(client):
    response = client.post(
        f"{BASE}/app/oauth/authorize", {**authorize_params(), "decision": "allow"}
    )
    query = parse_qs(urlsplit(response["Location"]).query)
    assert response["Location"].startswith(REDIRECT + "?")
    assert query["state"] == ["xyz"] and query["code"][0]


def test_deny_redirects_with_access_denied(client):
    response = client.post(
        f"{BASE}/app/oauth/authorize", {**authorize_params(), "decision": "deny"}
    )
    assert response.status_code == 302
    assert response["Location"] == (
        f"{REDIRECT}?state=xyz&error=access_denied&error_description=User+denied+access+to+resource"
    )


def test_code_exchange_returns_keaps_token_shape(client):
    response = exchange(client, get_code(client))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86400
    assert body["scope"] == "full|sandbox.infusionsoft.com"
    assert body["access_token"] and body["refresh_token"]
    contacts = client.get(
        f"{BASE}/crm/rest/v1/contacts",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert contacts.status_code == 200


def test_codes_are_single_use_and_bound_to_the_redirect_uri(client):
    code = get_code(client)
    assert exchange(client, code, redirect_uri="https://evil.example/cb").status_code == 400
    assert exchange(client, code).status_code == 200
    again = exchange(client, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_code_exchange_with_bad_client_credentials_is_401(client):
    response = exchange(client, get_code(client), client_secret="wrong")
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Unable to authenticate username and password",
    }


def test_code_exchange_refuses_an_authorization_header(client):
    form = {
        "client_id": settings.SANDBOX_KEAP_CLIENT_ID,
        "client_secret": settings.SANDBOX_KEAP_CLIENT_SECRET,
        "code": get_code(client),
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
    }
    assert post_form(client, form, basic()).status_code == 401


def test_refresh_rotates_and_the_old_refresh_token_is_then_rejected(client):
    first = exchange(client, get_code(client)).json()
    rotated = refresh(client, first["refresh_token"])
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != first["refresh_token"]
    reused = refresh(client, first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json() == {
        "error": "invalid_request",
        "error_description": "Invalid Refresh Token",
    }


def test_stats_count_refreshes_rejections_and_presentations_per_token(client):
    first = exchange(client, get_code(client)).json()
    second = refresh(client, first["refresh_token"]).json()
    refresh(client, first["refresh_token"])
    refresh(client, "never-issued")
    oauth = stats(client)["oauth"]
    assert oauth["refresh_grants"] == 1
    assert oauth["rejected_refresh_tokens"] == 2
    assert oauth["refresh_tokens"][first["refresh_token"]] == {"presented": 2, "used": True}
    assert oauth["refresh_tokens"][second["refresh_token"]] == {"presented": 0, "used": False}
    assert oauth["code_exchanges"] == 1
    assert stats(client)["oauth_calls"] == {"POST token": 4, "POST app/oauth/authorize": 1}


def test_the_token_endpoint_wants_a_form_encoded_body(client):
    form = {"grant_type": "authorization_code", "code": get_code(client)}
    response = client.post(f"{BASE}/token", form, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_refresh_needs_http_basic_client_auth(client):
    token = exchange(client, get_code(client)).json()["refresh_token"]
    assert refresh(client, token, headers={}).status_code == 401
    assert refresh(client, token, headers=basic(secret="wrong")).status_code == 401
    assert refresh(client, token).status_code == 200  # the failed tries did not spend it


def test_expired_access_tokens_get_the_expired_fault_and_refresh_fixes_it(client):
    tokens = exchange(client, get_code(client)).json()
    client.post(f"{BASE}/_control/faults", {"expire_tokens": True}, content_type="application/json")
    url = f"{BASE}/crm/rest/v1/tags"
    expired = client.get(url, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert expired.status_code == 401
    assert (
        expired.json()["fault"]["detail"]["errorcode"]
        == "keymanagement.service.access_token_expired"
    )
    fresh = refresh(client, tokens["refresh_token"]).json()["access_token"]
    assert client.get(url, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_token_ttl_is_configurable_for_new_tokens(client):
    client.post(f"{BASE}/_control/faults", {"token_ttl": 60}, content_type="application/json")
    assert exchange(client, get_code(client)).json()["expires_in"] == 60


def test_an_injected_fault_can_target_the_token_endpoint(client):
    client.post(
        f"{BASE}/_control/faults",
        {"status": 503, "target": "token"},
        content_type="application/json",
    )
    token = exchange(client, get_code(client))
    assert token.status_code == 503
    assert exchange(client, get_code(client)).status_code == 200
