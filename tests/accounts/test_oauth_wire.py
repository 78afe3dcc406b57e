"""The token requests on the wire, per CRM dialect (crm-wire-spec §1.1, §6.2), and how
token-endpoint answers are classified. `responses` stands in for any OAuth server at
the configured URLs: the client has no sandbox-only path."""

import base64
import logging
from urllib.parse import parse_qs

import pytest
import responses

from integrations.accounts.oauth import (
    OAuthError,
    oauth_authorize_url,
    oauth_code_exchange,
    oauth_token_refresh,
)

KEAP_TOKEN = "https://api.keap.example/token"
HL_TOKEN = "https://services.hl.example/oauth/token"


@pytest.fixture(autouse=True)
def remote_servers(settings):
    settings.KEAP_TOKEN_URL = KEAP_TOKEN
    settings.KEAP_AUTHORIZE_URL = "https://accounts.keap.example/app/oauth/authorize"
    settings.KEAP_CLIENT_ID, settings.KEAP_CLIENT_SECRET = "keap-id", "keap-secret"
    settings.HIGHLEVEL_TOKEN_URL = HL_TOKEN
    settings.HIGHLEVEL_CLIENT_ID, settings.HIGHLEVEL_CLIENT_SECRET = "hl-id", "hl-secret"


def keap_token(**extra):
    return {
        "access_token": "AT-1",
        "token_type": "bearer",
        "expires_in": 86400,
        "refresh_token": "RT-1",
        "scope": "full|tenant.infusionsoft.com",
        **extra,
    }


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


@responses.activate
def test_keap_code_exchange_sends_the_client_as_form_fields_and_no_authorization_header():
    responses.post(KEAP_TOKEN, json=keap_token())
    tokens = oauth_code_exchange(crm="keap", code="C0DE", redirect_uri="https://lf.example/cb/")
    [call] = responses.calls
    assert "Authorization" not in call.request.headers
    assert form(call) == {
        "grant_type": "authorization_code",
        "code": "C0DE",
        "redirect_uri": "https://lf.example/cb/",
        "client_id": "keap-id",
        "client_secret": "keap-secret",
    }
    assert (tokens.access_token, tokens.refresh_token) == ("AT-1", "RT-1")
    assert tokens.external_id == "tenant.infusionsoft.com"


@responses.activate
def test_keap_refresh_uses_basic_auth_and_keeps_the_client_out_of_the_body():
    responses.post(KEAP_TOKEN, json=keap_token(access_token="AT-2", refresh_token="RT-2"))
    tokens = oauth_token_refresh(crm="keap", refresh_token="RT-1")
    [call] = responses.calls
    expected = "Basic " + base64.b64encode(b"keap-id:keap-secret").decode()
    assert call.request.headers["Authorization"] == expected
    assert form(call) == {"grant_type": "refresh_token", "refresh_token": "RT-1"}
    assert tokens.refresh_token == "RT-2"  # rotated


@responses.activate
def test_highlevel_sends_client_credentials_and_user_type_as_form_fields_on_both_grants():
    body = {"access_token": "A", "refresh_token": "R", "expires_in": 86399, "locationId": "L1"}
    responses.post(HL_TOKEN, json=body)
    responses.post(HL_TOKEN, json={**body, "refresh_token": "R2"})
    exchanged = oauth_code_exchange(crm="highlevel", code="C", redirect_uri="https://lf/cb/")
    refreshed = oauth_token_refresh(crm="highlevel", refresh_token="R")
    first, second = responses.calls
    for call in (first, second):
        assert "Authorization" not in call.request.headers
        fields = form(call)
        assert (fields["client_id"], fields["client_secret"]) == ("hl-id", "hl-secret")
        assert fields["user_type"] == "Location"
    assert form(first)["grant_type"] == "authorization_code" and form(first)["code"] == "C"
    assert form(second)["grant_type"] == "refresh_token" and form(second)["refresh_token"] == "R"
    assert exchanged.external_id == "L1" and refreshed.refresh_token == "R2"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error": "invalid_request", "error_description": "Invalid Refresh Token"}),
        (400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}),
        (401, {"error": "invalid_grant", "error_description": "Unable to authenticate"}),
    ],
)
@responses.activate
def test_both_keap_refresh_error_shapes_count_as_rejected(status, body):
    responses.post(KEAP_TOKEN, json=body, status=status)
    with pytest.raises(OAuthError) as error:
        oauth_token_refresh(crm="keap", refresh_token="RT-1")
    assert error.value.rejected
    assert error.value.reason == f"token endpoint refused ({status} {body['error']})"


@pytest.mark.parametrize("status", [429, 500, 503])
@responses.activate
def test_throttling_and_server_errors_are_transient(status):
    responses.post(KEAP_TOKEN, body="<html>oops</html>", status=status)
    with pytest.raises(OAuthError) as error:
        oauth_token_refresh(crm="keap", refresh_token="RT-1")
    assert not error.value.rejected


@responses.activate
def test_a_refresh_answer_without_a_new_refresh_token_keeps_the_old_one():
    responses.post(KEAP_TOKEN, json={"access_token": "AT-2", "expires_in": 60})
    assert oauth_token_refresh(crm="keap", refresh_token="RT-1").refresh_token == "RT-1"


def test_plain_http_token_endpoints_are_refused_except_on_loopback(settings):
    settings.KEAP_TOKEN_URL = "http://keap.example/token"
    with pytest.raises(OAuthError, match="https"):
        oauth_token_refresh(crm="keap", refresh_token="RT-1")


def test_the_authorize_url_carries_client_redirect_scope_and_state(settings):
    settings.HIGHLEVEL_AUTHORIZE_URL = "https://market.hl.example/oauth/chooselocation"
    url = oauth_authorize_url(crm="highlevel", redirect_uri="https://lf/cb/", state="S")
    query = {k: v[0] for k, v in parse_qs(url.split("?", 1)[1]).items()}
    assert query["client_id"] == "hl-id" and query["state"] == "S"
    assert query["response_type"] == "code" and query["redirect_uri"] == "https://lf/cb/"
    assert "contacts.write" in query["scope"].split()


@responses.activate
def test_debug_logging_never_shows_tokens_or_the_client_secret(caplog):
    caplog.set_level(logging.DEBUG)
    responses.post(KEAP_TOKEN, json=keap_token(access_token="AT-SECRET", refresh_token="RT-NEW"))
    tokens = oauth_token_refresh(crm="keap", refresh_token="RT-OLD")
    logged = caplog.text + repr(tokens)
    for secret in ("AT-SECRET", "RT-NEW", "RT-OLD", "keap-secret"):
        assert secret not in logged
